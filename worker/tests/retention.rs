//! Data retention: captures really leave the S3 server, verdicts and reports stay.

mod support;

use liveness_pipeline::storage::{Storage, StorageError};
use reqwest::multipart::Part;
use serde_json::Value;
use std::time::Duration;
use support::*;

async fn keys(stack: &Stack, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT packet_key, selfie_key FROM transactions WHERE id = $1")
        .bind(id)
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

async fn object_exists(storage: &Storage, key: &str) -> bool {
    match storage.get(key).await {
        Ok(_) => true,
        Err(StorageError::NotFound(_)) => false,
        Err(e) => panic!("S3 server: {e}"),
    }
}

async fn submit_with_metadata(stack: &Stack, client: &Client) -> i64 {
    let nonce = stack.nonce(client).await;
    let (packet, frames) = stack.packet("silentface_image_T1.jpg", &nonce);
    let form = form(packet)
        .part(
            "selfie",
            Part::bytes(frames[1].clone()).file_name("selfie.jpg"),
        )
        .text("citizen_id", "CIT-12345")
        .text("device", "Pixel 9 / build 42")
        .text("return_id", "true");
    let (status, body) = stack.submit(client, form, &[]).await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_i64().unwrap()
}

async fn delete_capture(stack: &Stack, client: &Client, id: i64) -> (u16, Value) {
    let path = format!("/api/v3/biometrics/liveness/{id}/capture");
    stack.call(client, "DELETE", &path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_deleted_on_request_keeps_the_verdict() {
    let stack = Stack::start().await;
    let storage = Storage::new(&stack.worker_config.storage);
    let client = stack.client("dsr").await;
    let id = submit_with_metadata(&stack, &client).await;
    let kept = submit_with_metadata(&stack, &client).await;
    let (packet_key, selfie_key) = keys(&stack, id).await;
    let selfie_key = selfie_key.expect("the worker kept the selfie it chose");
    assert!(object_exists(&storage, &packet_key).await);
    assert!(object_exists(&storage, &selfie_key).await);
    let (_, before) = stack.lookup(&client, id).await;

    // Not someone else's to delete.
    let other = stack.client("other").await;
    assert_eq!(delete_capture(&stack, &other, id).await.0, 404);
    assert!(object_exists(&storage, &packet_key).await);

    let (status, body) = delete_capture(&stack, &client, id).await;
    assert_eq!(status, 200, "{body}");
    let purged_at = body["capture_purged_at"].as_str().unwrap().to_string();
    assert!(!object_exists(&storage, &packet_key).await);
    assert!(!object_exists(&storage, &selfie_key).await);
    let selfie_path = format!("/api/v3/biometrics/liveness/{id}/selfie");
    let (status, body) = stack.call(&client, "GET", &selfie_path).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (410, Some("capture_purged")),
        "{body}"
    );
    // The other transaction's capture is untouched.
    assert!(object_exists(&storage, &keys(&stack, kept).await.0).await);

    let (_, after) = stack.lookup(&client, id).await;
    assert_eq!(after["valid"], before["valid"]);
    assert_eq!(after["api_response"], before["api_response"]);
    assert_eq!(after["capture_purged_at"], purged_at.as_str());
    assert!(after["note"].as_str().unwrap().contains("deleted"));

    let (citizen, device): (String, String) =
        sqlx::query_as("SELECT citizen_id, device FROM transactions WHERE id = $1")
            .bind(id)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert!(citizen.starts_with("hmac:e2e-pseudonym:") && !citizen.contains("CIT"));
    assert!(device.starts_with("hmac:e2e-pseudonym:") && !device.contains("Pixel"));
    let (frames, signals_with_detail): (Value, i64) = sqlx::query_as(
        "SELECT frames, (SELECT count(*) FROM jsonb_array_elements(capture_signals) s WHERE s ? 'detail')
         FROM verdicts WHERE transaction_id = $1",
    )
    .bind(id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(frames, serde_json::json!([]));
    assert_eq!(signals_with_detail, 0);
    let reason: String = sqlx::query_scalar("SELECT reason FROM purges WHERE transaction_id = $1")
        .bind(id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(reason, "request");

    // Idempotent: a second request changes nothing.
    let (status, again) = delete_capture(&stack, &client, id).await;
    assert_eq!(status, 200);
    assert_eq!(again["capture_purged_at"], purged_at.as_str());

    // Pseudonyms: the same citizen purged twice in one tenant groups; another tenant's
    // pseudonym of the same citizen, or one under another key, differs; none is the plain
    // SHA-256 that enumeration reverses.
    assert_eq!(delete_capture(&stack, &client, kept).await.0, 200);
    let elsewhere = submit_with_metadata(&stack, &other).await;
    assert_eq!(delete_capture(&stack, &other, elsewhere).await.0, 200);
    let citizen_of = |id: i64| {
        let db = stack.db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT citizen_id FROM transactions WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(citizen_of(kept).await, citizen);
    let other_tenant = citizen_of(elsewhere).await;
    assert!(other_tenant.starts_with("hmac:") && other_tenant != citizen);
    let key = &stack.worker_config.pseudonym_key;
    assert_eq!(key.pseudonym(client.tenant_id, "CIT-12345"), citizen);
    let another_key = liveness_pipeline::pseudonym::PseudonymKey::parse(
        &liveness_pipeline::pseudonym::PseudonymKey::generate_entry("e2e-pseudonym"),
    )
    .unwrap();
    assert_ne!(
        another_key.pseudonym(client.tenant_id, "CIT-12345"),
        citizen
    );
    let plain: String = <sha2::Sha256 as sha2::Digest>::digest(b"CIT-12345")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for value in [&citizen, &other_tenant] {
        assert!(!value.contains(&plain), "{value}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_digests_of_earlier_purges_are_rekeyed() {
    let stack = Stack::start().await;
    let client = stack.client("legacy").await;
    let id = submit_with_metadata(&stack, &client).await;
    let twin = submit_with_metadata(&stack, &client).await;
    // What a purge wrote before keyed pseudonyms.
    sqlx::query(
        "UPDATE transactions SET purged_at = now(),
             citizen_id = 'sha256:' || encode(sha256(convert_to(citizen_id, 'UTF8')), 'hex'),
             device = NULL
         WHERE id = ANY($1)",
    )
    .bind(vec![id, twin])
    .execute(&stack.db)
    .await
    .unwrap();
    let key = &stack.worker_config.pseudonym_key;
    let changed = liveness_pipeline::retention::rekey_legacy_pseudonyms(&stack.db, key, 10)
        .await
        .unwrap();
    assert_eq!(changed, 2);
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT citizen_id, device FROM transactions WHERE id = ANY($1) ORDER BY id",
    )
    .bind(vec![id, twin])
    .fetch_all(&stack.db)
    .await
    .unwrap();
    assert!(rows[0].0.starts_with("hmac:e2e-pseudonym:"), "{rows:?}");
    assert_eq!(rows[0], rows[1], "legacy rows still group among themselves");
    assert_eq!(rows[0].1, None);
    // Nothing left to do: a second run changes nothing.
    let again = liveness_pipeline::retention::rekey_legacy_pseudonyms(&stack.db, key, 10)
        .await
        .unwrap();
    assert_eq!(again, 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_still_being_judged_cannot_be_deleted() {
    let stack = Stack::without_worker().await;
    let client = stack.client("queued").await;
    let ids = stack.submit_live_async(&client, 1).await;
    let (status, body) = delete_capture(&stack, &client, ids[0]).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "not_finished");
    let storage = Storage::new(&stack.worker_config.storage);
    assert!(object_exists(&storage, &keys(&stack, ids[0]).await.0).await);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_purges_captures_past_retention_in_batches() {
    let stack = Stack::start_with(Options {
        retention_interval: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let storage = Storage::new(&stack.worker_config.storage);
    let client = stack.client("retention").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(submit_with_metadata(&stack, &client).await);
    }
    // Three of them are older than the default 30 days; the batch size here is 2.
    let old = &ids[..3];
    sqlx::query(
        "UPDATE transactions SET created_at = now() - interval '31 days' WHERE id = ANY($1)",
    )
    .bind(old)
    .execute(&stack.db)
    .await
    .unwrap();
    wait_for("the periodic purge", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM purges")
            .fetch_one(&stack.db)
            .await
            .unwrap();
        n == 3
    })
    .await;
    for id in old {
        let (packet, selfie) = keys(&stack, *id).await;
        assert!(!object_exists(&storage, &packet).await);
        assert!(!object_exists(&storage, &selfie.unwrap()).await);
    }
    let (packet, _) = keys(&stack, ids[3]).await;
    assert!(
        object_exists(&storage, &packet).await,
        "within retention: kept"
    );
    let reasons: Vec<String> = sqlx::query_scalar("SELECT DISTINCT reason FROM purges")
        .fetch_all(&stack.db)
        .await
        .unwrap();
    assert_eq!(reasons, vec!["retention".to_string()]);

    // Verdicts stay whole for reporting: four of them, all live.
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM verdicts WHERE valid AND tenant_id = $1")
            .bind(client.tenant_id)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(live, 4);
    let (total, live_in_view): (i64, i64) = sqlx::query_as(
        "SELECT sum(total)::bigint, sum(live)::bigint FROM daily_attack_rate WHERE tenant_id = $1",
    )
    .bind(client.tenant_id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(
        (total, live_in_view),
        (4, 4),
        "the reporting views still count them"
    );
    // A shorter retention catches the fourth on the next round.
    liveness_pipeline::db::tenants::set_retention_days(&stack.db, client.tenant_id, 1)
        .await
        .unwrap();
    sqlx::query("UPDATE transactions SET created_at = now() - interval '2 days' WHERE id = $1")
        .bind(ids[3])
        .execute(&stack.db)
        .await
        .unwrap();
    wait_for("the fourth purge", || async {
        !object_exists(&storage, &packet).await
    })
    .await;
    stack.stop().await;
}
