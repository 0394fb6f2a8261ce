//! What keeps work from being stranded and tables from growing: the reconciler publishes
//! again the jobs of transactions whose job was lost, one worker at a time; housekeeping
//! deletes sessions and replay digests, but never one a pending capture can still need; the
//! worker reports its health and metrics.

mod support;

use liveness_pipeline::db::housekeeping::{self, RECONCILE_LOCK};
use liveness_worker::Worker;
use support::*;

async fn purge_work_queue(stack: &Stack) -> u32 {
    let config = &stack.worker_config.queue;
    let connection = liveness_pipeline::queue::connect(config).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let purged = channel
        .queue_purge(config.queue.as_str().into(), Default::default())
        .await
        .unwrap();
    connection.close(200, "purged".into()).await.unwrap();
    purged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_whose_job_was_lost_are_judged() {
    let stack = Stack::without_worker().await;
    let client = stack.client("reconcile").await;
    let ids = stack.submit_live_async(&client, 3).await;
    assert_eq!(purge_work_queue(&stack).await, 3);
    // As if the producer died between its insert and its publish.
    sqlx::query("UPDATE transactions SET published_at = NULL WHERE id = $1")
        .bind(ids[0])
        .execute(&stack.db)
        .await
        .unwrap();
    // As if a worker had started it and its job had been lost since, long ago.
    sqlx::query("UPDATE transactions SET status = 'processing', updated_at = now() - interval '1 hour' WHERE id = $1")
        .bind(ids[1])
        .execute(&stack.db)
        .await
        .unwrap();
    // ids[2] was published and is merely waiting as far as anyone can tell: left alone.

    let worker = LateWorker::start(stack.worker_config.clone()).await;
    for &id in &ids[..2] {
        wait_for("the reconciled verdict", || async {
            stack.verdict_count(id).await == 1
        })
        .await;
        let (_, body) = stack.lookup(&client, id).await;
        assert_eq!(body["valid"], true, "{body}");
    }
    let reconciled: Vec<bool> = sqlx::query_scalar(
        "SELECT reconciled_at IS NOT NULL FROM transactions WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(&stack.db)
    .await
    .unwrap();
    assert_eq!(reconciled, [true, true, false]);
    assert_eq!(stack.verdict_count(ids[2]).await, 0);
    worker.stop().await;
    stack.stop().await;
}

async fn count(stack: &Stack, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_runs_once_at_a_time_and_keeps_what_pending_captures_need() {
    let stack = Stack::without_worker().await;
    let client = stack.client("housekeeping").await;
    let worker = Worker::build(stack.worker_config.clone()).await.unwrap();

    // Another worker holds the lock: this one does nothing.
    let held = housekeeping::try_lock(&stack.db, RECONCILE_LOCK)
        .await
        .unwrap()
        .expect("free");
    assert!(!worker.reconcile_once().await.unwrap().ran);
    housekeeping::unlock(held, RECONCILE_LOCK).await;

    // Sessions: expired two days ago, ten minutes ago (within the hour kept), and live.
    for (nonce, expires) in [
        ("old-1", "now() - interval '2 days'"),
        ("old-2", "now() - interval '2 days'"),
        ("recent", "now() - interval '10 minutes'"),
        ("live", "now() + interval '5 minutes'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO capture_sessions (nonce, tenant_id, expires_at) VALUES ('{nonce}', $1, {expires})"
        )))
        .bind(client.tenant_id)
        .execute(&stack.db)
        .await
        .unwrap();
    }
    // Digests first seen three days ago (beyond capture age + skew + one day) and an hour ago.
    for (digest, seen) in [
        (1u8, "now() - interval '3 days'"),
        (2, "now() - interval '3 days'"),
        (3, "now() - interval '1 hour'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO capture_digests (kind, digest, transaction_id, first_seen_at) VALUES ('packet', $1, 0, {seen})"
        )))
        .bind(vec![digest; 32])
        .execute(&stack.db)
        .await
        .unwrap();
    }
    // A capture taken in four days ago and still pending (a long outage): it may use any of
    // them, so none goes.
    let pending: i64 = sqlx::query_scalar(
        "INSERT INTO transactions (tenant_id, s3_bucket, packet_key, packet_sha256, packet_bytes, created_at, published_at)
         VALUES ($1, 'b', 'k', '\\x00', 1, now() - interval '4 days', now()) RETURNING id",
    )
    .bind(client.tenant_id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    let done = worker.reconcile_once().await.unwrap();
    assert!(done.ran);
    assert_eq!((done.sessions_deleted, done.digests_deleted), (0, 0));
    assert_eq!(done.republished, 0, "published and waiting: not stuck");

    sqlx::query("UPDATE transactions SET status = 'failed' WHERE id = $1")
        .bind(pending)
        .execute(&stack.db)
        .await
        .unwrap();
    let done = worker.reconcile_once().await.unwrap();
    assert_eq!((done.sessions_deleted, done.digests_deleted), (2, 2));
    let sessions: Vec<String> =
        sqlx::query_scalar("SELECT nonce FROM capture_sessions ORDER BY nonce")
            .fetch_all(&stack.db)
            .await
            .unwrap();
    assert_eq!(sessions, ["live", "recent"]);
    assert_eq!(count(&stack, "capture_digests").await, 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_reports_health_readiness_and_metrics() {
    let stack = Stack::without_worker().await;
    let client = stack.client("health").await;
    let worker = LateWorker::start(stack.worker_config.clone()).await;
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", worker.health))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    wait_for("readiness", || async {
        http.get(format!("{}/readyz", worker.health))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let id = stack.submit_live_async(&client, 1).await[0];
    wait_for("the verdict", || async {
        stack.verdict_count(id).await == 1
    })
    .await;
    let metrics = http
        .get(format!("{}/metrics", worker.health))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("worker_jobs_total{outcome=\"valid\"}"),
        "{metrics}"
    );
    worker.stop().await;
    stack.stop().await;
}
