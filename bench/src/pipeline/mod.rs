//! Pipeline benchmark: the real producer and worker binaries, PostgreSQL, RabbitMQ and the S3
//! server on this machine, against the engine alone on the same captures in the same run;
//! with each process's CPU time per capture and peak memory.

mod engine;
mod measure;
pub mod procstat;
mod rig;

use crate::table::{ms, ratio, Table};
use anyhow::Context;
use engine::{engine_alone_placed, engine_saturated, load_engine, percentile, Placement};
use measure::{latency_run, latency_stages, measure_intake, stage_means, Intake, Round, Usage};
use rig::{submit_all_async, Rig};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Captures for each run (each a 3-frame burst of the live sample).
    #[arg(long, default_value_t = 200)]
    captures: usize,
    /// The sustained run comes in this many rounds, with the engine alone timed on the same
    /// core before the first and after each: each round's ratio uses the engine time around
    /// it, since this machine's speed drifts by tens of percent within minutes.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Asynchronous requests in flight from the load client.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Only measure the producer's intake (no worker), at each of these numbers of requests
    /// in flight, e.g. 16,32,64,128.
    #[arg(long, value_delimiter = ',')]
    intake_sweep: Vec<usize>,
    /// Worker processes, each with its own inference pool.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Give the workers cores of their own (the last ones, one inference thread each) and pin
    /// the producer, the services and the load client to the others; the bound is then the
    /// workers' cores over the engine time measured on one of them.
    #[arg(long)]
    isolate: bool,
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    /// Where liveness-producer and liveness-worker are (default: beside this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    #[arg(long, default_value = "postgres://postgres:postgres@127.0.0.1:5432")]
    postgres: String,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp: String,
    #[arg(long, default_value = "http://127.0.0.1:8014")]
    s3: String,
    /// The S3 server's process name, to count its CPU and pin it.
    #[arg(long, default_value = "liveness-s3-dev")]
    s3_process: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let place = Placement::new(&args)?;
    let t1 = std::fs::read(args.models.join("silentface_image_T1.jpg"))
        .context("run scripts/fetch-models")?;
    let rgb = liveness_models::decode::decode_rgb(&t1)?;
    // Distinct bursts, so that no capture is a replay of another.
    let bursts: Vec<Vec<Vec<u8>>> = (0..args.captures.max(64) as u32)
        .map(|i| liveness_capture::simulate::noisy_burst(&rgb, 3, 1 + 3 * i))
        .collect();

    if !args.intake_sweep.is_empty() {
        return intake_sweep(&args, &bursts).await;
    }

    let solo = load_engine(&args, 1)?;
    let me = std::process::id();
    let first_engine_ms = engine_alone_placed(&solo, &bursts, 30, &place, &place.all)?;
    // Producer intake with no worker running, on every core (the producer inherits this
    // process's mask).
    let mut rig = Rig::start(&args).await?;
    let api = rig.api.clone();
    let Intake {
        accepted,
        rate: intake_rate,
        cpu: intake_cpu,
    } = measure_intake(&rig, &bursts, args.captures, args.concurrency).await?;

    let client_cores = place.rest.clone().unwrap_or_else(|| place.all.clone());
    let _pinned = match &place.rest {
        Some(rest) => {
            procstat::pin(me, rest)?;
            procstat::pin(rig.producer.id(), rest)?;
            Some(procstat::ServicePinning::apply(
                procstat::services(&args.s3_process),
                rest,
                &place.all,
            )?)
        }
        None => None,
    };

    // The workers drain that backlog first. Then, in rounds, the engine alone is timed while
    // the workers idle, and a round's captures are submitted all at once: the time to its
    // last verdict gives its sustained rate.
    for _ in 0..args.workers {
        rig.add_worker(place.threads, place.workers.as_deref())?;
    }
    api.wait_for_verdicts(accepted).await?;
    let backlog_last_id =
        sqlx::query_scalar!(r#"SELECT coalesce(max(id), 0) AS "last!" FROM transactions"#)
            .fetch_one(&api.db)
            .await?;
    let rounds = args.rounds.max(1);
    let per_round = args.captures.div_ceil(rounds);
    let mut decided = accepted;
    let mut cpu: Vec<(String, f64)> = Vec::new();
    let mut sustained = Vec::with_capacity(rounds);
    let mut engine_before_ms = engine_alone_placed(&solo, &bursts, 15, &place, &client_cores)?;
    for r in 0..rounds {
        let offset = (r * per_round) % bursts.len();
        let packets = api.packets(per_round, &bursts[offset..]).await?;
        let before = Usage::take(&rig);
        let start = std::time::SystemTime::now();
        for status in submit_all_async(&api, packets, args.concurrency).await? {
            anyhow::ensure!(status? == 202, "an asynchronous submit was refused");
        }
        decided += per_round;
        let last = api.wait_for_verdicts(decided).await?;
        let round_cpu = Usage::take(&rig).per_capture(&before, per_round);
        if cpu.is_empty() {
            cpu = round_cpu.iter().map(|(l, _)| (l.clone(), 0.0)).collect();
        }
        for ((_, sum), (_, v)) in cpu.iter_mut().zip(&round_cpu) {
            *sum += v / rounds as f64;
        }
        let engine_after_ms = engine_alone_placed(&solo, &bursts, 15, &place, &client_cores)?;
        sustained.push(Round {
            engine_before_ms,
            engine_after_ms,
            rate: per_round as f64 / last.duration_since(start)?.as_secs_f64(),
        });
        engine_before_ms = engine_after_ms;
    }
    let stages = stage_means(&api, backlog_last_id).await?;
    let mut ratios: Vec<f64> = sustained
        .iter()
        .map(|r| r.rate / r.bound(place.bound_cores))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median_ratio = percentile(&ratios, 0.5);
    let mut rates: Vec<f64> = sustained.iter().map(|r| r.rate).collect();
    rates.sort_by(f64::total_cmp);
    let throughput = percentile(&rates, 0.5);

    // Latency at half the maximum rate, open loop, synchronous requests.
    let rate = throughput / 2.0;
    let n = (args.captures / 2).max(20);
    let (mut latencies, submitted) = latency_run(&api, &bursts, rate, n).await?;
    latencies.sort_by(f64::total_cmp);
    let latency_stages = latency_stages(&api, &submitted).await?;

    let worker_rss: Vec<f64> = rig
        .worker_pids()
        .into_iter()
        .map(procstat::peak_rss_mib)
        .collect();
    let producer_rss = procstat::peak_rss_mib(rig.producer.id());

    drop(api);
    rig.shutdown().await?;

    let engine_times: Vec<f64> = std::iter::once(first_engine_ms)
        .chain(sustained.iter().map(|r| r.engine_after_ms))
        .chain(sustained.first().map(|r| r.engine_before_ms))
        .collect();
    let engine_ms = engine_times.iter().sum::<f64>() / engine_times.len() as f64;
    let bound = place.bound_cores as f64 / (engine_ms / 1e3);
    procstat::pin(me, place.workers.as_deref().unwrap_or(&place.all))?;
    let saturated = engine_saturated(&args, &bursts, place.bound_cores)?;

    let layout = match (&place.workers, &place.rest) {
        (Some(w), Some(r)) => format!("workers on cores {w}, everything else on {r}"),
        _ => "every process on every core".to_string(),
    };
    let mut table = Table::new(&["pipeline (this run)", "value", "target", "ratio"]);
    let mut row = |what: String, value: String, target: &str, r: String| {
        table.row(vec![what, value, target.into(), r]);
    };
    let (fastest, slowest) = engine_times
        .iter()
        .fold((f64::INFINITY, 0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    row(
        format!(
            "engine alone, one thread, ms per capture (3 frames), mean of {} timings ({}-{})",
            engine_times.len(),
            ms(fastest),
            ms(slowest)
        ),
        ms(engine_ms),
        "-",
        "-".into(),
    );
    row(
        format!(
            "engine bound, captures/s ({} cores / mean engine time)",
            place.bound_cores
        ),
        format!("{bound:.1}"),
        "-",
        "-".into(),
    );
    row(
        format!(
            "engine alone, {} threads on {} cores' worth of captures at once, captures/s",
            place.bound_cores, place.bound_cores
        ),
        format!("{saturated:.1}"),
        "-",
        ratio(saturated, bound),
    );
    row(
        format!(
            "sustained throughput, captures/s, {} worker(s), median of {rounds} rounds of {per_round}; ratio: median of the rounds' own",
            args.workers
        ),
        format!("{throughput:.1}"),
        ">= 0.9 x bound",
        format!("{median_ratio:.2}x"),
    );
    row(
        "sustained throughput / engine alone with every bound core busy".into(),
        "-".into(),
        "-",
        ratio(throughput, saturated),
    );
    row(
        format!("submit -> verdict p50 ms at {rate:.1}/s ({n} sync requests)"),
        ms(percentile(&latencies, 0.5)),
        "-",
        "-".into(),
    );
    row(
        "submit -> verdict p99 ms at the same rate".into(),
        ms(percentile(&latencies, 0.99)),
        "< 150",
        "-".into(),
    );
    row(
        format!(
            "producer intake, captures/s, no worker, {} in flight",
            args.concurrency
        ),
        format!("{intake_rate:.1}"),
        ">= 500",
        "-".into(),
    );
    for (i, rss) in worker_rss.iter().enumerate() {
        row(
            format!("worker {} peak RSS, MiB", i + 1),
            format!("{rss:.1}"),
            "-",
            "-".into(),
        );
    }
    row(
        "producer peak RSS, MiB".into(),
        format!("{producer_rss:.1}"),
        "-",
        "-".into(),
    );
    print!("\n### Pipeline ({layout})\n\n{}", table.markdown());

    let mut round_table = Table::new(&[
        "sustained round",
        "engine alone ms, before / after",
        "bound, captures/s",
        "sustained, captures/s",
        "ratio",
    ]);
    for (i, r) in sustained.iter().enumerate() {
        let bound = r.bound(place.bound_cores);
        round_table.row(vec![
            (i + 1).to_string(),
            format!("{} / {}", ms(r.engine_before_ms), ms(r.engine_after_ms)),
            format!("{bound:.1}"),
            format!("{:.1}", r.rate),
            ratio(r.rate, bound),
        ]);
    }
    print!("\n{}", round_table.markdown());

    let mut cpu_table = Table::new(&[
        "CPU ms per capture",
        "intake (no worker)",
        "sustained run",
        "sustained / engine alone",
    ]);
    let total = |parts: &[(String, f64)]| parts.iter().map(|(_, v)| v).sum::<f64>();
    let totals = [
        ("total".to_string(), total(&intake_cpu)),
        ("total".to_string(), total(&cpu)),
    ];
    for ((label, intake), (_, sustained)) in intake_cpu
        .iter()
        .zip(&cpu)
        .chain([(&totals[0], &totals[1])])
    {
        cpu_table.row(vec![
            label.clone(),
            ms(*intake),
            ms(*sustained),
            ratio(*sustained, engine_ms),
        ]);
    }
    print!("\n{}", cpu_table.markdown());

    let mut latency_table = Table::new(&[
        "where a synchronous request's time goes (latency run)",
        "mean ms",
        "p50 ms",
        "p99 ms",
    ]);
    for (label, mut values) in latency_stages {
        values.sort_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        latency_table.row(vec![
            label.to_string(),
            ms(mean),
            ms(percentile(&values, 0.5)),
            ms(percentile(&values, 0.99)),
        ]);
    }
    print!("\n{}", latency_table.markdown());

    let mut stage_table = Table::new(&["worker stage, mean wall ms per job", "ms"]);
    for (label, value) in stages {
        stage_table.row(vec![label.to_string(), ms(value)]);
    }
    print!("\n{}", stage_table.markdown());
    Ok(())
}

/// Producer intake alone (no worker) at several request concurrencies, one producer, in one
/// run; with every part's CPU per accepted capture.
async fn intake_sweep(args: &Args, bursts: &[Vec<Vec<u8>>]) -> anyhow::Result<()> {
    let rig = Rig::start(args).await?;
    let mut rows = Vec::new();
    for &in_flight in &args.intake_sweep {
        let intake = measure_intake(&rig, bursts, args.captures, in_flight).await?;
        rows.push((in_flight, intake));
    }
    let producer_rss = procstat::peak_rss_mib(rig.producer.id());
    rig.shutdown().await?;

    let mut header = vec![
        "in flight".to_string(),
        "accepted".into(),
        "captures/s".into(),
    ];
    header.extend(
        rows[0]
            .1
            .cpu
            .iter()
            .map(|(label, _)| format!("{label} CPU ms")),
    );
    header.push("total CPU ms".into());
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new(&header);
    for (in_flight, intake) in &rows {
        let mut cells = vec![
            in_flight.to_string(),
            format!("{}/{}", intake.accepted, args.captures),
            format!("{:.1}", intake.rate),
        ];
        cells.extend(intake.cpu.iter().map(|(_, v)| ms(*v)));
        cells.push(ms(intake.cpu.iter().map(|(_, v)| v).sum()));
        table.row(cells);
    }
    print!(
        "\n### Producer intake, no worker (target >= 500/s; producer peak RSS {producer_rss:.1} MiB)\n\n{}",
        table.markdown()
    );
    Ok(())
}
