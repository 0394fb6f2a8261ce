//! Chaos soak: captures of every kind submitted concurrently over HTTP while the worker is
//! SIGKILLed and PostgreSQL, RabbitMQ and the S3 server are really restarted, and the webhook
//! receiver goes away for a while. Then: every accepted capture has exactly one verdict with
//! the outcome its kind deserves, refusals were 503 with nothing stored, every event reached
//! the receiver, and the dead-letter queue is empty.
//!
//! The short version runs in the suite; `scripts/soak` runs it long (SOAK_CAPTURES).

mod support;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::receiver::{assert_every_event_delivered, Receiver};
use support::*;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Live,
    Spoof,
    NoFace,
    Replay,
}

impl Kind {
    fn of(i: usize) -> Kind {
        [Kind::Live, Kind::Spoof, Kind::NoFace, Kind::Replay][i % 4]
    }

    fn image(self) -> &'static str {
        match self {
            Kind::Live | Kind::Replay => "silentface_image_T1.jpg",
            Kind::Spoof => "silentface_image_F1.jpg",
            Kind::NoFace => "coffee.png",
        }
    }

    /// (valid, error code) the verdict must have.
    fn expected(self) -> (bool, Option<i64>) {
        match self {
            Kind::Live => (true, None),
            Kind::Spoof | Kind::Replay => (false, Some(715)),
            Kind::NoFace => (false, Some(704)),
        }
    }
}

fn stack_script(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stack");
    let status = Command::new(script).args(args).status().unwrap();
    assert!(status.success(), "scripts/stack {args:?}");
}

#[derive(Default)]
struct Ledger {
    accepted: Vec<(i64, Kind)>,
    refused: BTreeMap<u16, usize>,
    /// Live packets accepted once (with their ids), to be sent again as replays.
    sent: Vec<(i64, Vec<u8>)>,
}

