//! The stack under test: the real `liveness-producer` and `liveness-worker` binaries as child
//! processes (so that each has its own CPU time and peak memory), a database, queue and
//! bucket of their own, and a tenant with a token.

use super::Args;
use anyhow::Context;
use liveness_capture::{seal, KeyId, PrivateKey};
use liveness_pipeline::config::{QueueConfig, StorageConfig};
use liveness_pipeline::storage::Storage;
use reqwest::multipart::{Form, Part};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// What the load client needs: the API, its token and the sealing key; shared by the
/// concurrent requests.
pub struct Api {
    pub db: PgPool,
    base: String,
    key: PrivateKey,
    token: String,
    http: reqwest::Client,
}

pub struct Submitted {
    pub status: u16,
    pub elapsed: Duration,
    pub sent_at: SystemTime,
    pub id: Option<i64>,
}

pub struct Rig {
    pub api: Arc<Api>,
    name: String,
    queue: QueueConfig,
    /// The producer's bucket, as the producer sees it.
    storage: Storage,
    admin: PgPool,
    env: Vec<(&'static str, String)>,
    bin_dir: PathBuf,
    pub producer: Child,
    pub workers: Vec<Child>,
    pub s3_process: String,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A process, pinned to `cpus` through taskset (which execs it: same pid) when given.
fn command(bin: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Rig {
    /// Starts the producer and waits until it is ready.
    pub async fn start(args: &Args) -> anyhow::Result<Self> {
        let name = format!("lvb{}", std::process::id());
        let queue = QueueConfig {
            url: args.amqp.clone(),
            queue: format!("{name}.jobs"),
            delivery_limit: 5,
            retry_delays: vec![Duration::from_secs(1)],
        };
        let admin = PgPool::connect(&format!("{}/postgres", args.postgres))
            .await
            .context("PostgreSQL (scripts/stack services)")?;
        // Runtime SQL: the database's name is chosen at run time, and DDL takes no parameters.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await?;
        let storage = StorageConfig {
            endpoint: args.s3.clone(),
            bucket: format!("{name}-captures"),
            ..StorageConfig::from_env()?
        };
        let key = PrivateKey::generate(KeyId::parse("bench")?);
        let jwt_secret = format!("{name}-bench-secret-bench-secret-bench");
        let env = vec![
            ("DATABASE_URL", format!("{}/{name}", args.postgres)),
            ("DATABASE_MAX_CONNECTIONS", "16".into()),
            ("AMQP_URL", queue.url.clone()),
            ("LIVENESS_QUEUE", queue.queue.clone()),
            ("S3_ENDPOINT", storage.endpoint.clone()),
            ("S3_BUCKET", storage.bucket.clone()),
            (
                "LIVENESS_CAPTURE_KEYS",
                format!("{}={}", key.key_id, key.to_base64()),
            ),
            ("LIVENESS_CAPTURE_PUBLIC_KEYS", key.public().to_tagged()),
            (
                "LIVENESS_STORAGE_KEYS",
                liveness_pipeline::storage::at_rest::StorageKeys::generate_entry("bench"),
            ),
            (
                "LIVENESS_WEBHOOK_KEYS",
                liveness_pipeline::storage::at_rest::StorageKeys::generate_entry("bench"),
            ),
            (
                "LIVENESS_PSEUDONYM_KEY",
                liveness_pipeline::storage::at_rest::StorageKeys::generate_entry("bench"),
            ),
            ("LIVENESS_MODEL_DIR", args.models.display().to_string()),
            ("JWT_SECRET", jwt_secret.clone()),
            ("JWT_TTL_SECS", "3600".into()),
            ("SYNC_TIMEOUT_MS", "60000".into()),
            ("SESSION_TTL_SECS", "3600".into()),
            // The bench tenant has no endpoints and nothing expires during a run.
            ("WEBHOOK_DISPATCHER", "false".into()),
            ("RETENTION_INTERVAL_SECS", "0".into()),
            ("RUST_LOG", "warn".into()),
            ("LIVENESS_RETRY_DELAYS", "1s".into()),
            ("LIVENESS_WORKER_LISTEN_ADDR", String::new()),
            // One tenant at the full intake rate: the per-tenant and in-flight limits would
            // shed the load the bench measures.
            ("SUBMIT_RATE_LIMIT", "0".into()),
            ("MAX_IN_FLIGHT", "0".into()),
        ];
        let bin_dir = match &args.bin_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("bench binary folder")?
                .to_path_buf(),
        };
        let port = free_port()?;
        let producer = Command::new(bin_dir.join("liveness-producer"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .context("liveness-producer (cargo build --release --bins)")?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http.get(format!("{base}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the producer never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let db = PgPool::connect(&format!("{}/{name}", args.postgres)).await?;
        let tenant = liveness_pipeline::db::tenants::create(&db, "bench", 0.5).await?;
        let keys = liveness_producer::jwt_keys::JwtKeys::single(&jwt_secret)
            .map_err(anyhow::Error::msg)?;
        let token = liveness_producer::auth::issue(&keys, tenant.tenant.id, 3600);
        Ok(Self {
            api: Arc::new(Api {
                db,
                base,
                key,
                token,
                http,
            }),
            name,
            queue,
            storage: Storage::new(&storage),
            admin,
            env,
            bin_dir,
            producer,
            workers: Vec::new(),
            s3_process: args.s3_process.clone(),
        })
    }

    /// Starts a worker process with an inference pool of `threads`.
    pub fn add_worker(&mut self, threads: usize, cpus: Option<&str>) -> anyhow::Result<()> {
        let worker = command(&self.bin_dir.join("liveness-worker"), cpus)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("LIVENESS_THREADS", threads.to_string())
            .stdout(Stdio::null())
            .spawn()
            .context("liveness-worker (cargo build --release --bins)")?;
        self.workers.push(worker);
        Ok(())
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Child::id).collect()
    }

    /// Stops every process (SIGTERM: in-flight jobs finish), then removes the queues (an
    /// intake run leaves its captures queued), the bucket and the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        for child in self.workers.iter_mut().chain([&mut self.producer]) {
            stop(child);
        }
        liveness_pipeline::queue::remove(&self.queue).await?;
        self.storage.remove_bucket().await?;
        self.api.db.close().await;
        // Runtime SQL: a database name cannot be a bind parameter.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await?;
        Ok(())
    }
}

impl Api {
    /// Sealed captures, each over a fresh session nonce.
    pub async fn packets(&self, n: usize, bursts: &[Vec<Vec<u8>>]) -> anyhow::Result<Vec<Vec<u8>>> {
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
            let burst = &bursts[i % bursts.len()];
            let payload =
                liveness_capture::simulate::burst_payload(nonce, burst, "bench camera", now_ms())?;
            out.push(seal(&payload, &self.key.public())?);
        }
        Ok(out)
    }

    /// Submits one capture (asking for its id, as the seed's `return_id` does).
    pub async fn submit(&self, packet: Vec<u8>, respond_async: bool) -> anyhow::Result<Submitted> {
        let sent_at = SystemTime::now();
        let start = Instant::now();
        let form = Form::new()
            .part("encrypted_file", Part::bytes(packet).file_name("c.lvcp"))
            .text("return_id", "true");
        let mut request = self
            .http
            .post(format!("{}/api/v3/biometrics/liveness/", self.base))
            .bearer_auth(&self.token)
            .multipart(form);
        if respond_async {
            request = request.header("prefer", "respond-async");
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Ok(Submitted {
            status,
            elapsed: start.elapsed(),
            sent_at,
            id: body["id"].as_i64(),
        })
    }

    pub async fn verdicts(&self) -> anyhow::Result<usize> {
        let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM verdicts"#)
            .fetch_one(&self.db)
            .await?;
        Ok(n as usize)
    }

    /// Waits until there are `n` verdicts; returns when the last one was written. Polls
    /// slowly (each poll is work for the database under test) and reads the time from the
    /// verdicts instead.
    pub async fn wait_for_verdicts(&self, n: usize) -> anyhow::Result<SystemTime> {
        while self.verdicts().await? < n {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let last: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar!(r#"SELECT max(decided_at) AS "last!" FROM verdicts"#)
                .fetch_one(&self.db)
                .await?;
        Ok(SystemTime::from(last))
    }
}

/// Submits every packet asynchronously, `in_flight` requests at a time; each request's HTTP
/// status or transport error.
pub async fn submit_all_async(
    api: &Arc<Api>,
    packets: Vec<Vec<u8>>,
    in_flight: usize,
) -> anyhow::Result<Vec<anyhow::Result<u16>>> {
    let gate = Arc::new(Semaphore::new(in_flight));
    let mut tasks = Vec::with_capacity(packets.len());
    for packet in packets {
        let permit = gate.clone().acquire_owned().await?;
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let out = api.submit(packet, true).await;
            drop(permit);
            out
        }));
    }
    let mut statuses = Vec::with_capacity(tasks.len());
    for t in tasks {
        statuses.push(t.await?.map(|s| s.status));
    }
    Ok(statuses)
}
