//! `liveness report` on a database of its own, seeded with known verdicts: every format
//! holds the right numbers, and `--chart` writes the PNG it promises.

mod support;

use serde_json::Value;
use sqlx::PgPool;
use std::process::Output;
use support::{block_on, TestDb};

/// A migrated database of its own (dropped when the test ends), seeded with known verdicts.
struct Db {
    db: TestDb,
    acme: i64,
    beta: i64,
}

impl Db {
    fn seeded() -> Db {
        let db = TestDb::new();
        let (acme, beta) = block_on(async {
            let pool = PgPool::connect(&db.url).await.unwrap();
            let ids = seed(&pool).await;
            pool.close().await;
            ids
        });
        Db { db, acme, beta }
    }

    fn report(&self, args: &[&str]) -> Output {
        self.db.liveness(&[&["report"], args].concat(), &[])
    }

    fn ok(&self, args: &[&str]) -> String {
        self.db.ok(&[&["report"], args].concat(), &[])
    }

    fn json(&self, args: &[&str]) -> Vec<Value> {
        let text = self.ok(&[args, &["--format", "json"]].concat());
        serde_json::from_str(&text).unwrap()
    }
}

/// (tenant, decided at, valid, code, failed signal, submit-to-verdict ms, worker ms; NaN:
/// no worker timings).
type Seed = (
    &'static str,
    &'static str,
    bool,
    Option<i16>,
    Option<&'static str>,
    f64,
    f64,
);

/// acme: 1 Nov 2 live, a face-model and a nonce attack, a 704; 2 Nov a live and a 712;
/// nothing on 3 Nov; 4 Nov a replay. beta: 1 Nov 3 live and a face-model attack.
#[rustfmt::skip]
const SEEDS: [Seed; 12] = [
    ("acme", "2026-11-01 09:00:00+00", true, None, None, 100.0, 60.0),
    ("acme", "2026-11-01 10:00:00+00", true, None, None, 200.0, 70.0),
    ("acme", "2026-11-01 11:00:00+00", false, Some(715), None, 300.0, 80.0),
    ("acme", "2026-11-01 12:00:00+00", false, Some(715), Some("nonce_valid"), 400.0, 90.0),
    ("acme", "2026-11-01 23:59:59+00", false, Some(704), None, 500.0, 100.0),
    ("acme", "2026-11-02 08:00:00+00", true, None, None, 150.0, 50.0),
    ("acme", "2026-11-02 09:00:00+00", false, Some(712), None, 900.0, f64::NAN),
    ("acme", "2026-11-04 00:00:00+00", false, Some(715), Some("packet_not_replayed"), 250.0, 40.0),
    ("beta", "2026-11-01 09:30:00+00", true, None, None, 120.0, 60.0),
    ("beta", "2026-11-01 09:31:00+00", true, None, None, 130.0, 60.0),
    ("beta", "2026-11-01 09:32:00+00", true, None, None, 140.0, 60.0),
    ("beta", "2026-11-01 09:33:00+00", false, Some(715), None, 160.0, 60.0),
];

