//! `bench`: measurements printed as tables, each comparison made side by side in one run.

mod engine;
mod model_sets;
mod pipeline;
mod profile;
mod same_face;
mod storage;
mod table;
mod torch;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bench", about = "Liveness benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The face-analysis engine against onnxruntime (Python) on the same models and images.
    Engine(engine::Args),
    /// The whole pipeline (producer, worker, PostgreSQL, RabbitMQ, S3) against the engine alone.
    Pipeline(pipeline::Args),
    /// What signing each body's SHA-256 costs the S3 client and server.
    Storage(storage::Args),
    /// Per-operator time profile of each model in tract.
    Profile(profile::Args),
    /// Calibration of the `same_face` capture check on jittered bursts of the samples.
    SameFace(same_face::Args),
    /// Internal: load every model, analyse the images once, print peak RSS in KiB.
    #[command(hide = true)]
    Rss(engine::RssArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Pipeline(args) => tokio::runtime::Runtime::new()?.block_on(pipeline::run(args)),
        Command::Storage(args) => tokio::runtime::Runtime::new()?.block_on(storage::run(args)),
        Command::Engine(args) => engine::run(args),
        Command::Profile(args) => profile::run(args),
        Command::SameFace(args) => same_face::run(args),
        Command::Rss(args) => engine::rss(args),
    }
}
