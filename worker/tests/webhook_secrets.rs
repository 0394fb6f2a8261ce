//! Webhook signing secrets at rest: the database holds none in plaintext, deliveries still
//! verify with the official Standard Webhooks libraries (Python and Node.js), also after the
//! webhook key is rotated, and rows written before encryption are sealed at start-up.

mod support;

use liveness_pipeline::storage::at_rest::StorageKeys;
use liveness_webhooks::secrets::{reseal, Reseal};
use liveness_webhooks::Dispatcher;
use serde_json::Value;
use support::receiver::{verify, Receiver};
use support::*;

/// Every column of the endpoint's row, as text, for looking for a secret in it.
async fn raw_row(stack: &Stack, endpoint: i64) -> String {
    sqlx::query_scalar::<_, Value>("SELECT to_jsonb(e) FROM webhook_endpoints e WHERE id = $1")
        .bind(endpoint)
        .fetch_one(&stack.db)
        .await
        .unwrap()
        .to_string()
}

/// The secret in every form a dump could show it: as text, and its key bytes as base64,
/// hex (how PostgreSQL prints bytea) and as they are.
fn leaks(row: &str, secret: &str) -> bool {
    use base64::Engine as _;
    let key = secret.strip_prefix("whsec_").unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    row.contains(key)
        || row.contains(&hex)
        || row.contains(&String::from_utf8_lossy(&bytes).to_string())
}

/// Judges everything queued with a worker that delivers nothing, then delivers with a
/// dispatcher holding exactly `keys`.
async fn deliver_with(stack: &Stack, keys: &StorageKeys, ids: &[i64]) -> usize {
    let mut config = stack.worker_config.clone();
    config.webhooks = None;
    let worker = LateWorker::start(config).await;
    for id in ids {
        wait_for("the verdict", || async {
            stack.verdict_count(*id).await == 1
        })
        .await;
    }
    worker.stop().await;
    Dispatcher::new(stack.db.clone(), test_dispatcher(), keys.clone())
        .unwrap()
        .run_once()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_sealed_at_rest_and_survive_a_key_rotation() {
    let stack = Stack::without_worker().await;
    let client = stack.client("sealed").await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = stack.add_endpoint(&client, &receiver.url()).await;

    let row = raw_row(&stack, endpoint).await;
    assert!(!leaks(&row, &secret), "the secret is readable in {row}");
    let (plain, key_id): (Option<String>, String) =
        sqlx::query_as("SELECT secret, secret_key_id FROM webhook_endpoints WHERE id = $1")
            .bind(endpoint)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!((plain, key_id.as_str()), (None, "e2e-webhook"));

    // Delivered and verified under the key it was sealed with.
    let old_keys = stack.producer_config.webhook_keys.clone();
    let first = stack.submit_live_async(&client, 1).await[0];
    assert_eq!(deliver_with(&stack, &old_keys, &[first]).await, 1);
    assert_eq!(verify(&[&secret], &receiver.received()), vec![vec![0]]);

    // A new key first, the old one still listed; every row resealed under the new one.
    let new_entry = StorageKeys::generate_entry("e2e-webhook-2");
    let both = StorageKeys::parse(&format!("{new_entry},{}", stack.webhook_key)).unwrap();
    assert_eq!(
        reseal(&stack.db, &both, Reseal::NotUnderCurrentKey, 10)
            .await
            .unwrap(),
        1
    );
    let row = raw_row(&stack, endpoint).await;
    assert!(!leaks(&row, &secret), "the secret is readable in {row}");
    assert!(row.contains(r#""secret_key_id":"e2e-webhook-2""#), "{row}");
    // Nothing left under the old key: a second pass reseals nothing.
    assert_eq!(
        reseal(&stack.db, &both, Reseal::NotUnderCurrentKey, 10)
            .await
            .unwrap(),
        0
    );

    // The old key can go: a dispatcher with only the new one signs, and the receiver's
    // secret, which never changed, still verifies.
    let new_only = StorageKeys::parse(&new_entry).unwrap();
    let second = stack.submit_live_async(&client, 1).await[0];
    assert_eq!(deliver_with(&stack, &new_only, &[second]).await, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(verify(&[&secret], &received[1..]), vec![vec![0]]);

    // A dispatcher without the key does not sign with anything else: the attempt fails,
    // naming the key, and the message waits for a retry.
    let third = stack.submit_live_async(&client, 1).await[0];
    assert_eq!(deliver_with(&stack, &old_keys, &[third]).await, 1);
    assert_eq!(receiver.received().len(), 2);
    let (status, last_error): (String, String) = sqlx::query_as(
        "SELECT status::text, last_error FROM webhook_messages WHERE transaction_id = $1",
    )
    .bind(third)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(status, "pending");
    assert!(last_error.contains("e2e-webhook-2"), "{last_error}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_secrets_from_before_are_sealed_when_a_service_starts() {
    let stack = Stack::without_worker().await;
    let client = stack.client("legacy").await;
    let receiver = Receiver::start().await;
    // A row as the service wrote it before secrets were encrypted, mid-rotation.
    let (current, previous) = (
        liveness_webhooks::signing::generate_secret(),
        liveness_webhooks::signing::generate_secret(),
    );
    let endpoint: i64 = sqlx::query_scalar(
        "INSERT INTO webhook_endpoints (tenant_id, url, secret, previous_secret, previous_expires_at)
         VALUES ($1, $2, $3, $4, now() + interval '1 hour') RETURNING id",
    )
    .bind(client.tenant_id)
    .bind(receiver.url())
    .bind(&current)
    .bind(&previous)
    .fetch_one(&stack.db)
    .await
    .unwrap();

    // A worker starting up seals it before it does anything else.
    let id = stack.submit_live_async(&client, 1).await[0];
    let mut config = stack.worker_config.clone();
    config.webhooks = None;
    let worker = LateWorker::start(config).await;
    let row = raw_row(&stack, endpoint).await;
    assert!(!leaks(&row, &current) && !leaks(&row, &previous), "{row}");
    wait_for("the verdict", || async {
        stack.verdict_count(id).await == 1
    })
    .await;
    worker.stop().await;

    let keys = stack.producer_config.webhook_keys.clone();
    let delivered = Dispatcher::new(stack.db.clone(), test_dispatcher(), keys)
        .unwrap()
        .run_once()
        .await
        .unwrap();
    assert_eq!(delivered, 1);
    // Both secrets still sign, each verifying on its own.
    assert_eq!(
        verify(&[&current, &previous], &receiver.received()),
        vec![vec![0, 1]]
    );
    stack.stop().await;
}