async fn seed(db: &PgPool) -> (i64, i64) {
    let mut ids = Vec::new();
    for name in ["acme", "beta"] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tenants (name, client_id, secret_hash) VALUES ($1, $1, 'x') RETURNING id",
        )
        .bind(name)
        .fetch_one(db)
        .await
        .unwrap();
        ids.push(id);
    }
    for (tenant, decided, valid, code, signal, latency, worker) in SEEDS {
        let tenant_id = ids[usize::from(tenant == "beta")];
        let tx: i64 = sqlx::query_scalar(
            "INSERT INTO transactions (tenant_id, status, s3_bucket, packet_key, packet_sha256, packet_bytes, created_at)
             VALUES ($1, 'done', 'b', 'k', '\\x00', 1, $2::timestamptz - make_interval(secs => $3 / 1000))
             RETURNING id",
        )
        .bind(tenant_id)
        .bind(decided)
        .bind(latency)
        .fetch_one(db)
        .await
        .unwrap();
        let signals = serde_json::json!([
            { "name": "packet_intact", "passed": true, "weight": 0.2, "detail": "" },
            { "name": "nonce_valid", "passed": signal != Some("nonce_valid"), "weight": 0.15, "detail": "" },
            { "name": "packet_not_replayed", "passed": signal.is_none(), "weight": 0.15, "detail": "" },
        ]);
        let timings = if worker.is_nan() {
            serde_json::json!({})
        } else {
            serde_json::json!({ "total": worker })
        };
        sqlx::query(
            "INSERT INTO verdicts (transaction_id, tenant_id, valid, error_code, failed_signal,
                                   face_probability, capture_signals, timings_ms, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz)",
        )
        .bind(tx)
        .bind(tenant_id)
        .bind(valid)
        .bind(code)
        .bind(signal)
        .bind(if valid { 0.99 } else { 0.1 })
        .bind(if code == Some(712) {
            serde_json::json!([])
        } else {
            signals
        })
        .bind(timings)
        .bind(decided)
        .execute(db)
        .await
        .unwrap();
    }
    (ids[0], ids[1])
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-6
}

#[test]
fn daily_attack_rate_per_tenant_and_day() {
    let db = Db::seeded();
    let rows = db.json(&["--tenant", "acme"]);
    let days: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r["day"].as_str().unwrap(),
                r["total"].as_i64().unwrap(),
                r["live"].as_i64().unwrap(),
                r["attacks"].as_i64().unwrap(),
                r["rejected_quality"].as_i64().unwrap(),
                r["service_failures"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-01", 5, 2, 2, 1, 0),
            ("2026-11-02", 2, 1, 0, 0, 1),
            ("2026-11-04", 1, 0, 1, 0, 0),
        ]
    );
    assert!(close(&rows[0]["attack_rate"], 0.4) && close(&rows[2]["attack_rate"], 1.0));
    assert!(rows.iter().all(|r| r["tenant_name"] == "acme"));

    // The same tenant by id; --until as a day includes that day.
    let beta = db.json(&["--tenant", &db.beta.to_string(), "--until", "2026-11-01"]);
    assert_eq!(beta.len(), 1, "{beta:?}");
    assert_eq!(
        (beta[0]["total"].as_i64(), beta[0]["attacks"].as_i64()),
        (Some(4), Some(1))
    );
    assert!(close(&beta[0]["attack_rate"], 0.25));
    let all = db.json(&["--since", "2026-11-02T00:00:00Z"]);
    assert_eq!(all.len(), 2, "acme's 2 and 4 November only: {all:?}");
    assert!(all.iter().all(|r| r["tenant_id"] == db.acme));
}

