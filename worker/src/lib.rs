//! The worker: consumes jobs from RabbitMQ and turns each capture into a verdict. Every
//! background task runs under a supervisor: one that stops before shutdown (a panic, an error
//! it cannot handle) stops the whole worker with an error, so that the process manager
//! restarts it rather than leaving a worker that silently does half its work.

pub mod config;
mod consume;
mod dead_letters;
pub mod decide;
pub mod faces;
mod health;
mod housekeeping;
mod job;
pub mod judge;

pub use config::WorkerConfig;
pub use housekeeping::Reconciled;

use liveness_capture::{Keyring, Policy};
use liveness_models::{Engine, ModelPaths};
use liveness_pipeline::storage::at_rest::StorageKeys;
use liveness_pipeline::storage::Storage;
use liveness_webhooks::Dispatcher;
use sqlx::PgPool;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;

/// Shared by every job.
pub struct Worker {
    pub db: PgPool,
    pub storage: Storage,
    pub engine: Arc<Engine>,
    pub keys: Keyring,
    pub storage_keys: StorageKeys,
    pub policy: Policy,
    pub max_job_pixels: u64,
    config: WorkerConfig,
    status: Arc<health::Status>,
    health_listener: Mutex<Option<TcpListener>>,
    health_port: Option<u16>,
}

impl Worker {
    /// Loads the models (once), binds the health port and prepares the connections.
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Arc<Self>> {
        // Installed first: counters incremented before the recorder exists are lost.
        liveness_pipeline::telemetry::prometheus();
        let db = liveness_pipeline::db::connect(&config.database).await?;
        liveness_pipeline::db::migrate(&db).await?;
        liveness_webhooks::secrets::seal_plaintext_rows(&db, &config.webhook_keys).await?;
        let storage = Storage::new(&config.storage);
        let paths = ModelPaths::in_dir(&config.model_dir);
        let engine = Arc::new(Engine::load(&paths, config.engine.clone())?);
        let health_listener = match &config.listen_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let health_port = match &health_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        Ok(Arc::new(Self {
            db,
            storage,
            engine,
            keys: config.capture_keys.clone(),
            storage_keys: config.storage_keys.clone(),
            policy: config.policy.clone(),
            max_job_pixels: config.max_job_pixels,
            config,
            status: Arc::default(),
            health_listener: Mutex::new(health_listener),
            health_port,
        }))
    }

    /// The port of `/healthz`, `/readyz` and `/metrics`, when configured.
    pub fn health_port(&self) -> Option<u16> {
        self.health_port
    }

    /// Runs every task until `shutdown` turns true (jobs in flight finish first). Returns an
    /// error, after stopping the other tasks, when one of them stops on its own.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let (stop, stopping) = watch::channel(false);
        let mut tasks = Supervised::default();
        let worker = self.clone();
        tasks.spawn(
            "job consumer",
            consume::reconnecting("jobs", stopping.clone(), move |s| {
                worker.clone().consume_jobs(s)
            }),
        );
        let worker = self.clone();
        tasks.spawn(
            "dead-letter consumer",
            consume::reconnecting("dead letters", stopping.clone(), move |s| {
                worker.clone().consume_dead_letters(s)
            }),
        );
        if let Some(config) = &self.config.webhooks {
            let dispatcher = Dispatcher::new(
                self.db.clone(),
                config.clone(),
                self.config.webhook_keys.clone(),
            )?;
            tasks.spawn("webhook dispatcher", dispatcher.run(stopping.clone()));
        }
        if !self.config.retention_interval.is_zero() {
            tasks.spawn(
                "retention",
                self.clone().purge_periodically(stopping.clone()),
            );
        }
        if !self.config.reconcile_interval.is_zero() {
            tasks.spawn(
                "reconciler",
                self.clone().reconcile_periodically(stopping.clone()),
            );
        }
        if let Some(listener) = self.health_listener.lock().await.take() {
            let mut until = stopping.clone();
            let router = health::router(self.status.clone());
            tasks.spawn("health server", async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = until.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "health server failed");
                }
            });
        }
        let failure = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => None,
            stopped = tasks.next_stopped() => Some(stopped),
        };
        let _ = stop.send(true);
        tasks.finish().await;
        match failure {
            None => Ok(()),
            Some(task) => {
                tracing::error!(
                    task,
                    "a worker task stopped on its own; stopping the worker"
                );
                Err(anyhow::anyhow!("worker task '{task}' stopped unexpectedly"))
            }
        }
    }
}

/// Named tasks whose end before shutdown is a failure.
#[derive(Default)]
struct Supervised {
    tasks: JoinSet<()>,
    names: HashMap<tokio::task::Id, &'static str>,
}

impl Supervised {
    fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.tasks.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Waits for the first task to stop (normally, or by a panic) and names it.
    async fn next_stopped(&mut self) -> &'static str {
        let id = match self.tasks.join_next_with_id().await {
            Some(Ok((id, ()))) => id,
            Some(Err(e)) => {
                tracing::error!(error = %e, "a worker task panicked");
                e.id()
            }
            None => return "none",
        };
        self.names.get(&id).copied().unwrap_or("unknown")
    }

    async fn finish(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::Supervised;

    #[tokio::test]
    async fn supervisor_names_the_task_that_stopped_or_panicked() {
        let mut tasks = Supervised::default();
        tasks.spawn("forever", std::future::pending());
        tasks.spawn("returns", async {});
        assert_eq!(tasks.next_stopped().await, "returns");
        tasks.spawn("panics", async { panic!("a task dies") });
        assert_eq!(tasks.next_stopped().await, "panics");
    }
}
