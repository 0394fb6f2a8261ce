//! The reporting views (migrations/20261128000003_reporting.sql) over verdicts that went
//! through the whole pipeline: HTTP submit, S3, RabbitMQ, the worker's models and capture
//! checks. Their numbers are checked exactly, then `liveness_pipeline::db::reports` with tenant
//! and time filters.

mod support;

use liveness_pipeline::db::reports::{self, Filter, TenantRef};
use sqlx::types::chrono::Utc;
use sqlx::PgPool;
use std::time::Duration;
use support::*;

/// Submits a packet and waits for its verdict; the transaction id.
async fn submit(stack: &Stack, client: &Client, packet: Vec<u8>) -> i64 {
    let (status, body) = stack
        .submit(client, form(packet).text("return_id", "true"), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_i64().unwrap()
}

/// A fresh capture of a sample image, sealed with a nonce of the client's.
async fn capture(stack: &Stack, client: &Client, image: &str) -> Vec<u8> {
    let nonce = stack.nonce(client).await;
    stack.packet(image, &nonce).0
}

async fn rows<T>(db: &PgPool, sql: &'static str, tenant: i64) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    sqlx::query_as(sql)
        .bind(tenant)
        .fetch_all(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_count_what_the_pipeline_decided() {
    let stack = Stack::start().await;
    let alice = stack.client("alice").await;
    let bob = stack.client("bob").await;

    // alice: a live capture, the same packet again (a replay), a printed photo, a coffee cup.
    let live = capture(&stack, &alice, "silentface_image_T1.jpg").await;
    let live_id = submit(&stack, &alice, live.clone()).await;
    let replay_id = submit(&stack, &alice, live).await;
    let photo = capture(&stack, &alice, "silentface_image_F1.jpg").await;
    let photo_id = submit(&stack, &alice, photo).await;
    let coffee = capture(&stack, &alice, "coffee.png").await;
    let coffee_id = submit(&stack, &alice, coffee).await;
    // bob: one live capture, which alice's numbers must not include.
    let bob_live = capture(&stack, &bob, "silentface_image_T1.jpg").await;
    submit(&stack, &bob, bob_live).await;

    let db = &stack.db;
    let codes: Vec<(i64, Option<i16>, Option<String>)> = rows(
        db,
        "SELECT transaction_id, error_code, failed_signal FROM verdicts
         WHERE tenant_id = $1 ORDER BY transaction_id",
        alice.tenant_id,
    )
    .await;
    let replay_signal = codes[1].2.clone().expect("a replay fails a capture signal");
    assert_eq!(
        codes,
        [
            (live_id, None, None),
            (replay_id, Some(715), Some(replay_signal.clone())),
            (photo_id, Some(715), None),
            (coffee_id, Some(704), None),
        ]
    );
    assert!(
        ["nonce_valid", "packet_not_replayed"].contains(&replay_signal.as_str()),
        "{replay_signal}"
    );

    // The test may straddle midnight UTC: sum over days.
    let outcomes: Vec<(String, Option<i16>, i64)> = rows(
        db,
        "SELECT outcome, error_code, sum(verdicts)::bigint FROM daily_outcomes
         WHERE tenant_id = $1 GROUP BY outcome, error_code ORDER BY error_code NULLS FIRST",
        alice.tenant_id,
    )
    .await;
    let expected = [
        ("live".to_string(), None, 1),
        ("rejected_quality".to_string(), Some(704), 1),
        ("attack".to_string(), Some(715), 2),
    ];
    assert_eq!(outcomes, expected);

    // Summed over days, and each day's rate is its attacks over its total.
    let sums: (i64, i64, i64, i64, i64, bool) = sqlx::query_as(
        "SELECT sum(total)::bigint, sum(live)::bigint, sum(attacks)::bigint,
                sum(rejected_quality)::bigint, sum(service_failures)::bigint,
                bool_and(abs(attack_rate - attacks::float8 / total) < 1e-12)
         FROM daily_attack_rate WHERE tenant_id = $1",
    )
    .bind(alice.tenant_id)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(sums, (4, 1, 2, 1, 0, true));
    let rates: Vec<(f64,)> = rows(
        db,
        "SELECT attack_rate FROM daily_attack_rate WHERE tenant_id = $1",
        alice.tenant_id,
    )
    .await;
    if rates.len() == 1 {
        assert_eq!(rates[0].0, 0.5);
    }

    let fraud: Vec<(i64, String, Option<f64>, Option<f64>)> = rows(
        db,
        "SELECT transaction_id, fired, face_probability, capture_probability
         FROM fraud_attempts WHERE tenant_id = $1 ORDER BY transaction_id",
        alice.tenant_id,
    )
    .await;
    assert_eq!(fraud.len(), 2, "{fraud:?}");
    assert_eq!(
        (fraud[0].0, fraud[0].1.as_str()),
        (replay_id, replay_signal.as_str())
    );
    assert_eq!(
        fraud[0].3,
        Some(0.0),
        "a capture attack has capture probability 0"
    );
    assert_eq!((fraud[1].0, fraud[1].1.as_str()), (photo_id, "face_model"));
    assert!(
        fraud[1].2.unwrap() < 0.5 && fraud[1].3 == Some(1.0),
        "{fraud:?}"
    );

    // Every capture opened, so every signal was evaluated on all 4 (but `same_face`, which
    // needs faces: not on the coffee cup); only the replay failed any: its nonce, its packet
    // digest and its frame digests.
    let signals: Vec<(String, i64, i64, i64)> = rows(
        db,
        "SELECT signal, sum(evaluated)::bigint, sum(failed)::bigint, sum(fired)::bigint
         FROM capture_signal_frequencies WHERE tenant_id = $1 GROUP BY signal ORDER BY signal",
        alice.tenant_id,
    )
    .await;
    assert!(signals.len() >= 10, "{signals:?}");
    for (signal, evaluated, failed, fired) in &signals {
        let expected = if signal == "same_face" { 3 } else { 4 };
        assert_eq!(*evaluated, expected, "{signal}");
        let replayed = ["nonce_valid", "packet_not_replayed", "frames_not_replayed"];
        assert_eq!(
            *failed,
            i64::from(replayed.contains(&signal.as_str())),
            "{signal}"
        );
        assert_eq!(*fired, i64::from(*signal == replay_signal), "{signal}");
    }

    let latency: Vec<(i64, f64, f64, f64, f64, f64, f64)> = rows(
        db,
        "SELECT verdicts, latency_p50_ms, latency_p95_ms, latency_p99_ms,
                worker_p50_ms, worker_p95_ms, worker_p99_ms
         FROM daily_latency WHERE tenant_id = $1",
        alice.tenant_id,
    )
    .await;
    assert_eq!(latency.iter().map(|l| l.0).sum::<i64>(), 4);
    for l in &latency {
        assert!(0.0 < l.1 && l.1 <= l.2 && l.2 <= l.3, "{l:?}");
        assert!(0.0 < l.4 && l.4 <= l.5 && l.5 <= l.6, "{l:?}");
        // The worker's time is part of the time from submit to verdict.
        assert!(l.4 <= l.1 && l.6 <= l.3, "{l:?}");
    }

    check_reports(&stack, &alice, &bob, replay_id, photo_id).await;
    stack.stop().await;
}

/// The typed reads: tenant by id or by name, other tenants left out, time range applied.
async fn check_reports(stack: &Stack, alice: &Client, bob: &Client, replay: i64, photo: i64) {
    let db = &stack.db;
    let bob_name: String = sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(bob.tenant_id)
        .fetch_one(db)
        .await
        .unwrap();
    let by_id = Filter {
        tenant: Some(TenantRef::Id(alice.tenant_id)),
        ..Filter::default()
    };
    let by_name = Filter {
        tenant: Some(TenantRef::parse(&bob_name)),
        ..Filter::default()
    };
    reports::check_tenant(db, &by_name).await.unwrap();
    let nobody = Filter {
        tenant: Some(TenantRef::Name("nobody".into())),
        ..Filter::default()
    };
    assert!(matches!(
        reports::check_tenant(db, &nobody).await,
        Err(reports::ReportError::UnknownTenant(_))
    ));

    let fraud = reports::fraud_attempts(db, &by_id).await.unwrap();
    let ids: Vec<i64> = fraud.iter().map(|f| f.transaction_id).collect();
    assert_eq!(ids, [replay, photo]);
    assert!(fraud.iter().all(|f| f.tenant_id == alice.tenant_id));
    assert_eq!(fraud[1].fired, "face_model");
    assert!(reports::fraud_attempts(db, &by_name)
        .await
        .unwrap()
        .is_empty());

    let alice_days = reports::daily_attack_rate(db, &by_id).await.unwrap();
    assert_eq!(alice_days.iter().map(|d| d.total).sum::<i64>(), 4);
    assert_eq!(alice_days.iter().map(|d| d.attacks).sum::<i64>(), 2);
    let bob_days = reports::daily_attack_rate(db, &by_name).await.unwrap();
    let sum = |f: fn(&reports::DailyAttackRate) -> i64| bob_days.iter().map(f).sum::<i64>();
    assert_eq!(
        (sum(|d| d.total), sum(|d| d.live), sum(|d| d.attacks)),
        (1, 1, 0)
    );
    assert!(bob_days.iter().all(|d| d.tenant_name == bob_name));
    let everyone = reports::daily_attack_rate(db, &Filter::default())
        .await
        .unwrap();
    assert_eq!(everyone.iter().map(|d| d.total).sum::<i64>(), 5);

    let outcomes = reports::daily_outcomes(db, &by_id).await.unwrap();
    assert_eq!(outcomes.iter().map(|o| o.verdicts).sum::<i64>(), 4);
    let signals = reports::capture_signal_frequencies(db, &by_name)
        .await
        .unwrap();
    assert!(
        !signals.is_empty() && signals.iter().all(|s| s.failed == 0),
        "{signals:?}"
    );
    let latency = reports::daily_latency(db, &by_id).await.unwrap();
    assert!(latency.iter().all(|l| l.worker_p50_ms.is_some()));

    // A range after now, and one that ended yesterday, hold nothing.
    let later = Filter {
        since: Some(Utc::now() + Duration::from_secs(2 * 86_400)),
        ..by_id.clone()
    };
    let earlier = Filter {
        until: Some(Utc::now() - Duration::from_secs(2 * 86_400)),
        ..by_id.clone()
    };
    for filter in [&later, &earlier] {
        assert!(reports::fraud_attempts(db, filter)
            .await
            .unwrap()
            .is_empty());
        assert!(reports::daily_attack_rate(db, filter)
            .await
            .unwrap()
            .is_empty());
        assert!(reports::daily_latency(db, filter).await.unwrap().is_empty());
    }
    let around = Filter {
        since: Some(Utc::now() - Duration::from_secs(3_600)),
        until: Some(Utc::now() + Duration::from_secs(3_600)),
        ..by_id
    };
    assert_eq!(reports::fraud_attempts(db, &around).await.unwrap().len(), 2);
}