#[test]
fn outcomes_as_csv_fraud_as_table_signals_and_latency_as_json() {
    let db = Db::seeded();
    let text = db.ok(&[
        "--view",
        "outcomes",
        "--format",
        "csv",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-01",
    ]);
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "day",
            "tenant_id",
            "tenant_name",
            "outcome",
            "error_code",
            "verdicts"
        ]
    );
    let rows: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().skip(2).map(String::from).collect())
        .collect();
    let expected = [
        ["acme", "live", "", "2"],
        ["acme", "rejected_quality", "704", "1"],
        ["acme", "attack", "715", "2"],
        ["beta", "live", "", "3"],
        ["beta", "attack", "715", "1"],
    ];
    assert_eq!(rows, expected);

    let table = db.ok(&["--view", "fraud", "--tenant", "beta"]);
    assert!(
        table.contains("fired") && table.contains("face_model"),
        "{table}"
    );
    assert!(table.contains("beta") && !table.contains("acme"), "{table}");
    let fraud = db.json(&["--view", "fraud", "--tenant", "acme"]);
    let fired: Vec<&str> = fraud.iter().map(|r| r["fired"].as_str().unwrap()).collect();
    assert_eq!(fired, ["face_model", "nonce_valid", "packet_not_replayed"]);

    let signals = db.json(&[
        "--view",
        "signals",
        "--tenant",
        "acme",
        "--until",
        "2026-11-01",
    ]);
    let counts: Vec<_> = signals
        .iter()
        .map(|r| {
            (
                r["signal"].as_str().unwrap(),
                r["evaluated"].as_i64().unwrap(),
                r["failed"].as_i64().unwrap(),
                r["fired"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("nonce_valid", 5, 1, 1),
            ("packet_not_replayed", 5, 1, 0),
            ("packet_intact", 5, 0, 0),
        ]
    );

    let latency = db.json(&["--view", "latency", "--tenant", "acme"]);
    assert_eq!(latency.len(), 3);
    let first = &latency[0];
    assert_eq!(first["verdicts"], 5);
    for (column, value) in [
        ("latency_p50_ms", 300.0),
        ("latency_p95_ms", 480.0),
        ("latency_p99_ms", 496.0),
        ("worker_p50_ms", 80.0),
        ("worker_p95_ms", 98.0),
        ("worker_p99_ms", 99.6),
    ] {
        assert!(close(&first[column], value), "{column}: {first}");
    }
    // The 712 has no worker timings: only the live verdict counts for the worker.
    assert!(
        close(&latency[1]["latency_p50_ms"], 525.0) && close(&latency[1]["worker_p99_ms"], 50.0)
    );
}

/// Pixels of the bar colour per column (chart.rs: opaque RGB 120, 165, 205), below the
/// title band: one entry per run of adjacent columns, its tallest column.
fn bar_heights(png: &image::RgbImage) -> Vec<u32> {
    let mut heights = Vec::new();
    let mut run: Option<u32> = None;
    for x in 0..png.width() {
        let count = (80..png.height())
            .filter(|&y| png.get_pixel(x, y).0 == [120, 165, 205])
            .count() as u32;
        match (count, run) {
            (0, Some(h)) => {
                heights.push(h);
                run = None;
            }
            (0, None) => {}
            (c, h) => run = Some(h.unwrap_or(0).max(c)),
        }
    }
    heights.extend(run);
    heights
}

#[test]
fn chart_is_a_png_with_a_bar_per_day_and_a_rate_line() {
    let db = Db::seeded();
    let path = std::env::temp_dir().join(format!("{}.png", db.db.name));
    let out = db.ok(&["--tenant", "acme", "--chart", path.to_str().unwrap()]);
    assert!(
        out.contains("2026-11-04"),
        "the table is printed too: {out}"
    );
    let png = image::open(&path).unwrap().into_rgb8();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(png.dimensions(), (1000, 500));
    // 1, 2 and 4 November (3 November has no verdicts, an empty slot); 5 : 2 : 1 verdicts.
    let bars = bar_heights(&png);
    assert_eq!(bars.len(), 3, "{bars:?}");
    let ratio = |a: u32, b: u32| a as f64 / b as f64;
    assert!((ratio(bars[0], bars[2]) - 5.0).abs() < 0.3, "{bars:?}");
    assert!((ratio(bars[1], bars[2]) - 2.0).abs() < 0.15, "{bars:?}");
    let red = png.pixels().filter(|p| p.0 == [200, 30, 45]).count();
    assert!(red > 200, "the attack-rate line: {red} pixels");
    // The bundled font drew the title: dark pixels in the band above the plot.
    let ink = (0..png.width())
        .flat_map(|x| (0..40).map(move |y| (x, y)))
        .filter(|&(x, y)| png.get_pixel(x, y).0.iter().all(|&c| c < 100))
        .count();
    assert!(ink > 200, "title text: {ink} dark pixels");
}

#[test]
fn unknown_tenant_and_bad_dates_are_errors() {
    let db = Db::seeded();
    let out = db.report(&["--tenant", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tenant"));
    let out = db.report(&["--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    let out = db.report(&["--since", "2026-11-03", "--until", "2026-11-01"]);
    assert_eq!(out.status.code(), Some(2));
}
