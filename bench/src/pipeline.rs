//! Pipeline benchmark: the real producer, worker(s), PostgreSQL, RabbitMQ and S3 server on
//! this machine, against the engine alone on the same captures in the same run.

use crate::table::{ms, ratio, Table};
use anyhow::Context;
use liveness_capture::{seal, KeyId, Keyring, PrivateKey};
use liveness_models::{Engine, EngineConfig, ModelPaths};
use liveness_pipeline::config::{DatabaseConfig, QueueConfig, StorageConfig};
use liveness_producer::{Application, ProducerConfig};
use liveness_worker::{Worker, WorkerConfig};
use reqwest::multipart::{Form, Part};
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Semaphore};

#[derive(clap::Args)]
pub struct Args {
    /// Captures for the throughput run (each a 3-frame burst of the live sample).
    #[arg(long, default_value_t = 200)]
    captures: usize,
    /// Worker instances (in this process, each with its own inference pool).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    #[arg(long, default_value = "postgres://postgres:postgres@127.0.0.1:5432")]
    postgres: String,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp: String,
    #[arg(long, default_value = "http://127.0.0.1:8014")]
    s3: String,
}

struct Rig {
    base: String,
    db: PgPool,
    key: PrivateKey,
    token: String,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn rig(args: &Args, workers: usize, threads: usize) -> anyhow::Result<Rig> {
    let name = format!("lvb{}x{}", std::process::id(), rand_suffix());
    let admin = PgPool::connect(&format!("{}/postgres", args.postgres))
        .await
        .context("PostgreSQL (scripts/stack services)")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    let database = DatabaseConfig {
        url: format!("{}/{name}", args.postgres),
        max_connections: 16,
    };
    let queue = QueueConfig {
        url: args.amqp.clone(),
        queue: format!("{name}.jobs"),
        delivery_limit: 5,
    };
    let storage = StorageConfig {
        endpoint: args.s3.clone(),
        region: "us-east-1".into(),
        access_key: std::env::var("S3_ACCESS_KEY").unwrap_or_else(|_| "liveness".into()),
        secret_key: std::env::var("S3_SECRET_KEY").unwrap_or_else(|_| "liveness-secret".into()),
        bucket: name.replace('x', "-"),
    };
    let key = PrivateKey::generate(KeyId::parse("bench")?);
    let keys = Keyring::new([key.clone()]);
    let config = ProducerConfig {
        listen_addr: "127.0.0.1:0".into(),
        database: database.clone(),
        queue: queue.clone(),
        storage: storage.clone(),
        jwt_secret: format!("{name}-bench-secret-bench-secret-bench"),
        jwt_ttl: Duration::from_secs(3600),
        sync_timeout: Duration::from_secs(60),
        max_body_bytes: 20 << 20,
        session_ttl: Duration::from_secs(3600),
        capture_keys: keys.clone(),
        webhook_allow_private: false,
        webhook_rotation_grace: Duration::from_secs(3600),
        web_dir: std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist")),
    };
    let app = Application::build(config.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = watch::channel(false);
    let mut on_stop = stopped.clone();
    tokio::spawn(app.run_until(async move {
        let _ = on_stop.changed().await;
    }));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let worker = Worker::build(WorkerConfig {
            database: database.clone(),
            queue: queue.clone(),
            storage: storage.clone(),
            capture_keys: keys.clone(),
            model_dir: args.models.clone(),
            engine: EngineConfig {
                threads,
                ..EngineConfig::default()
            },
            prefetch: 0,
            retry_base: Duration::from_millis(100),
            policy: liveness_capture::Policy::default(),
            // The bench tenant has no endpoints; the dispatcher would only poll.
            webhooks: None,
            retention_interval: Duration::ZERO,
            retention_batch: 500,
        })
        .await?;
        let stopped = stopped.clone();
        handles.push(tokio::spawn(async move {
            let _ = worker.run(stopped).await;
        }));
    }
    let db = liveness_pipeline::db::connect(&database).await?;
    let tenant = liveness_pipeline::tenants::create(&db, "bench", 0.5).await?;
    let token = liveness_producer::auth::issue(&config.jwt_secret, tenant.tenant.id, 3600);
    Ok(Rig {
        base,
        db,
        key,
        token,
        http: reqwest::Client::new(),
        stop,
        workers: handles,
    })
}

fn rand_suffix() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        % 100_000
}

impl Rig {
    async fn packets(&self, n: usize, frames: &[Vec<Vec<u8>>]) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let session: serde_json::Value = self
                .http
                .post(format!("{}/api/v3/biometrics/liveness/sessions", self.base))
                .bearer_auth(&self.token)
                .send()
                .await?
                .json()
                .await?;
            let nonce = session["nonce"].as_str().context("nonce")?;
            let burst = &frames[i % frames.len()];
            let payload =
                liveness_capture::simulate::burst_payload(nonce, burst, "bench camera", now_ms())?;
            out.push(seal(&payload, &self.key.public())?);
        }
        Ok(out)
    }

    /// Submits one capture; returns the HTTP status and the elapsed time.
    async fn submit(
        &self,
        packet: Vec<u8>,
        respond_async: bool,
    ) -> anyhow::Result<(u16, Duration)> {
        let start = Instant::now();
        let mut request = self
            .http
            .post(format!("{}/api/v3/biometrics/liveness/", self.base))
            .bearer_auth(&self.token)
            .multipart(Form::new().part("encrypted_file", Part::bytes(packet).file_name("c.lvcp")));
        if respond_async {
            request = request.header("prefer", "respond-async");
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let _ = response.bytes().await?;
        Ok((status, start.elapsed()))
    }

    async fn verdicts(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM verdicts")
            .fetch_one(&self.db)
            .await?)
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        for w in self.workers {
            let _ = w.await;
        }
    }
}