/// One capture of `kind`, retried on 503 (the client's job during an outage) up to a limit.
async fn submit_one(stack: &Stack, client: &Client, kind: Kind, ledger: &Mutex<Ledger>) {
    for _ in 0..40 {
        let packet = match kind {
            // Only a packet whose original is judged: otherwise the two race for "first".
            Kind::Replay => match judged_packet(stack, ledger).await {
                Some(p) => p,
                None => return,
            },
            _ => {
                let session = stack
                    .client
                    .post(stack.url("/api/v3/biometrics/liveness/sessions"))
                    .bearer_auth(&client.token)
                    .send()
                    .await
                    .unwrap();
                if session.status() != 200 {
                    assert_eq!(session.status(), 503, "sessions during an outage");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
                let nonce = session.json::<Value>().await.unwrap()["nonce"]
                    .as_str()
                    .unwrap()
                    .to_string();
                stack.packet(kind.image(), &nonce).0
            }
        };
        let (status, body) = stack
            .submit(client, form(packet.clone()), &[("prefer", "respond-async")])
            .await;
        let mut l = ledger.lock().await;
        if status == 202 {
            l.accepted.push((body["id"].as_i64().unwrap(), kind));
            if kind == Kind::Live {
                l.sent.push((body["id"].as_i64().unwrap(), packet));
            }
            return;
        }
        *l.refused.entry(status).or_default() += 1;
        drop(l);
        assert_eq!(status, 503, "refusals are 503, never {status}: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn judged_packet(stack: &Stack, ledger: &Mutex<Ledger>) -> Option<Vec<u8>> {
    for _ in 0..100 {
        let candidates: Vec<i64> = ledger.lock().await.sent.iter().map(|s| s.0).collect();
        let judged: Option<i64> = sqlx::query_scalar(
            "SELECT transaction_id FROM verdicts WHERE transaction_id = ANY($1) LIMIT 1",
        )
        .bind(&candidates)
        .fetch_optional(&stack.db)
        .await
        .ok()
        .flatten();
        if let Some(id) = judged {
            let mut l = ledger.lock().await;
            let at = l.sent.iter().position(|s| s.0 == id)?;
            return Some(l.sent.swap_remove(at).1);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults() {
    let captures: usize = std::env::var("SOAK_CAPTURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(160);
    let stack = Arc::new(Stack::without_worker().await);
    let client = Arc::new(stack.client("soak").await);
    let mut receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    // Retries that outlast every outage below.
    let worker_env = [(
        "WEBHOOK_RETRY_SCHEDULE",
        "200ms,500ms,1s,2s,2s,2s,2s,2s,2s,2s",
    )];
    let mut worker = spawn_worker_with(&stack, &worker_env);

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let started = Instant::now();
    let span = Duration::from_secs(18 * ((captures / 400).max(1) as u64));
    let mut clients = Vec::new();
    for lane in 0..6 {
        let (stack, client, ledger) = (stack.clone(), client.clone(), ledger.clone());
        clients.push(tokio::spawn(async move {
            for i in (lane..captures).step_by(6) {
                let due = started + span.mul_f64(i as f64 / captures as f64);
                tokio::time::sleep_until(due.into()).await;
                submit_one(&stack, &client, Kind::of(i), &ledger).await;
            }
        }));
    }

    // One fault of each kind every 18 s while submissions are paced over the same span.
    let rounds = (captures / 400).max(1);
    let mut faults = Vec::new();
    for round in 0..rounds {
        let at = |k: u64| {
            tokio::time::sleep_until(
                (started + Duration::from_secs(2 + 18 * round as u64 + 3 * k)).into(),
            )
        };
        at(0).await;
        worker.kill().unwrap();
        worker.wait().unwrap();
        worker = spawn_worker_with(&stack, &worker_env);
        faults.push("worker SIGKILL");
        at(1).await;
        stack_script(&["restart", "s3"]);
        faults.push("S3 restart");
        at(2).await;
        stack_script(&["restart", "rabbitmq"]);
        faults.push("RabbitMQ restart");
        at(3).await;
        stack_script(&["restart", "postgres"]);
        faults.push("PostgreSQL restart");
        at(4).await;
        receiver.down().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        receiver.up().await;
        faults.push("webhook receiver down 3 s");
    }
    for c in clients {
        c.await.unwrap();
    }
    let submitted_in = started.elapsed();

    let ledger = ledger.lock().await;
    let ids: Vec<i64> = ledger.accepted.iter().map(|a| a.0).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    let verdicts = loop {
        let rows: Vec<(i64, bool, Option<i16>, Option<String>)> = sqlx::query_as(
            "SELECT transaction_id, valid, error_code, failed_signal FROM verdicts WHERE transaction_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&stack.db)
        .await
        .unwrap_or_default();
        if rows.len() == ids.len() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by_id: BTreeMap<i64, _> = verdicts.iter().map(|v| (v.0, v)).collect();
    let mut outcomes: BTreeMap<(Kind, bool, Option<i16>), usize> = BTreeMap::new();
    for (id, kind) in &ledger.accepted {
        let v = by_id
            .get(id)
            .unwrap_or_else(|| panic!("accepted {kind:?} capture {id} has no verdict"));
        let (valid, code) = kind.expected();
        assert_eq!(
            (v.1, v.2.map(i64::from)),
            (valid, code),
            "{kind:?} {id}: {v:?}"
        );
        if *kind == Kind::Replay {
            assert!(v.3.is_some(), "a replay names the capture signal: {v:?}");
        }
        *outcomes.entry((*kind, v.1, v.2)).or_default() += 1;
    }
    // Nothing stored for refusals: one transaction and one object per accepted capture.
    let transactions: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(transactions as usize, ids.len());
    let storage = liveness_pipeline::storage::Storage::new(&stack.worker_config.storage);
    let objects = storage
        .list(&format!("tenant-{}/", client.tenant_id))
        .await
        .unwrap();
    let selfies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM transactions WHERE selfie_key IS NOT NULL")
            .fetch_one(&stack.db)
            .await
            .unwrap();
    if objects.len() < 1000 {
        let packets = objects.iter().filter(|k| k.ends_with(".lvcp")).count();
        let kept = objects
            .iter()
            .filter(|k| k.ends_with(".selfie.lvso"))
            .count();
        assert_eq!(packets, ids.len(), "one stored packet per accepted capture");
        assert_eq!(
            kept as i64, selfies,
            "one encrypted selfie per recorded selfie key"
        );
        assert_eq!(packets + kept, objects.len(), "nothing else stored");
    }

    // Every event delivered, each webhook-id seen by the receiver.
    let events = assert_every_event_delivered(&stack, &receiver, ids.len()).await;
    let deliveries = receiver.received().len();

    // The dead-letter queue holds nothing: no job was given up on.
    let connection = liveness_pipeline::queue::connect(&stack.worker_config.queue)
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let dead = liveness_pipeline::queue::dead_letter_queue(&stack.worker_config.queue.queue);
    let dlq = channel
        .queue_declare(
            dead.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(dlq.message_count(), 0, "dead-lettered jobs");
    let _ = connection.close(200, "done".into()).await;

    worker.kill().unwrap();
    worker.wait().unwrap();
    eprintln!(
        "soak: {} captures accepted in {:.1} s ({:?} refused by status), faults: {faults:?}; \
         verdicts by (kind, valid, code): {outcomes:?}; {} webhook deliveries for {} events",
        ids.len(),
        submitted_in.as_secs_f64(),
        ledger.refused,
        deliveries,
        events,
    );
    Arc::try_unwrap(stack).ok().unwrap().stop().await;
}
