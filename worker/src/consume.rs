//! Jobs from the work queue: each judged on its own task, acknowledged once its verdict is
//! committed; a transient failure parks it in a delay queue instead of holding its prefetch
//! slot, until the retry horizon closes it with a failed verdict.

use crate::job::{self, JobError, Outcome};
use crate::Worker;
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use liveness_contract::RejectionCode;
use liveness_pipeline::queue::{self, Job, Publisher, RetryState};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Runs `session` until shutdown, starting a new one with backoff whenever the broker
/// connection is lost.
pub(crate) async fn reconnecting<F, Fut>(
    what: &'static str,
    mut shutdown: watch::Receiver<bool>,
    mut session: F,
) where
    F: FnMut(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut backoff = Duration::from_millis(200);
    while !*shutdown.borrow() {
        match session(shutdown.clone()).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, what, "broker connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
        // The verdict is committed; a redelivery will find it and acknowledge.
        tracing::warn!(error = %e, "ack failed");
    }
}

impl Worker {
    pub(crate) fn prefetch(&self) -> u16 {
        match self.config.prefetch {
            // Twice the pool: while some jobs wait on S3 and PostgreSQL, others keep every
            // inference thread busy (one job per thread left the pool idle a third of the time).
            0 => (2 * self.engine.threads()).max(2) as u16,
            n => n,
        }
    }

    /// Consumes until `shutdown` turns true, then finishes the jobs in flight and returns.
    pub(crate) async fn consume_jobs(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let connection = queue::connect(&self.config.queue).await?;
        let publisher = Arc::new(Publisher::on(&connection, &self.config.queue).await?);
        let channel = connection.create_channel().await?;
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
        self.status.consuming.store(true, Ordering::Relaxed);
        let mut in_flight = JoinSet::new();
        let result = loop {
            tokio::select! {
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        let (worker, publisher) = (self.clone(), publisher.clone());
                        in_flight.spawn(async move { worker.handle(delivery, &publisher).await });
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
        self.status.consuming.store(false, Ordering::Relaxed);
        while in_flight.join_next().await.is_some() {}
        let _ = channel.close(200, "bye".into()).await;
        let _ = connection.close(200, "bye".into()).await;
        result
    }

    async fn handle(self: Arc<Self>, delivery: Delivery, publisher: &Publisher) {
        let Ok(job) = serde_json::from_slice::<Job>(&delivery.data) else {
            tracing::error!(
                bytes = delivery.data.len(),
                "unreadable job message; dead-lettering it"
            );
            metrics::counter!("worker_jobs_total", "outcome" => "unreadable").increment(1);
            let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            return;
        };
        let span = tracing::info_span!(
            "job",
            transaction_id = job.transaction_id,
            tenant_id = job.tenant_id
        );
        async move {
            let started = std::time::Instant::now();
            let outcome = match job::process(&self, job).await {
                Ok(Outcome::Decided { valid }) => {
                    tracing::info!(valid, "verdict committed");
                    ack(&delivery).await;
                    if valid { "valid" } else { "invalid" }
                }
                Ok(Outcome::AlreadyDone) => {
                    tracing::info!("verdict already committed; acknowledging the redelivery");
                    ack(&delivery).await;
                    "already_done"
                }
                Err(JobError::Abort { code, reason }) => {
                    tracing::error!(%code, %reason, "capture cannot be judged; recording a failed verdict");
                    match job::record_failure(&self, job, code, &reason).await {
                        Ok(()) => {
                            ack(&delivery).await;
                            "failed"
                        }
                        Err(e) => {
                            self.retry_later(&delivery, job, publisher, &e.to_string()).await;
                            "retried"
                        }
                    }
                }
                Err(JobError::Retry(reason)) => {
                    self.retry_later(&delivery, job, publisher, &reason).await;
                    "retried"
                }
            };
            metrics::counter!("worker_jobs_total", "outcome" => outcome).increment(1);
            metrics::histogram!("worker_job_seconds").record(started.elapsed().as_secs_f64());
        }
        .instrument(span)
        .await
    }

    /// Parks the job in the delay queue of its next attempt and acknowledges this delivery,
    /// so that the prefetch slot serves other jobs meanwhile. Past the retry horizon, the job
    /// gets a failed verdict instead; when even that cannot be written, it is dead-lettered
    /// and the dead-letter consumer writes it once the database is back.
    async fn retry_later(
        &self,
        delivery: &Delivery,
        job: Job,
        publisher: &Publisher,
        reason: &str,
    ) {
        let state = RetryState::of(&delivery.properties);
        let now = now_ms();
        let first = state.first_failure_ms.unwrap_or(now).min(now);
        let failing_for = Duration::from_millis(now - first);
        if failing_for >= self.config.retry_horizon {
            metrics::counter!("worker_jobs_given_up_total").increment(1);
            let reason = format!(
                "gave up after {} attempts over {} s of transient failures; last: {reason}",
                state.attempt + 1,
                failing_for.as_secs()
            );
            tracing::error!(%reason, "retry horizon reached");
            match job::record_failure(self, job, RejectionCode::UnknownError, &reason).await {
                Ok(()) => ack(delivery).await,
                Err(e) => {
                    tracing::error!(error = %e, "failed verdict not written; dead-lettering the job");
                    let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                }
            }
            return;
        }
        let delays = &self.config.queue.retry_delays;
        let delay = delays[(state.attempt as usize).min(delays.len() - 1)];
        let next = RetryState {
            attempt: state.attempt + 1,
            first_failure_ms: Some(first),
        };
        let delay_queue = queue::retry_queue(&self.config.queue.queue, delay);
        tracing::warn!(%reason, attempt = next.attempt, delay_ms = delay.as_millis() as u64, "transient failure; will retry");
        match publisher.publish_retry(&delay_queue, &job, next).await {
            Ok(()) => {
                metrics::counter!("worker_job_retries_total").increment(1);
                ack(delivery).await;
            }
            Err(e) => {
                // The broker itself is in trouble: hand the delivery back (it counts towards
                // the delivery limit, which only a broker failing on every try reaches).
                tracing::warn!(error = %e, "delay queue refused the job; requeueing it");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await;
            }
        }
    }
}
