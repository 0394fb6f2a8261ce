//! Webhook deliveries side by side: a slow receiver holds only its own share of the
//! dispatcher, claims respect the per-endpoint cap over all dispatchers, and an attempt whose
//! lease has passed on cannot overwrite the message's newer state.

mod support;

use liveness_webhooks::outbox::{self, AttemptRecord, Claimed, Disposition, Recorded};
use liveness_webhooks::DispatcherConfig;
use std::collections::BTreeMap;
use std::time::Duration;
use support::receiver::{Receiver, Reply};
use support::*;

/// Puts an event for `url` into the outbox, as the worker does with a verdict; its id.
async fn enqueue(
    stack: &Stack,
    client: &Client,
    transaction: i64,
    endpoint: i64,
    url: &str,
) -> String {
    let id = format!("msg_{:032x}", rand::random::<u128>());
    sqlx::query(
        "INSERT INTO webhook_messages (id, tenant_id, transaction_id, endpoint_id, url, event_type, body)
         VALUES ($1, $2, $3, $4, $5, 'liveness.completed', '{}')",
    )
    .bind(&id)
    .bind(client.tenant_id)
    .bind(transaction)
    .bind(endpoint)
    .bind(url)
    .execute(&stack.db)
    .await
    .unwrap();
    id
}

/// `count` endpoints of the client (an outbox row is unique per transaction and endpoint;
/// where it is sent is its own `url`, as with a per-request `webhook_url`).
async fn endpoints(stack: &Stack, client: &Client, count: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 0..count {
        let url = format!("http://127.0.0.1:9/registered/{n}");
        let (endpoint, _) = liveness_webhooks::endpoints::create(
            &stack.db,
            &stack.producer_config.webhook_keys,
            client.tenant_id,
            &url,
        )
        .await
        .unwrap();
        ids.push(endpoint.id);
    }
    ids
}

async fn record(stack: &Stack, message: &Claimed, disposition: Disposition) -> Recorded {
    let attempt = AttemptRecord {
        url: &message.url,
        status_code: Some(if disposition == Disposition::Delivered {
            200
        } else {
            400
        }),
        latency: Duration::from_millis(5),
        error: None,
    };
    outbox::record(&stack.db, message, &attempt, &disposition)
        .await
        .unwrap()
}

