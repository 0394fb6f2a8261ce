//! The worker: consumes jobs from RabbitMQ and turns each capture into a verdict.

pub mod config;
mod decide;
pub mod faces;
mod job;

pub use config::WorkerConfig;

use futures_lite::StreamExt;
use job::{JobError, Outcome};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use liveness_capture::{Keyring, Policy};
use liveness_models::{Engine, ModelPaths};
use liveness_pipeline::at_rest::StorageKeys;
use liveness_pipeline::queue::{self, Job};
use liveness_pipeline::retention;
use liveness_pipeline::storage::Storage;
use liveness_webhooks::Dispatcher;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Shared by every job.
pub struct Worker {
    pub db: PgPool,
    pub storage: Storage,
    pub engine: Arc<Engine>,
    pub keys: Keyring,
    pub storage_keys: StorageKeys,
    pub policy: Policy,
    pub model_versions: Value,
    pub max_job_pixels: u64,
    config: WorkerConfig,
}

impl Worker {
    /// Loads the models (once) and prepares the connections.
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Arc<Self>> {
        let db = liveness_pipeline::db::connect(&config.database).await?;
        liveness_pipeline::db::migrate(&db).await?;
        let storage = Storage::new(&config.storage);
        let paths = ModelPaths::in_dir(&config.model_dir);
        let engine = Arc::new(Engine::load(&paths, config.engine.clone())?);
        let model_versions = model_versions(&paths)?;
        Ok(Arc::new(Self {
            db,
            storage,
            engine,
            keys: config.capture_keys.clone(),
            storage_keys: config.storage_keys.clone(),
            policy: config.policy.clone(),
            model_versions,
            max_job_pixels: config.max_job_pixels,
            config,
        }))
    }

    /// Purges captures past their tenant's retention, in batches, every retention interval.
    /// Several workers may do it at once: a purge is idempotent.
    async fn purge_periodically(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let batch = self.config.retention_batch;
        loop {
            loop {
                match retention::purge_expired(&self.db, &self.storage, batch).await {
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(purged = n, "captures past retention purged");
                        }
                        if (n as i64) < batch || *shutdown.borrow() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "retention purge failed; next round retries");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.retention_interval) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    fn prefetch(&self) -> u16 {
        match self.config.prefetch {
            // Twice the pool: while some jobs wait on S3 and PostgreSQL, others keep every
            // inference thread busy (one job per thread left the pool idle a third of the time).
            0 => (2 * self.engine.threads()).max(2) as u16,
            n => n,
        }
    }

    /// Consumes until `shutdown` turns true, then finishes the jobs in flight and returns.
    /// Reconnects to the broker with backoff when the connection is lost.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut background = JoinSet::new();
        if let Some(config) = &self.config.webhooks {
            let dispatcher = Dispatcher::new(self.db.clone(), config.clone())?;
            background.spawn(dispatcher.run(shutdown.clone()));
        }
        if !self.config.retention_interval.is_zero() {
            background.spawn(self.clone().purge_periodically(shutdown.clone()));
        }
        let mut backoff = Duration::from_millis(200);
        while !*shutdown.borrow() {
            match self.clone().consume(&mut shutdown).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!(error = %e, "broker connection lost; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        while background.join_next().await.is_some() {}
        Ok(())
    }

    async fn consume(self: Arc<Self>, shutdown: &mut watch::Receiver<bool>) -> anyhow::Result<()> {
        let connection = queue::connect(&self.config.queue).await?;
        let channel = connection.create_channel().await?;
        queue::declare(&channel, &self.config.queue).await?;
        // Prefetch sized to the inference pool (see `prefetch`).
        channel
            .basic_qos(self.prefetch(), BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                self.config.queue.queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %self.config.queue.queue, prefetch = self.prefetch(), "consuming");
        let mut in_flight = JoinSet::new();
        let result = loop {
            tokio::select! {
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        let worker = self.clone();
                        in_flight.spawn(async move { worker.handle(delivery).await });
                    }
                    Some(Err(e)) => break Err(e.into()),
                    None => break Err(anyhow::anyhow!("consumer stream ended")),
                },
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = shutdown.changed() => {
                    tracing::info!(in_flight = in_flight.len(), "shutting down: finishing jobs in flight");
                    let _ = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()).await;
                    break Ok(());
                }
            }
        };
        while in_flight.join_next().await.is_some() {}
        let _ = channel.close(200, "bye".into()).await;
        let _ = connection.close(200, "bye".into()).await;
        result
    }

    async fn handle(self: Arc<Self>, delivery: Delivery) {
        let Ok(job) = serde_json::from_slice::<Job>(&delivery.data) else {
            tracing::error!(
                bytes = delivery.data.len(),
                "unreadable job message; dead-lettering it"
            );
            let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            return;
        };
        let span = tracing::info_span!(
            "job",
            transaction_id = job.transaction_id,
            tenant_id = job.tenant_id
        );
        async move {
            let attempt = delivery_count(&delivery);
            match job::process(&self, job).await {
                Ok(Outcome::Decided { valid }) => {
                    tracing::info!(valid, "verdict committed");
                    ack(&delivery).await;
                }
                Ok(Outcome::AlreadyDone) => {
                    tracing::info!("verdict already committed; acknowledging the redelivery");
                    ack(&delivery).await;
                }
                Err(JobError::Abort { code, reason }) => {
                    tracing::error!(%code, %reason, "capture cannot be judged; recording a failed verdict");
                    match job::record_failure(&self, job, code, &reason).await {
                        Ok(()) => ack(&delivery).await,
                        Err(e) => self.retry_later(&delivery, attempt, &e.to_string()).await,
                    }
                }
                Err(JobError::Retry(reason)) => self.retry_later(&delivery, attempt, &reason).await,
            }
        }
        .instrument(span)
        .await
    }

    /// Exponential backoff with jitter, then back to the queue; the quorum queue's delivery
    /// limit dead-letters a job that never succeeds.
    async fn retry_later(&self, delivery: &Delivery, attempt: u32, reason: &str) {
        let exp = self.config.retry_base.saturating_mul(1 << attempt.min(6));
        let delay = exp
            .min(Duration::from_secs(10))
            .mul_f64(0.5 + rand::random::<f64>() / 2.0);
        tracing::warn!(%reason, attempt, delay_ms = delay.as_millis() as u64, "transient failure; will retry");
        tokio::time::sleep(delay).await;
        if let Err(e) = delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await
        {
            tracing::warn!(error = %e, "nack failed; the broker redelivers on reconnect");
        }
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
        // The verdict is committed; a redelivery will find it and acknowledge.
        tracing::warn!(error = %e, "ack failed");
    }
}

/// How many times the broker has delivered this message before (quorum queues count).
fn delivery_count(delivery: &Delivery) -> u32 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned())
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => Some(n as u32),
            AMQPValue::LongInt(n) => Some(n as u32),
            AMQPValue::LongUInt(n) => Some(n),
            AMQPValue::ShortInt(n) => Some(n as u32),
            _ => None,
        })
        .unwrap_or(0)
}

fn model_versions(paths: &ModelPaths) -> anyhow::Result<Value> {
    let mut versions = serde_json::Map::new();
    for path in [
        &paths.detector,
        &paths.minifasnet_v2,
        &paths.minifasnet_v1se,
    ] {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let digest = Sha256::digest(std::fs::read(path)?);
        versions.insert(name, Value::String(format!("sha256:{digest:x}")));
    }
    Ok(Value::Object(versions))
}
