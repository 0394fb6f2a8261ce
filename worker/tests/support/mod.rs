//! A whole stack per test: its own database, queue and bucket on the real PostgreSQL,
//! RabbitMQ and S3 server (scripts/stack services), the producer on port 0 and the worker
//! in process (or as a real child process, for the crash test).
#![allow(dead_code)]

mod api;
mod captures;
mod processes;
pub mod receiver;

// Each test binary uses its own subset of these.
#[allow(unused_imports)]
pub use api::*;
#[allow(unused_imports)]
pub use captures::*;
#[allow(unused_imports)]
pub use processes::*;

use liveness_capture::{seal, KeyId, Keyring, Payload, PrivateKey};
use liveness_models::EngineConfig;
use liveness_pipeline::config::{DatabaseConfig, QueueConfig, StorageConfig};
use liveness_pipeline::pseudonym::PseudonymKey;
use liveness_pipeline::storage::at_rest::StorageKeys;
use liveness_pipeline::storage::Storage;
use liveness_producer::jwt_keys::JwtKeys;
use liveness_producer::{Application, ProducerConfig};
use liveness_webhooks::DispatcherConfig;
use liveness_worker::{Worker, WorkerConfig};
use reqwest::multipart::{Form, Part};
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

pub const ADMIN_DATABASE_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

