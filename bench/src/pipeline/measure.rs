//! What a run measures besides the rate: intake, each part's CPU time per capture, and the
//! latency of each stage.

use super::procstat::{self, Snapshot};
use super::rig::{self, submit_all_async, Rig};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// One round of the sustained run: its captures' rate and the engine alone around it.
pub(super) struct Round {
    pub(super) engine_before_ms: f64,
    pub(super) engine_after_ms: f64,
    pub(super) rate: f64,
}

impl Round {
    /// The issue's bound for this round: cores over the engine time measured around it.
    pub(super) fn bound(&self, cores: usize) -> f64 {
        cores as f64 / ((self.engine_before_ms + self.engine_after_ms) / 2.0 / 1e3)
    }
}

/// Producer intake: `captures` fresh captures submitted asynchronously, `in_flight` at a time.
pub(super) struct Intake {
    pub(super) accepted: usize,
    pub(super) rate: f64,
    /// CPU ms per accepted capture of each part of the stack.
    pub(super) cpu: Vec<(String, f64)>,
}

pub(super) async fn measure_intake(
    rig: &Rig,
    bursts: &[Vec<Vec<u8>>],
    captures: usize,
    in_flight: usize,
) -> anyhow::Result<Intake> {
    let packets = rig.api.packets(captures, bursts).await?;
    let before = Usage::take(rig);
    let start = Instant::now();
    let statuses = submit_all_async(&rig.api, packets, in_flight).await?;
    let elapsed = start.elapsed().as_secs_f64();
    let accepted = statuses.iter().filter(|s| matches!(s, Ok(202))).count();
    Ok(Intake {
        accepted,
        rate: accepted as f64 / elapsed,
        cpu: Usage::take(rig).per_capture(&before, accepted.max(1)),
    })
}

/// CPU snapshots of every part of the stack, taken together.
pub(super) struct Usage {
    pub(super) parts: Vec<(String, Snapshot)>,
}

impl Usage {
    pub(super) fn take(rig: &Rig) -> Self {
        let mut parts = vec![
            ("worker(s)".to_string(), Snapshot::of(&rig.worker_pids())),
            ("producer".to_string(), Snapshot::of(&[rig.producer.id()])),
        ];
        for (label, comm) in procstat::services(&rig.s3_process) {
            parts.push((label, Snapshot::of(&procstat::pids_named(&comm))));
        }
        parts.push((
            "load client (this process)".to_string(),
            Snapshot::of(&[std::process::id()]),
        ));
        Self { parts }
    }

    /// CPU milliseconds per capture of each part since `before`.
    pub(super) fn per_capture(&self, before: &Usage, captures: usize) -> Vec<(String, f64)> {
        let tick_ms = 1e3 / procstat::ticks_per_second();
        self.parts
            .iter()
            .zip(&before.parts)
            .map(|((label, now), (_, then))| {
                (
                    label.clone(),
                    now.since(then) as f64 * tick_ms / captures as f64,
                )
            })
            .collect()
    }
}

/// Mean of the worker's own stage timings over the verdicts after `after_id`.
pub(super) async fn stage_means(
    api: &rig::Api,
    after_id: i64,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let row = sqlx::query!(
        "SELECT avg((timings_ms->>'fetch')::float8) AS fetch, avg((timings_ms->>'capture')::float8) AS capture,
                avg((timings_ms->>'faces')::float8) AS faces, avg((timings_ms->>'total')::float8) AS total
         FROM verdicts WHERE transaction_id > $1",
        after_id
    )
    .fetch_one(&api.db)
    .await?;
    Ok(vec![
        ("fetch from S3", row.fetch.unwrap_or(0.0)),
        ("open + capture checks", row.capture.unwrap_or(0.0)),
        ("decode + face models", row.faces.unwrap_or(0.0)),
        (
            "job total (start to verdict written)",
            row.total.unwrap_or(0.0),
        ),
    ])
}