/// Submits every packet asynchronously, 32 requests in flight; each request's HTTP status
/// or transport error.
async fn submit_all_async(
    rig: &Arc<Rig>,
    packets: Vec<Vec<u8>>,
) -> anyhow::Result<Vec<anyhow::Result<u16>>> {
    let gate = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::with_capacity(packets.len());
    for packet in packets {
        let permit = gate.clone().acquire_owned().await?;
        let rig = rig.clone();
        tasks.push(tokio::spawn(async move {
            let out = rig.submit(packet, true).await;
            drop(permit);
            out
        }));
    }
    let mut statuses = Vec::with_capacity(tasks.len());
    for t in tasks {
        statuses.push(t.await?.map(|(status, _)| status));
    }
    Ok(statuses)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t1 = std::fs::read(args.models.join("silentface_image_T1.jpg"))
        .context("run scripts/fetch-models")?;
    let rgb = liveness_models::decode::decode_rgb(&t1)?;
    // Distinct bursts, so that no capture is a replay of another.
    let bursts: Vec<Vec<Vec<u8>>> = (0..args.captures.max(64) as u32)
        .map(|i| liveness_capture::simulate::noisy_burst(&rgb, 3, 1 + 3 * i))
        .collect();

    // Engine alone: one thread, the three frames of a capture, as the worker runs them.
    let engine = Engine::load(
        &ModelPaths::in_dir(&args.models),
        EngineConfig {
            threads: 1,
            ..EngineConfig::default()
        },
    )?;
    let mut engine_ms = Vec::new();
    for burst in bursts.iter().take(20) {
        let refs: Vec<&[u8]> = burst.iter().map(Vec::as_slice).collect();
        let t = Instant::now();
        engine.analyze_many(&refs);
        engine_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    drop(engine);
    engine_ms.sort_by(f64::total_cmp);
    let engine_capture_ms = percentile(&engine_ms, 0.5);
    let bound = cores as f64 / (engine_capture_ms / 1e3);

    // Producer intake with no worker running.
    let rig_ref = Arc::new(rig(&args, 0, cores).await?);
    let intake_packets = rig_ref.packets(args.captures, &bursts).await?;
    let start = Instant::now();
    let accepted = submit_all_async(&rig_ref, intake_packets)
        .await?
        .iter()
        .filter(|s| matches!(s, Ok(202)))
        .count();
    let intake_rate = accepted as f64 / start.elapsed().as_secs_f64();
    if let Ok(r) = Arc::try_unwrap(rig_ref) {
        r.shutdown().await;
    }

    // Sustained throughput: everything submitted at once (async), time to the last verdict.
    let r = Arc::new(rig(&args, args.workers, cores).await?);
    let packets = r.packets(args.captures, &bursts).await?;
    let start = Instant::now();
    for status in submit_all_async(&r, packets).await? {
        status?;
    }
    while (r.verdicts().await? as usize) < args.captures {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let throughput = args.captures as f64 / start.elapsed().as_secs_f64();

    // Latency at half the maximum rate, open loop, synchronous requests.
    let rate = throughput / 2.0;
    let n = (args.captures / 2).max(20);
    let packets = r
        .packets(n, &bursts[bursts.len() - n.min(bursts.len())..])
        .await?;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, packet) in packets.into_iter().enumerate() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(start + interval * i as u32)).await;
        let rr = r.clone();
        tasks.push(tokio::spawn(async move { rr.submit(packet, false).await }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        let (status, elapsed) = t.await??;
        anyhow::ensure!(status == 200, "synchronous submit answered {status}");
        latencies.push(elapsed.as_secs_f64() * 1e3);
    }
    latencies.sort_by(f64::total_cmp);
    if let Ok(r) = Arc::try_unwrap(r) {
        r.shutdown().await;
    }

    let mut table = Table::new(&["pipeline (this run)", "value", "target", "ratio"]);
    table.row(vec![
        "engine alone, one thread, ms per capture (3 frames)".into(),
        ms(engine_capture_ms),
        "-".into(),
        "-".into(),
    ]);
    table.row(vec![
        format!("engine bound, captures/s ({cores} cores / engine time)"),
        format!("{bound:.1}"),
        "-".into(),
        "-".into(),
    ]);
    table.row(vec![
        format!(
            "sustained throughput, captures/s, {} worker(s), {} captures",
            args.workers, args.captures
        ),
        format!("{throughput:.1}"),
        ">= 0.9 x bound".into(),
        ratio(throughput, bound),
    ]);
    table.row(vec![
        format!("submit -> verdict p50 ms at {rate:.1}/s ({n} sync requests)"),
        ms(percentile(&latencies, 0.5)),
        "-".into(),
        "-".into(),
    ]);
    table.row(vec![
        "submit -> verdict p99 ms at the same rate".into(),
        ms(percentile(&latencies, 0.99)),
        "< 150".into(),
        "-".into(),
    ]);
    table.row(vec![
        "producer intake, captures/s, no worker".into(),
        format!("{intake_rate:.1}"),
        ">= 500".into(),
        "-".into(),
    ]);
    print!("\n### Pipeline\n\n{}", table.markdown());
    Ok(())
}
