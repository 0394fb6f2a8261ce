//! The producer deployable. It is wired up by the pipeline issue; until then it only says so,
//! rather than pretending to serve.

fn main() -> std::process::ExitCode {
    eprintln!(
        "liveness-producer {}: not available yet (the pipeline is being built)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::from(2)
}
