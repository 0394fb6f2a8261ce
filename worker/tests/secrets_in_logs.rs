//! No configured secret reaches the logs: a whole flow (tokens, a webhook endpoint and its
//! rotation, a capture judged and delivered, a client secret rotated, a capture purged, bad
//! credentials refused) runs with every log line of producer, worker and dispatcher captured
//! at debug level (trace for the service's own crates), then the capture is searched for
//! every secret the stack was given or handed out. A test binary of its own, so that its
//! global log subscriber sees only this flow.

mod support;

use serde_json::Value;
use std::io::Write;
use std::sync::Mutex;
use support::receiver::Receiver;
use support::*;

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    let filter = "debug,liveness_producer=trace,liveness_worker=trace,liveness_pipeline=trace,\
                  liveness_webhooks=trace,tract_core=info,tract_onnx=info,tract_hir=info,\
                  tract_linalg=info";
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(|| Capture)
        .with_ansi(false)
        .init();
}

/// The key material of a `KEY_ID=BASE64URL` entry.
fn material(entry: &str) -> String {
    entry.split_once('=').unwrap().1.to_string()
}

async fn token(stack: &Stack, client_id: &str, secret: &str) -> (u16, Value) {
    token_at(&stack.client, &stack.base, client_id, secret).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_flow_logs_none_of_the_secrets() {
    capture_logs();
    let stack = Stack::start().await;
    // What a service that logs its configuration at start-up would print.
    tracing::info!(producer = ?stack.producer_config, worker = ?stack.worker_config, "configuration");

    let tenant = liveness_pipeline::db::tenants::create(&stack.db, "logs", 0.5)
        .await
        .unwrap();
    let client_id = tenant.tenant.client_id.clone();
    let (status, body) = token(&stack, &client_id, &tenant.client_secret).await;
    assert_eq!(status, 200, "{body}");
    let client = Client {
        tenant_id: tenant.tenant.id,
        token: body["access_token"].as_str().unwrap().to_string(),
    };
    assert_eq!(token(&stack, &client_id, "lvs_a-wrong-secret").await.0, 401);

    let receiver = Receiver::start().await;
    let (endpoint, webhook_secret) = stack.add_endpoint(&client, &receiver.url()).await;
    let path = format!("/api/v3/webhooks/endpoints/{endpoint}/rotate");
    let (status, rotated) = stack.call(&client, "POST", &path).await;
    assert_eq!(status, 200, "{rotated}");
    let rotated_webhook_secret = rotated["secret"].as_str().unwrap().to_string();

    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let form = form(packet)
        .text("citizen_id", "CIT-LOGS-1")
        .text("return_id", "true");
    let (status, body) = stack.submit(&client, form, &[]).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_i64().unwrap();
    receiver.wait_for_event("liveness.completed").await;

    let rotated_client_secret = liveness_pipeline::db::tenants::rotate_secret(
        &stack.db,
        tenant.tenant.id,
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(
        token(&stack, &client_id, &rotated_client_secret).await.0,
        200
    );
    let path = format!("/api/v3/biometrics/liveness/{id}/capture");
    assert_eq!(stack.call(&client, "DELETE", &path).await.0, 200);

    let secrets = [
        ("JWT_SECRET", stack.jwt_secret.clone()),
        ("LIVENESS_STORAGE_KEYS", material(&stack.storage_key)),
        ("LIVENESS_WEBHOOK_KEYS", material(&stack.webhook_key)),
        ("LIVENESS_PSEUDONYM_KEY", material(&stack.pseudonym_key)),
        ("the capture private key", stack.key.to_base64()),
        (
            "S3_SECRET_KEY",
            secrecy::ExposeSecret::expose_secret(&stack.worker_config.storage.secret_key)
                .to_string(),
        ),
        ("a client secret", tenant.client_secret.clone()),
        ("a rotated client secret", rotated_client_secret),
        ("a webhook secret", webhook_secret),
        ("a rotated webhook secret", rotated_webhook_secret),
    ];
    stack.stop().await;
    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).to_string();
    assert!(
        logs.lines().count() > 100 && logs.contains("webhook delivered"),
        "the capture saw the flow ({} lines)",
        logs.lines().count()
    );
    for (what, secret) in &secrets {
        assert!(secret.len() >= 12, "{what} is long enough to search for");
        if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
            panic!("{what} is in the logs: {line}");
        }
    }
}
