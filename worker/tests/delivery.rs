//! Delivery guarantees: a job that keeps failing transiently is retried through the delay
//! queues until the retry horizon, then failed; a job no worker finishes is dead-lettered,
//! closed with a failed verdict and can be redriven; a graceful shutdown finishes the jobs in
//! flight.

mod support;

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions};
use lapin::BasicProperties;
use liveness_pipeline::queue;
use std::time::{Duration, Instant};
use support::receiver::Receiver;
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
async fn job_that_keeps_failing_transiently_is_retried_until_the_horizon_then_failed() {
    // The producer stores captures; the worker cannot reach the object storage at all.
    let stack = Stack::without_worker().await;
    let client = stack.client("transient").await;
    let receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    let id = stack.submit_live_async(&client, 1).await[0];

    let mut config = stack.worker_config.clone();
    config.storage.endpoint = "http://127.0.0.1:1".into();
    config.retry_horizon = Duration::from_secs(4);
    let worker = LateWorker::start(config).await;
    wait_for("the failed verdict", || async {
        stack.verdict_count(id).await == 1
    })
    .await;
    worker.stop().await;

    let (_, body) = stack.lookup(&client, id).await;
    assert_eq!(body["status"], "failed", "{body}");
    assert_eq!(body["error_code"], 712, "{body}");
    let (reason, attempts): (String, i32) = sqlx::query_as(
        "SELECT v.error_details->>'reason', t.attempts FROM verdicts v JOIN transactions t ON t.id = v.transaction_id
         WHERE v.transaction_id = $1",
    )
    .bind(id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert!(reason.starts_with("gave up after"), "{reason}");
    assert!(reason.contains("storage"), "{reason}");
    assert!(
        attempts >= 3,
        "retried through the delay queues: {attempts} attempts"
    );
    assert!(
        dead_letters(&stack).await.is_empty(),
        "retries never spend the delivery limit"
    );
    receiver.wait_for_event("liveness.failed").await;
    stack.stop().await;
}

/// Dead letters ready for delivery, as the broker counts them.
async fn ready_dead_letters(config: &liveness_pipeline::config::QueueConfig) -> u32 {
    let connection = queue::connect(config).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let dead = queue::dead_letter_queue(&config.queue);
    let count = queue::message_count(&channel, &dead).await.unwrap();
    connection.close(200, "counted".into()).await.unwrap();
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_no_worker_finishes_is_dead_lettered_closed_and_redriven() {
    let stack = Stack::without_worker().await;
    let client = stack.client("poison").await;
    let receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    let id = stack.submit_live_async(&client, 1).await[0];

    // A consumer that takes the job and hands it back, as a worker dying on it would, until
    // RabbitMQ's delivery limit dead-letters it.
    let config = &stack.worker_config.queue;
    let connection = queue::connect(config).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut handed_back = 0;
    while queue::list_dead_letters(config, 1)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "never dead-lettered");
        match channel
            .basic_get(
                config.queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap()
        {
            Some(message) => {
                message
                    .delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                handed_back += 1;
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    connection.close(200, "done".into()).await.unwrap();
    assert!(handed_back >= config.delivery_limit, "{handed_back}");

    // A worker closes the transaction from the dead letter's copy.
    let worker = LateWorker::start(stack.worker_config.clone()).await;
    wait_for("the failed verdict", || async {
        stack.verdict_count(id).await == 1
    })
    .await;
    let (_, failed) = stack.lookup(&client, id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error_code"], 712, "{failed}");
    receiver.wait_for_event("liveness.failed").await;

    // The dead letter stays for the operator, who sends it through again once the cause is
    // fixed: the capture is judged and its client hears of it.
    let dead = queue::list_dead_letters(config, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.map(|j| j.transaction_id), Some(id));
    assert_eq!(dead[0].reason.as_deref(), Some("delivery_limit"));
    assert_eq!(
        liveness_pipeline::db::housekeeping::reopen_failed(&stack.db, &[id])
            .await
            .unwrap(),
        vec![id]
    );
    // Listing held the letter unacknowledged; the quorum queue puts it back asynchronously
    // after the listing's channel closes, and redrive only reads what the queue counts.
    wait_for("the listed dead letter back in its queue", || async {
        ready_dead_letters(config).await == 1
    })
    .await;
    let moved = queue::redrive_dead_letters(config, |job| job.transaction_id == id)
        .await
        .unwrap();
    assert_eq!(moved.len(), 1);
    wait_for("the new verdict", || async {
        stack.lookup(&client, id).await.1["status"] == "done"
    })
    .await;
    let (_, judged) = stack.lookup(&client, id).await;
    assert_eq!(judged["valid"], true, "{judged}");
    receiver.wait_for_event("liveness.completed").await;
    assert!(queue::list_dead_letters(config, 10)
        .await
        .unwrap()
        .is_empty());
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
