//! Intake: an integration mistake is a client error that stores nothing, and a capture is
//! judged as of the moment the producer accepted it, however long it waited in the queue.

mod support;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use liveness_capture::{KeyId, PrivateKey};
use liveness_pipeline::storage::Storage;
use std::time::Duration;
use support::*;

async fn queued_messages(stack: &Stack) -> u32 {
    let connection = liveness_pipeline::queue::connect(&stack.worker_config.queue)
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(
            stack.worker_config.queue.queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    let _ = connection.close(200, "bye".into()).await;
    // A queue that was never declared holds nothing: nothing was ever published to it.
    declared.map_or(0, |queue| queue.message_count())
}

async fn rows(stack: &Stack, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

async fn objects(stack: &Stack, client: &Client) -> usize {
    Storage::new(&stack.worker_config.storage)
        .list(&format!("tenant-{}/", client.tenant_id))
        .await
        .unwrap()
        .len()
}

async fn wait_for_verdict(stack: &Stack, id: i64) {
    wait_for("the verdict", || async {
        stack.verdict_count(id).await == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_mistakes_are_400_and_leave_nothing_behind() {
    let stack = Stack::without_worker().await;
    let client = stack.client("mistakes").await;
    let (packet, frames) = stack.packet("silentface_image_T1.jpg", &stack.nonce(&client).await);
    let stranger = PrivateKey::generate(KeyId::parse("never-issued").unwrap());
    let unknown_key = liveness_capture::seal(
        &payload(&stack.nonce(&client).await, &frames),
        &stranger.public(),
    )
    .unwrap();
    let random: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
    for (name, bytes, code, says) in [
        ("random bytes", random, "invalid_packet", "bad magic"),
        (
            "a truncated header",
            packet[..20].to_vec(),
            "invalid_packet",
            "truncated",
        ),
        (
            "an unknown key id",
            unknown_key,
            "unknown_key",
            "\"never-issued\"",
        ),
    ] {
        let (status, body) = stack
            .submit(&client, form(bytes).text("return_id", "true"), &[])
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(code)),
            "{name}: {body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
    }
    assert_eq!(rows(&stack, "transactions").await, 0);
    assert_eq!(objects(&stack, &client).await, 0);
    assert_eq!(queued_messages(&stack).await, 0);

    // A sound header over a tampered ciphertext is judged: an attack on the packet.
    let mut tampered = packet.clone();
    let last = tampered.len() - 5;
    tampered[last] ^= 0x20;
    let (status, body) = stack
        .submit(&client, form(tampered), &[("prefer", "respond-async")])
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_i64().unwrap();
    assert_eq!(queued_messages(&stack).await, 1);
    let worker = LateWorker::start(stack.worker_config.clone()).await;
    wait_for_verdict(&stack, id).await;
    let (_, verdict) = stack.lookup(&client, id).await;
    assert_eq!(verdict["error_code"], 715, "{verdict}");
    assert_eq!(verdict["error_details"]["capture_signal"], "packet_intact");
    worker.stop().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_does_not_turn_an_honest_capture_into_an_attack() {
    // Nonces live 2 s and captures may be 2 s old: the queue outlasts both.
    let policy = liveness_capture::Policy {
        max_capture_age_ms: 2_000,
        ..Default::default()
    };
    let stack = Stack::start_with(Options {
        in_process_worker: false,
        session_ttl: Duration::from_secs(2),
        policy,
        ..Options::default()
    })
    .await;
    let client = stack.client("backlog").await;
    let late_nonce = stack.nonce(&client).await;

    let (honest, _) = stack.packet("silentface_image_T1.jpg", &stack.nonce(&client).await);
    let async_header = [("prefer", "respond-async")];
    let (status, body) = stack.submit(&client, form(honest), &async_header).await;
    assert_eq!(status, 202, "{body}");
    let honest_id = body["id"].as_i64().unwrap();

    // This one's nonce expires before it is even sent (its capture itself is fresh).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (expired, _) = stack.packet("silentface_image_T1.jpg", &late_nonce);
    let (status, body) = stack.submit(&client, form(expired), &async_header).await;
    assert_eq!(status, 202, "{body}");
    let expired_id = body["id"].as_i64().unwrap();

    // Both wait in the queue past the nonce lifetime and the capture-age limit.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let worker = LateWorker::start(stack.worker_config.clone()).await;
    wait_for_verdict(&stack, honest_id).await;
    wait_for_verdict(&stack, expired_id).await;

    let (_, verdict) = stack.lookup(&client, honest_id).await;
    assert_eq!(verdict["valid"], true, "judged as of intake: {verdict}");
    let (_, verdict) = stack.lookup(&client, expired_id).await;
    assert_eq!(verdict["error_code"], 715, "{verdict}");
    assert_eq!(verdict["error_details"]["capture_signal"], "nonce_valid");
    worker.stop().await;
    stack.stop().await;
}
