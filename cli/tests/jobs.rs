//! `liveness jobs` against the real database and broker: a dead letter and a stuck
//! transaction are listed, then redriven (the dead letter's failed verdict reopened).

mod support;

use lapin::options::{BasicGetOptions, BasicRejectOptions};
use liveness_pipeline::config::QueueConfig;
use liveness_pipeline::queue::{self, Job, Publisher};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeSet;
use support::{block_on, TestDb};

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn transaction(db: &PgPool, tenant: i64, status: &str, published: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "INSERT INTO transactions (tenant_id, status, s3_bucket, packet_key, packet_sha256, packet_bytes, created_at, published_at)
         VALUES ($1, '{status}', 'b', 'k', '\\x00', 1, now() - interval '5 minutes', {published}) RETURNING id"
    )))
    .bind(tenant)
    .fetch_one(db)
    .await
    .unwrap()
}

#[test]
fn dead_letters_and_stuck_transactions_are_listed_and_redriven() {
    let test = TestDb::new();
    let created = json(&test.ok(&["tenant", "create", "--name", "jobs"], &[]));
    let tenant = created["tenant_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"));
    let config = QueueConfig {
        queue: format!("{}.jobs", test.name),
        ..QueueConfig::from_env().unwrap()
    };
    let env = [("LIVENESS_QUEUE", config.queue.as_str())];

    let (dead_id, stuck_id) = block_on(async {
        let db = PgPool::connect(&test.url).await.unwrap();
        // Closed with a failed verdict by the dead-letter consumer.
        let dead_id = transaction(&db, tenant, "failed", "now()").await;
        sqlx::query("INSERT INTO verdicts (transaction_id, tenant_id, valid, error_code) VALUES ($1, $2, false, 712)")
            .bind(dead_id)
            .bind(tenant)
            .execute(&db)
            .await
            .unwrap();
        // Inserted by a producer that died before publishing.
        let stuck_id = transaction(&db, tenant, "queued", "NULL").await;
        // The first one's job, rejected by a worker: RabbitMQ dead-letters it.
        let publisher = Publisher::connect(&config).await.unwrap();
        publisher
            .publish(&Job {
                transaction_id: dead_id,
                tenant_id: tenant,
            })
            .await
            .unwrap();
        let connection = queue::connect(&config).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let message = channel
            .basic_get(
                config.queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap()
            .expect("the job");
        message
            .delivery
            .reject(BasicRejectOptions { requeue: false })
            .await
            .unwrap();
        connection.close(200, "done".into()).await.unwrap();
        (dead_id, stuck_id)
    });

    let listed = json(&test.ok(&["jobs", "list"], &env));
    let dead = listed["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{listed}");
    assert_eq!(dead[0]["transaction_id"], dead_id);
    assert_eq!(dead[0]["reason"], "rejected");
    let stuck = listed["stuck"].as_array().unwrap();
    assert_eq!(stuck.len(), 1, "{listed}");
    assert_eq!(stuck[0]["transaction_id"], stuck_id);
    assert_eq!(stuck[0]["status"], "queued");
    // Listing leaves the dead letter where it is.
    assert_eq!(
        json(&test.ok(&["jobs", "list"], &env))["dead_letters"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let redriven = json(&test.ok(&["jobs", "redrive", "--reopen"], &env));
    assert_eq!(
        redriven["redriven"],
        serde_json::json!([dead_id]),
        "{redriven}"
    );
    assert_eq!(redriven["reopened"], serde_json::json!([dead_id]));
    assert_eq!(redriven["republished"], serde_json::json!([stuck_id]));

    block_on(async {
        let db = PgPool::connect(&test.url).await.unwrap();
        let (status, verdicts): (String, i64) = sqlx::query_as(
            "SELECT status::text, (SELECT count(*) FROM verdicts WHERE transaction_id = $1) FROM transactions WHERE id = $1",
        )
        .bind(dead_id)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(
            (status.as_str(), verdicts),
            ("queued", 0),
            "reopened for judging"
        );
        let reconciled: bool = sqlx::query_scalar(
            "SELECT published_at IS NOT NULL AND reconciled_at IS NOT NULL FROM transactions WHERE id = $1",
        )
        .bind(stuck_id)
        .fetch_one(&db)
        .await
        .unwrap();
        assert!(reconciled);
        // Both jobs wait in the work queue; the dead-letter queue is empty.
        let connection = queue::connect(&config).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let mut queued = BTreeSet::new();
        while let Some(message) = channel
            .basic_get(
                config.queue.as_str().into(),
                BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
        {
            let job: Job = serde_json::from_slice(&message.delivery.data).unwrap();
            queued.insert(job.transaction_id);
        }
        assert_eq!(queued, BTreeSet::from([dead_id, stuck_id]));
        connection.close(200, "done".into()).await.unwrap();
        assert!(queue::list_dead_letters(&config, 10)
            .await
            .unwrap()
            .is_empty());
        queue::remove(&config).await.unwrap();
    });
}
