//! Delivery guarantees: poison messages and jobs that never succeed end in the dead-letter
//! queue; a graceful shutdown finishes the jobs in flight.

mod support;

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
use lapin::BasicProperties;
use liveness_pipeline::queue;
use std::time::{Duration, Instant};
use support::*;

async fn dead_letters(stack: &Stack) -> Vec<Vec<u8>> {
    let config = &stack.worker_config.queue;
    let connection = queue::connect(config).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let dead = queue::dead_letter_queue(&config.queue);
    let mut bodies = Vec::new();
    // Acknowledged only once read here: with no_ack, a message the broker had sent but that
    // got lost on the way into this test was gone from every queue.
    while let Some(message) = channel
        .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
    {
        bodies.push(message.delivery.data.clone());
        message
            .delivery
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
    }
    connection.close(200, "read".into()).await.unwrap();
    bodies
}

/// Drains the dead-letter queue until something arrives.
async fn wait_for_dead_letters(stack: &Stack) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = dead_letters(stack).await;
        if !found.is_empty() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "nothing reached the dead-letter queue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_message_is_dead_lettered() {
    let stack = Stack::start().await;
    let config = &stack.worker_config.queue;
    let connection = queue::connect(config).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    // The worker declares the queue as it starts; make sure it exists before publishing.
    queue::declare(&channel, config).await.unwrap();
    channel
        .basic_publish(
            "".into(),
            config.queue.as_str().into(),
            BasicPublishOptions::default(),
            b"{not json",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let found = wait_for_dead_letters(&stack).await;
    assert_eq!(found, vec![b"{not json".to_vec()]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_that_keeps_failing_transiently_is_retried_then_dead_lettered() {
    // The producer stores captures; the worker cannot reach the object storage at all.
    let stack = Stack::without_worker().await;
    let client = stack.client("transient").await;
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (status, body) = stack
        .submit(&client, form(packet), &[("prefer", "respond-async")])
        .await;
    assert_eq!(status, 202);
    let id = body["id"].as_i64().unwrap();

    let mut config = stack.worker_config.clone();
    config.storage.endpoint = "http://127.0.0.1:1".into();
    config.retry_base = Duration::from_millis(20);
    let worker = LateWorker::start(config).await;

    let dead = wait_for_dead_letters(&stack).await;
    let job: queue::Job = serde_json::from_slice(&dead[0]).unwrap();
    assert_eq!(job.transaction_id, id);
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM transactions WHERE id = $1")
        .bind(id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(
        attempts as u32,
        stack.worker_config.queue.delivery_limit + 1,
        "tried once, redelivered up to the limit"
    );
    assert_eq!(stack.verdict_count(id).await, 0, "no verdict was invented");
    worker.stop().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_jobs_in_flight() {
    let stack = Stack::without_worker().await;
    let client = stack.client("graceful").await;
    stack.submit_live_async(&client, 6).await;
    let worker = LateWorker::start(stack.worker_config.clone()).await;
    wait_for("a job in flight", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM transactions WHERE status = 'processing'",
        )
        .fetch_one(&stack.db)
        .await
        .unwrap()
            > 0
    })
    .await;
    worker.stop().await;
    // Nothing is left half-done: every job is either finished or still queued for later.
    let states: Vec<String> =
        sqlx::query_scalar("SELECT status::text FROM transactions ORDER BY id")
            .fetch_all(&stack.db)
            .await
            .unwrap();
    assert!(
        states.iter().all(|s| s == "done" || s == "queued"),
        "{states:?}"
    );
    assert!(states.iter().any(|s| s == "done"), "{states:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_altered_in_storage_is_never_judged() {
    let stack = Stack::without_worker().await;
    let client = stack.client("altered").await;
    let ids = stack.submit_live_async(&client, 2).await;
    // One stored packet gets one byte changed before any worker reads it. The sealed packet
    // is still well-formed CBOR around its ciphertext: only the recorded SHA-256 tells.
    let storage = liveness_pipeline::storage::Storage::new(&stack.worker_config.storage);
    let key: String = sqlx::query_scalar("SELECT packet_key FROM transactions WHERE id = $1")
        .bind(ids[0])
        .fetch_one(&stack.db)
        .await
        .unwrap();
    let mut packet = storage.get(&key).await.unwrap();
    let middle = packet.len() / 2;
    packet[middle] ^= 0x01;
    storage.put(&key, packet).await.unwrap();

    let worker = LateWorker::start(stack.worker_config.clone()).await;
    for &id in &ids {
        wait_for("both verdicts", || async {
            stack.verdict_count(id).await == 1
        })
        .await;
    }
    worker.stop().await;

    let (status, altered) = stack.lookup(&client, ids[0]).await;
    assert_eq!(status, 200);
    assert_eq!(altered["status"], "failed", "{altered}");
    assert_eq!(altered["valid"], false);
    assert_eq!(altered["error_code"], 712, "{altered}");
    let reason: String =
        sqlx::query_scalar("SELECT error_details::text FROM verdicts WHERE transaction_id = $1")
            .bind(ids[0])
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert!(
        reason.contains("differs from what was received"),
        "{reason}"
    );
    let (_, intact) = stack.lookup(&client, ids[1]).await;
    assert_eq!(
        intact["valid"], true,
        "the other capture is judged: {intact}"
    );
    stack.stop().await;
}
