//! Schemathesis (PyPI) against the served OpenAPI document with a valid token: generated
//! requests on every operation, no 5xx, every response documented and matching its schema.
//! Bounded (examples per operation, seed fixed) so it fits in CI.

mod support;

use std::process::Command;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_documented_answers_and_never_5xx() {
    let stack = Stack::start().await;
    let client = stack.client("schema").await;
    let python = std::env::var("LIVENESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let schema = stack.url("/api/v3/openapi.json");
    let report = std::env::temp_dir().join(format!("schemathesis-{}.xml", std::process::id()));
    let out = tokio::task::spawn_blocking(move || {
        // Its cache (found crashes) goes to a temporary folder, not into the checkout.
        Command::new(python)
            .current_dir(std::env::temp_dir())
            .args(["-m", "schemathesis.cli", "run", &schema])
            .args(["--header", &format!("Authorization: Bearer {}", client.token)])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                "--seed",
                "20261128",
                "--phases",
                "examples,coverage,fuzzing",
                "--workers",
                "2",
            ])
            .arg("--report-junit-path")
            .arg(&report)
            .output()
            .expect("python runs (scripts/lib/env.sh sets LIVENESS_PYTHON)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stack.stop().await;
}