fn per_url(claimed: &[Claimed]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for message in claimed {
        *counts.entry(message.url.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_leave_a_receiver_at_its_cap_alone() {
    let stack = Stack::without_worker().await;
    let client = stack.client("cap").await;
    let transaction = stack.submit_live_async(&client, 1).await[0];
    let endpoints = endpoints(&stack, &client, 8).await;
    let (busy, other) = ("http://127.0.0.1:9/busy", "http://127.0.0.1:9/other");
    for (n, endpoint) in endpoints.iter().enumerate() {
        enqueue(
            &stack,
            &client,
            transaction,
            *endpoint,
            if n < 6 { busy } else { other },
        )
        .await;
    }
    let lease = Duration::from_secs(60);

    let first = outbox::claim(&stack.db, 16, 4, lease).await.unwrap();
    assert_eq!(
        per_url(&first),
        BTreeMap::from([(busy.to_string(), 4), (other.to_string(), 2)])
    );
    // Another dispatcher finds the busy receiver at its cap, with two messages still due.
    assert!(outbox::claim(&stack.db, 16, 4, lease)
        .await
        .unwrap()
        .is_empty());

    // One attempt ends: one slot, and only one, is free again.
    let done = first.iter().find(|m| m.url == busy).unwrap();
    assert_eq!(
        record(&stack, done, Disposition::Delivered).await,
        Recorded::Applied
    );
    let next = outbox::claim(&stack.db, 16, 4, lease).await.unwrap();
    assert_eq!(per_url(&next), BTreeMap::from([(busy.to_string(), 1)]));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_whose_lease_passed_on_changes_nothing() {
    let stack = Stack::without_worker().await;
    let client = stack.client("lease").await;
    let transaction = stack.submit_live_async(&client, 2).await;
    let endpoint = endpoints(&stack, &client, 1).await[0];
    let url = "http://127.0.0.1:9/slow";
    let id = enqueue(&stack, &client, transaction[0], endpoint, url).await;

    // A dispatcher claims it with a lease shorter than its attempt turns out to take...
    let stale = outbox::claim(&stack.db, 16, 4, Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    // ...so once the lease has run out, another one claims it again and delivers it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let current = loop {
        let claimed = outbox::claim(&stack.db, 16, 4, Duration::from_secs(60))
            .await
            .unwrap();
        if let Some(message) = claimed.into_iter().next() {
            break message;
        }
        assert!(std::time::Instant::now() < deadline, "never claimed again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(current.id, id);
    assert_ne!(current.claim, stale.claim);
    assert_eq!(
        record(&stack, &current, Disposition::Delivered).await,
        Recorded::Applied
    );
    // The first one's attempt ends last, and failed: it must not undo the delivery.
    assert_eq!(
        record(&stack, &stale, Disposition::Failed).await,
        Recorded::Superseded
    );

    let (status, attempts, delivered, leased): (String, i32, bool, bool) = sqlx::query_as(
        "SELECT status::text, attempts, delivered_at IS NOT NULL, leased_until IS NOT NULL
         FROM webhook_messages WHERE id = $1",
    )
    .bind(&id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), attempts, delivered, leased),
        ("delivered", 1, true, false)
    );
    // Both requests were made, so both are in the history; the late one is marked.
    let history: Vec<(String, bool)> = sqlx::query_as(
        "SELECT outcome, superseded FROM webhook_attempts WHERE message_id = $1 ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&stack.db)
    .await
    .unwrap();
    assert_eq!(
        history,
        vec![
            ("delivered".to_string(), false),
            ("failed".to_string(), true)
        ]
    );

    // A redelivery on demand voids the lease of an attempt in flight too: the fresh
    // schedule stays.
    let id = enqueue(&stack, &client, transaction[1], endpoint, url).await;
    let in_flight = outbox::claim(&stack.db, 16, 4, Duration::from_secs(60))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(in_flight.id, id);
    assert_eq!(
        outbox::redeliver(&stack.db, client.tenant_id, &id)
            .await
            .unwrap(),
        outbox::Redelivery::Scheduled
    );
    assert_eq!(
        record(&stack, &in_flight, Disposition::Failed).await,
        Recorded::Superseded
    );
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status::text, attempts FROM webhook_messages WHERE id = $1")
            .bind(&id)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 0));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_receiver_delays_only_its_own_messages() {
    const CAP: usize = 2;
    let stack = Stack::without_worker().await;
    let slow_tenant = stack.client("slow").await;
    let fast_tenant = stack.client("fast").await;
    let slow = Receiver::start().await;
    let fast = Receiver::start().await;
    stack.add_endpoint(&slow_tenant, &slow.url()).await;
    stack.add_endpoint(&fast_tenant, &fast.url()).await;
    slow.script(vec![Reply::Hang(Duration::from_secs(30)); CAP + 1]);
    // The slow receiver's events come first: they are judged, and claimed, before the others.
    let slow_ids = stack.submit_live_async(&slow_tenant, CAP + 1).await;
    let fast_ids = stack.submit_live_async(&fast_tenant, 3).await;

    let mut config = stack.worker_config.clone();
    config.webhooks = Some(DispatcherConfig {
        // Long enough that the slow receiver's requests are answered, not timed out.
        timeout: Duration::from_secs(60),
        endpoint_concurrency: CAP as u32,
        ..test_dispatcher()
    });
    let worker = LateWorker::start(config).await;
    wait_for("every event at the fast receiver", || async {
        fast.received().len() >= fast_ids.len()
    })
    .await;
    wait_for("the slow receiver's share of requests", || async {
        slow.received().len() >= CAP
    })
    .await;
    // All of that happened while the slow receiver's first request was still pending.
    assert_eq!(
        slow.finished(),
        0,
        "the fast receiver waited for the slow one"
    );
    for id in slow_ids.iter().chain(&fast_ids) {
        wait_for("the verdict", || async {
            stack.verdict_count(*id).await == 1
        })
        .await;
    }
    // Its last event is due, but its receiver is at the cap: not sent.
    assert_eq!(slow.received().len(), CAP, "more than the cap in flight");

    // A graceful shutdown finishes the requests in flight and records their outcome.
    worker.stop().await;
    assert_eq!(slow.finished(), CAP);
    let states: Vec<(String, i32)> = sqlx::query_as(
        "SELECT status::text, attempts FROM webhook_messages WHERE url = $1 ORDER BY status::text",
    )
    .bind(slow.url())
    .fetch_all(&stack.db)
    .await
    .unwrap();
    let mut expected = vec![("delivered".to_string(), 1); CAP];
    expected.push(("pending".to_string(), 0));
    assert_eq!(states, expected);
    assert_eq!(fast.finished(), fast_ids.len());
    stack.stop().await;
}
