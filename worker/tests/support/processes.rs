//! More processes beside a stack: another producer, a worker started late, and real worker
//! processes (for crashes and restarts).
#![allow(dead_code)]

use super::*;

/// Another producer beside the stack's, on its own port with its own configuration (other
/// bounds, other keys), on the same database, queue and bucket; stopped when dropped.
pub struct ExtraProducer {
    pub base: String,
    _stop: watch::Sender<bool>,
}

impl ExtraProducer {
    pub async fn start(config: ProducerConfig) -> ExtraProducer {
        let app = Application::build(config).await.expect("producer starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(app.run_until(async move {
            let _ = stopped.changed().await;
        }));
        ExtraProducer { base, _stop: stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A worker in this process, started once the test has set the stage (with
/// `in_process_worker: false`), on any configuration.
pub struct LateWorker {
    stop: watch::Sender<bool>,
    run: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Where its `/healthz`, `/readyz` and `/metrics` answer.
    pub health: String,
}

impl LateWorker {
    pub async fn start(config: WorkerConfig) -> LateWorker {
        let worker = Worker::build(config).await.expect("worker starts");
        let health = format!(
            "http://127.0.0.1:{}",
            worker.health_port().expect("test workers listen")
        );
        let (stop, stopped) = watch::channel(false);
        LateWorker {
            stop,
            run: tokio::spawn(worker.run(stopped)),
            health,
        }
    }

    /// Graceful shutdown: returns once the jobs in flight are finished.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.run.await.unwrap().expect("worker ran");
    }
}

/// The worker binary as a real process against this stack (for kill tests).
pub fn spawn_worker(stack: &Stack) -> std::process::Child {
    spawn_worker_with(stack, &[])
}

/// The worker process with extra environment (later values override the defaults here).
pub fn spawn_worker_with(stack: &Stack, env: &[(&str, &str)]) -> std::process::Child {
    let c = &stack.worker_config;
    std::process::Command::new(env!("CARGO_BIN_EXE_liveness-worker"))
        .env("DATABASE_URL", &c.database.url)
        .env("AMQP_URL", &c.queue.url)
        .env("LIVENESS_QUEUE", &c.queue.queue)
        .env("S3_ENDPOINT", &c.storage.endpoint)
        .env("S3_ACCESS_KEY", &c.storage.access_key)
        .env("S3_SECRET_KEY", c.storage.secret_key.expose_secret())
        .env("S3_BUCKET", &c.storage.bucket)
        .env(
            "LIVENESS_CAPTURE_KEYS",
            format!("{}={}", stack.key.key_id, stack.key.to_base64()),
        )
        .env("LIVENESS_STORAGE_KEYS", &stack.storage_key)
        .env("LIVENESS_WEBHOOK_KEYS", &stack.webhook_key)
        .env("LIVENESS_PSEUDONYM_KEY", &stack.pseudonym_key)
        .env("LIVENESS_MODEL_DIR", &c.model_dir)
        .env("LIVENESS_THREADS", "2")
        .env("LIVENESS_PREFETCH", "2")
        .env("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true")
        .env("WEBHOOK_RETRY_SCHEDULE", "100ms,200ms,400ms,800ms,1s")
        .env("WEBHOOK_CONNECT_TIMEOUT", "1s")
        .env("WEBHOOK_TIMEOUT", "3s")
        .env("WEBHOOK_POLL_INTERVAL", "50ms")
        .env("RUST_LOG", "warn")
        .env("LIVENESS_WORKER_LISTEN_ADDR", "127.0.0.1:0")
        .env("LIVENESS_RETRY_DELAYS", "100ms,200ms,500ms")
        .env(
            "LIVENESS_RETRY_HORIZON_SECS",
            c.retry_horizon.as_secs().to_string(),
        )
        .env("LIVENESS_RECONCILE_INTERVAL_SECS", "1")
        .env("LIVENESS_RECONCILE_GRACE_SECS", "5")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the worker binary starts")
}
