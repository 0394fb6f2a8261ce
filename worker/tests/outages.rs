//! Minute-long outages: PostgreSQL, then the S3 server, then RabbitMQ really stopped for
//! OUTAGE_SECS (default 90) each, while live captures are submitted and in flight. Then:
//! every accepted capture has exactly one verdict and it is valid, nothing is left `queued` or
//! `processing`, every submission during an outage got 503 within 2 s, and every webhook
//! event reached the receiver.
//!
//! The services are shared by the whole machine, so this is the only test of its binary
//! (cargo runs test binaries one after another).

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::receiver::{assert_every_event_delivered, Receiver};
use support::*;
use tokio::sync::Mutex;

fn stack_script(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stack");
    let status = Command::new(script).args(args).status().unwrap();
    assert!(status.success(), "scripts/stack {args:?}");
}

/// One request's fate: when it started, how long it took, its status.
#[derive(Debug, Clone)]
struct Call {
    started: Instant,
    took: Duration,
    status: u16,
}

#[derive(Default)]
struct Ledger {
    accepted: Vec<i64>,
    calls: Vec<Call>,
}

/// Session, seal, submit; a refusal is recorded and the next iteration starts over, as a
/// client retrying after a 503 would.
async fn submit_until(stack: &Stack, client: &Client, ledger: &Mutex<Ledger>, done: &AtomicBool) {
    while !done.load(Ordering::Relaxed) {
        let started = Instant::now();
        let session = stack
            .client
            .post(stack.url("/api/v3/biometrics/liveness/sessions"))
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap();
        let status = session.status().as_u16();
        if status != 200 {
            ledger.lock().await.calls.push(Call {
                started,
                took: started.elapsed(),
                status,
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        let nonce = session.json::<Value>().await.unwrap()["nonce"]
            .as_str()
            .unwrap()
            .to_string();
        let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
        let started = Instant::now();
        let (status, body) = stack
            .submit(client, form(packet), &[("prefer", "respond-async")])
            .await;
        let mut l = ledger.lock().await;
        l.calls.push(Call {
            started,
            took: started.elapsed(),
            status,
        });
        if status == 202 {
            l.accepted.push(body["id"].as_i64().unwrap());
        }
        drop(l);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minute_long_outages_strand_nothing() {
    let outage = Duration::from_secs(
        std::env::var("OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(90),
    );
    let stack = Arc::new(
        Stack::start_with(Options {
            in_process_worker: false,
            retry_horizon: Duration::from_secs(900),
            ..Options::default()
        })
        .await,
    );
    let client = Arc::new(stack.client("outages").await);
    let receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    // The production retry horizon; webhook retries that outlast a PostgreSQL outage.
    let mut worker = spawn_worker_with(
        &stack,
        &[
            ("LIVENESS_RETRY_HORIZON_SECS", "900"),
            (
                "WEBHOOK_RETRY_SCHEDULE",
                "1s,2s,5s,10s,10s,10s,10s,10s,10s,10s,10s,10s,10s,10s,10s,10s",
            ),
        ],
    );

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let done = Arc::new(AtomicBool::new(false));
    let lanes: Vec<_> = (0..2)
        .map(|_| {
            let (stack, client, ledger, done) =
                (stack.clone(), client.clone(), ledger.clone(), done.clone());
            tokio::spawn(async move { submit_until(&stack, &client, &ledger, &done).await })
        })
        .collect();

    let mut outages = Vec::new();
    tokio::time::sleep(Duration::from_secs(10)).await;
    for service in ["postgres", "s3", "rabbitmq"] {
        let accepted_before = ledger.lock().await.accepted.len();
        stack_script(&["stop", service]);
        let began = Instant::now();
        tokio::time::sleep(outage).await;
        let ended = Instant::now();
        stack_script(&["start", service]);
        outages.push((service, began, ended, accepted_before));
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    done.store(true, Ordering::Relaxed);
    for lane in lanes {
        lane.await.unwrap();
    }

    let ledger = ledger.lock().await;
    // Submissions that started while a service was down (a second after it went, so that
    // requests already past that service are not counted) were refused quickly.
    let mut refused_during = BTreeMap::new();
    for &(service, began, ended, _) in &outages {
        let during: Vec<&Call> = ledger
            .calls
            .iter()
            .filter(|c| c.started > began + Duration::from_secs(1) && c.started < ended)
            .collect();
        assert!(
            !during.is_empty(),
            "no submission during the {service} outage"
        );
        for call in &during {
            assert_eq!(call.status, 503, "{service} down: {call:?}");
            assert!(
                call.took <= Duration::from_secs(2),
                "{service} down: {call:?}"
            );
        }
        let slowest = during.iter().map(|c| c.took).max().unwrap_or_default();
        refused_during.insert(service, (during.len(), slowest));
    }
    assert!(
        ledger
            .calls
            .iter()
            .all(|c| [200, 202, 503].contains(&c.status)),
        "only 503 refusals"
    );

    // Every accepted capture judged once, and live; nothing left in between.
    let ids = ledger.accepted.clone();
    let deadline = Instant::now() + Duration::from_secs(240);
    let verdicts: Vec<(i64, bool)> = loop {
        let rows: Vec<(i64, bool)> = sqlx::query_as(
            "SELECT transaction_id, valid FROM verdicts WHERE transaction_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&stack.db)
        .await
        .unwrap_or_default();
        if rows.len() == ids.len() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let judged: HashSet<i64> = verdicts.iter().map(|v| v.0).collect();
    let missing: Vec<&i64> = ids.iter().filter(|id| !judged.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "accepted without a verdict: {missing:?}"
    );
    let invalid: Vec<&(i64, bool)> = verdicts.iter().filter(|v| !v.1).collect();
    assert!(
        invalid.is_empty(),
        "honest captures judged invalid: {invalid:?}"
    );
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM transactions WHERE status IN ('queued', 'processing')",
    )
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(pending, 0, "transactions left queued or processing");
    let transactions: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(
        transactions as usize,
        ids.len(),
        "a refused submission left a row"
    );
    let attempts: i64 = sqlx::query_scalar("SELECT coalesce(sum(attempts), 0) FROM transactions")
        .fetch_one(&stack.db)
        .await
        .unwrap();

    // Every event delivered, each webhook-id seen by the receiver.
    let events = assert_every_event_delivered(&stack, &receiver, ids.len()).await;
    assert!(
        liveness_pipeline::queue::list_dead_letters(&stack.worker_config.queue, 10)
            .await
            .unwrap()
            .is_empty(),
        "no job was given up on"
    );

    worker.kill().unwrap();
    worker.wait().unwrap();
    let accepted_per_phase: Vec<(&str, usize)> = outages.iter().map(|o| (o.0, o.3)).collect();
    eprintln!(
        "outages of {} s: {} captures accepted and judged valid ({} attempts in all), {} refused with 503; \
         refusals while down (count, slowest): {refused_during:?}; accepted before each outage: {accepted_per_phase:?}; \
         {} webhook deliveries for {} events",
        outage.as_secs(),
        ids.len(),
        attempts,
        ledger.calls.iter().filter(|c| c.status == 503).count(),
        receiver.received().len(),
        events,
    );
    Arc::try_unwrap(stack).ok().unwrap().stop().await;
}