/// `n` synchronous requests at `rate`, open loop: each one's latency and what it returned.
pub(super) async fn latency_run(
    api: &Arc<rig::Api>,
    bursts: &[Vec<Vec<u8>>],
    rate: f64,
    n: usize,
) -> anyhow::Result<(Vec<f64>, Vec<rig::Submitted>)> {
    let packets = api
        .packets(n, &bursts[bursts.len() - n.min(bursts.len())..])
        .await?;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, packet) in packets.into_iter().enumerate() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(start + interval * i as u32)).await;
        let api = api.clone();
        tasks.push(tokio::spawn(async move { api.submit(packet, false).await }));
    }
    let mut latencies = Vec::new();
    let mut submitted = Vec::new();
    for t in tasks {
        let s = t.await??;
        anyhow::ensure!(s.status == 200, "synchronous submit answered {}", s.status);
        latencies.push(s.elapsed.as_secs_f64() * 1e3);
        submitted.push(s);
    }
    Ok((latencies, submitted))
}

/// Splits each synchronous request's latency at the moments the database recorded: the row
/// inserted (after the upload and the S3 PUT), the worker's job (its own timing), the verdict
/// committed. The clocks are the same machine's.
pub(super) async fn latency_stages(
    api: &rig::Api,
    submitted: &[rig::Submitted],
) -> anyhow::Result<Vec<(&'static str, Vec<f64>)>> {
    let ids: Vec<i64> = submitted.iter().filter_map(|s| s.id).collect();
    type Row = (
        i64,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        f64,
        f64,
        f64,
        f64,
        f64,
    );
    let rows: Vec<Row> = sqlx::query!(
        r#"SELECT t.id, t.created_at, v.decided_at, (v.timings_ms->>'total')::float8 AS "job!",
                  (v.timings_ms->>'fetch')::float8 AS "fetch!", (v.timings_ms->>'capture')::float8 AS "capture!",
                  (v.timings_ms->>'faces')::float8 AS "faces!",
                  (SELECT coalesce(sum((f->'timings_ms'->>'total')::float8), 0)
                   FROM jsonb_array_elements(v.frames) f) AS "engine!"
           FROM transactions t JOIN verdicts v ON v.transaction_id = t.id
           WHERE t.id = ANY($1)"#,
        &ids
    )
    .fetch_all(&api.db)
    .await?
    .into_iter()
    .map(|r| (r.id, r.created_at, r.decided_at, r.job, r.fetch, r.capture, r.faces, r.engine))
    .collect();
    anyhow::ensure!(
        rows.len() == submitted.len(),
        "a synchronous request has no verdict"
    );
    let mut stages: Vec<(&'static str, Vec<f64>)> = vec![
        (
            "request sent -> row inserted (upload, S3 PUT, insert)",
            vec![],
        ),
        (
            "row -> worker starts (publish, queue, delivery, waiting)",
            vec![],
        ),
        ("worker job (fetch, open, checks, faces)", vec![]),
        ("  of which fetch from S3", vec![]),
        ("  of which open + capture checks", vec![]),
        ("  of which decode + face models", vec![]),
        (
            "    of which the engine's own per-frame totals (no decode)",
            vec![],
        ),
        (
            "verdict commit -> response received (NOTIFY, lookup, answer)",
            vec![],
        ),
        ("total", vec![]),
    ];
    let epoch_ms = |t: SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    for s in submitted {
        let Some(&(_, created, decided, job_ms, fetch_ms, capture_ms, faces_ms, engine_ms)) =
            rows.iter().find(|r| Some(r.0) == s.id)
        else {
            continue;
        };
        let sent = epoch_ms(s.sent_at);
        let created = created.timestamp_micros() as f64 / 1e3;
        let decided = decided.timestamp_micros() as f64 / 1e3;
        let total = s.elapsed.as_secs_f64() * 1e3;
        let parts = [
            created - sent,
            decided - created - job_ms,
            job_ms,
            fetch_ms,
            capture_ms,
            faces_ms,
            engine_ms,
            sent + total - decided,
            total,
        ];
        for (stage, value) in stages.iter_mut().zip(parts) {
            stage.1.push(value);
        }
    }
    Ok(stages)
}
