//! Schemathesis (PyPI) against the served OpenAPI document, once with a tenant token and once
//! with a capture token (which most routes refuse with 403): generated requests on every
//! operation, no 5xx, every response documented and matching its schema. Bounded (examples
//! per operation, seed fixed) so it fits in CI.

mod support;

use std::process::Command;
use support::*;

async fn schemathesis(stack: &Stack, token: String, max_examples: u32) {
    let python = std::env::var("LIVENESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let schema = stack.url("/api/v3/openapi.json");
    let report = std::env::temp_dir().join(format!(
        "schemathesis-{}-{max_examples}.xml",
        std::process::id()
    ));
    let out = tokio::task::spawn_blocking(move || {
        // Its cache (found crashes) goes to a temporary folder, not into the checkout.
        Command::new(python)
            .current_dir(std::env::temp_dir())
            .args(["-m", "schemathesis.cli", "run", &schema])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples",
                &max_examples.to_string(),
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_documented_answers_and_never_5xx() {
    let stack = Stack::start().await;
    let client = stack.client("schema").await;
    schemathesis(&stack, client.token, 25).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_token_gets_documented_answers_everywhere() {
    let stack = Stack::start().await;
    let client = stack.client("schema-capture").await;
    let browser = stack.browser(&client).await;
    schemathesis(&stack, browser.token, 8).await;
    stack.stop().await;
}