pub fn assets() -> PathBuf {
    std::env::var_os("LIVENESS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/assets"))
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}{}x{n}x{}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Removes the buckets of earlier test processes that died before their `Stack::stop` (a
/// failed assertion, a kill). Bucket names carry the test process's pid (`lvt<pid>-...`), so a
/// bucket whose process no longer runs is a leftover; live runs' buckets are never touched.
async fn remove_dead_runs_buckets(storage: &StorageConfig) {
    let Ok(names) = Storage::new(storage).bucket_names().await else {
        return; // the test itself will report an unreachable S3 server
    };
    for name in names {
        let Some(pid) = name
            .strip_prefix("lvt")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let leftover = StorageConfig {
            bucket: name,
            ..storage.clone()
        };
        let _ = Storage::new(&leftover).remove_bucket().await;
    }
}

pub struct Stack {
    pub base: String,
    pub db: PgPool,
    pub key: PrivateKey,
    /// This stack's LIVENESS_STORAGE_KEYS entry (the selfie's encryption key).
    pub storage_key: String,
    /// This stack's LIVENESS_WEBHOOK_KEYS entry (seals the endpoints' secrets).
    pub webhook_key: String,
    /// This stack's LIVENESS_PSEUDONYM_KEY entry.
    pub pseudonym_key: String,
    /// This stack's JWT_SECRET (key id `default`).
    pub jwt_secret: String,
    pub producer_config: ProducerConfig,
    pub worker_config: WorkerConfig,
    pub client: reqwest::Client,
    stop: watch::Sender<bool>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

pub struct Client {
    pub tenant_id: i64,
    pub token: String,
}

pub struct Options {
    pub in_process_worker: bool,
    pub amqp_url: Option<String>,
    /// Where the producer finds object storage (default: the running S3 server).
    pub s3_endpoint: Option<String>,
    /// How often the in-process worker purges captures past retention (zero: never).
    pub retention_interval: Duration,
    /// The worker's capture policy (default: the production default).
    pub policy: liveness_capture::Policy,
    /// How long a capture session's nonce lives (default: five minutes, as in production).
    pub session_ttl: Duration,
    /// The capture keys of producer (public halves) and worker, with their schedules
    /// (default: one key, `e2e-key`, active since ever). The stack seals to the first key
    /// the producer offers.
    pub capture_keys: Option<Keyring>,
    /// How long the worker retries a job that fails transiently (default: 30 s).
    pub retry_horizon: Duration,
    /// How often the in-process worker reconciles (default: every second; zero: never).
    pub reconcile_interval: Duration,
    /// Model sets the in-process worker serves besides the default (restricted ones allowed).
    pub model_sets: Vec<String>,
}

/// Delay queues of every test stack: short, so a retried job comes back within a second.
pub const TEST_RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(500),
];

impl Default for Options {
    fn default() -> Self {
        Self {
            in_process_worker: true,
            amqp_url: None,
            s3_endpoint: None,
            retention_interval: Duration::ZERO,
            policy: liveness_capture::Policy::default(),
            session_ttl: Duration::from_secs(300),
            capture_keys: None,
            retry_horizon: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(1),
            model_sets: Vec::new(),
        }
    }
}

/// Fast retries, short timeouts, loopback receivers allowed: webhook tests finish in seconds.
pub fn test_dispatcher() -> DispatcherConfig {
    DispatcherConfig {
        schedule: liveness_webhooks::config::parse_schedule("100ms,200ms,400ms,800ms,1s,1s,1s,1s")
            .unwrap(),
        max_age: Duration::from_secs(120),
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(3),
        retry_after_max: Duration::from_secs(5),
        batch: 16,
        concurrency: 64,
        endpoint_concurrency: 4,
        poll_interval: Duration::from_millis(50),
        allow_private: true,
    }
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(Options::default()).await
    }

    /// Producer only: the test starts a worker when it needs one (a `LateWorker`, or a
    /// process it can kill), or none at all.
    pub async fn without_worker() -> Stack {
        Self::start_with(Options {
            in_process_worker: false,
            ..Options::default()
        })
        .await
    }

    pub async fn start_with(options: Options) -> Stack {
        let name = unique("lvt");
        let admin = PgPool::connect(ADMIN_DATABASE_URL)
            .await
            .expect("PostgreSQL runs (scripts/stack services)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let database = DatabaseConfig {
            url: format!("postgres://postgres:postgres@127.0.0.1:5432/{name}"),
            max_connections: 8,
            acquire_timeout: Duration::from_millis(1000),
        };
        let queue = QueueConfig {
            url: options
                .amqp_url
                .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
            queue: format!("{name}.jobs"),
            delivery_limit: 5,
            retry_delays: TEST_RETRY_DELAYS.to_vec(),
        };
        let storage = StorageConfig {
            bucket: name.replace('x', "-"),
            ..StorageConfig::from_env().expect("S3_* settings")
        };
        static LEFTOVERS_REMOVED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        LEFTOVERS_REMOVED
            .get_or_init(|| remove_dead_runs_buckets(&storage))
            .await;
        let producer_storage = StorageConfig {
            endpoint: options
                .s3_endpoint
                .clone()
                .unwrap_or_else(|| storage.endpoint.clone()),
            ..storage.clone()
        };
        let keys = options.capture_keys.clone().unwrap_or_else(|| {
            Keyring::new([PrivateKey::generate(KeyId::parse("e2e-key").unwrap())])
        });
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let key = keys
            .get(keys.public().offered(now_ms)[0].key_id.as_str())
            .unwrap()
            .clone();
        let storage_key = StorageKeys::generate_entry("e2e-storage");
        let storage_keys = StorageKeys::parse(&storage_key).unwrap();
        let webhook_key = StorageKeys::generate_entry("e2e-webhook");
        let webhook_keys = StorageKeys::parse(&webhook_key).unwrap();
        let pseudonym_key = PseudonymKey::generate_entry("e2e-pseudonym");
        let jwt_secret = format!("{name}-jwt-secret-of-at-least-32-bytes");
        let producer_config = ProducerConfig {
            listen_addr: "127.0.0.1:0".into(),
            database: database.clone(),
            queue: queue.clone(),
            storage: producer_storage,
            jwt_keys: JwtKeys::single(&jwt_secret).unwrap(),
            jwt_ttl: Duration::from_secs(600),
            sync_timeout: Duration::from_secs(30),
            max_body_bytes: 4 * 1024 * 1024,
            session_ttl: options.session_ttl,
            capture_keys: keys.public(),
            storage_keys: storage_keys.clone(),
            webhook_keys: webhook_keys.clone(),
            pseudonym_key: PseudonymKey::parse(&pseudonym_key).unwrap(),
            webhook_allow_private: true,
            webhook_rotation_grace: Duration::from_secs(3600),
            web_dir: std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist")),
            shedding: Default::default(),
        };
        let worker_config = WorkerConfig {
            database,
            queue,
            storage,
            capture_keys: keys,
            storage_keys,
            webhook_keys,
            pseudonym_key: PseudonymKey::parse(&pseudonym_key).unwrap(),
            model_dir: assets(),
            engine: EngineConfig {
                threads: 2,
                model_sets: options.model_sets.clone(),
                allow_restricted_models: !options.model_sets.is_empty(),
                ..EngineConfig::default()
            },
            prefetch: 2,
            retry_horizon: options.retry_horizon,
            policy: options.policy.clone(),
            webhooks: Some(test_dispatcher()),
            retention_interval: options.retention_interval,
            retention_batch: 2,
            max_job_pixels: liveness_capture::DEFAULT_MAX_JOB_PIXELS,
            listen_addr: Some("127.0.0.1:0".into()),
            reconcile_interval: options.reconcile_interval,
            reconcile_grace: Duration::from_secs(5),
            stale_processing: options.retry_horizon + Duration::from_secs(30),
            session_keep: Duration::from_secs(3600),
            digest_keep: Duration::from_secs(86400),
            housekeeping_batch: 100,
        };
        let app = Application::build(producer_config.clone())
            .await
            .expect("producer starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (stop, stopped) = watch::channel(false);
        let mut on_stop = stopped.clone();
        tokio::spawn(app.run_until(async move {
            let _ = on_stop.changed().await;
        }));
        let worker = if options.in_process_worker {
            let worker = Worker::build(worker_config.clone())
                .await
                .expect("worker starts");
            Some(tokio::spawn(async move {
                worker.run(stopped).await.expect("worker runs");
            }))
        } else {
            None
        };
        let db = liveness_pipeline::db::connect(&producer_config.database)
            .await
            .unwrap();
        Stack {
            base,
            db,
            key,
            storage_key,
            webhook_key,
            pseudonym_key,
            jwt_secret,
            producer_config,
            worker_config,
            client: reqwest::Client::new(),
            stop,
            worker,
        }
    }

    /// Stops producer and worker, then removes this test's database, queues and bucket (the
    /// broker, the database server and the S3 server are shared by every test and every run).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(worker) = self.worker.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), worker).await;
        }
        self.db.close().await;
        let _ = Storage::new(&self.worker_config.storage)
            .remove_bucket()
            .await;
        let _ = liveness_pipeline::queue::remove(&QueueConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            ..self.worker_config.queue.clone()
        })
        .await;
        let name = self
            .worker_config
            .database
            .url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if let Ok(admin) = PgPool::connect(ADMIN_DATABASE_URL).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&admin)
            .await;
        }
    }
}

/// Polls `check` until it holds; fails the test after a minute.
pub async fn wait_for<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
