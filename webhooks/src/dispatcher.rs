//! Drains the outbox: claims due messages, delivers each in a task of its own, records each
//! attempt. Deliveries do not wait for one another: as soon as one ends its slot is refilled,
//! so a receiver that takes its time delays only its own messages (at most
//! `endpoint_concurrency` of them are in flight; the claim leaves the rest alone). Several
//! dispatchers (one per worker) share the table safely; new verdicts wake them through the
//! verdict NOTIFY channel, retries falling due are found by a poll.

use crate::config::DispatcherConfig;
use crate::deliver::{attempt, disposition, http_client};
use crate::outbox::{self, AttemptRecord, Claimed, Disposition, Recorded};
use liveness_pipeline::db::VERDICT_CHANNEL;
use liveness_pipeline::storage::at_rest::StorageKeys;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

pub struct Dispatcher {
    pool: PgPool,
    http: reqwest::Client,
    config: Arc<DispatcherConfig>,
    /// LIVENESS_WEBHOOK_KEYS: open the endpoints' sealed secrets to sign.
    keys: Arc<StorageKeys>,
}

type Deliveries = JoinSet<Result<(), sqlx::Error>>;

impl Dispatcher {
    pub fn new(pool: PgPool, config: DispatcherConfig, keys: StorageKeys) -> reqwest::Result<Self> {
        Ok(Self {
            http: http_client(&config)?,
            pool,
            config: Arc::new(config),
            keys: Arc::new(keys),
        })
    }

    /// Claims what the caps allow right now (up to a batch) and delivers it all; the number
    /// of messages handled. For tests and one-off drains: `run` does not wait like this.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let mut deliveries = Deliveries::new();
        let count = self
            .claim_into(&mut deliveries, self.config.concurrency)
            .await?;
        let mut result = Ok(count);
        while let Some(done) = deliveries.join_next().await {
            match done {
                Ok(Ok(())) => {}
                // A message whose attempt could not be recorded is retried when its lease
                // runs out.
                Ok(Err(e)) => result = Err(e),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => log_failure(Err(format!("delivery task failed: {e}"))),
            }
        }
        result
    }

    /// Claims up to `free` messages (never more than a batch) and starts their deliveries.
    async fn claim_into(
        &self,
        deliveries: &mut Deliveries,
        free: usize,
    ) -> Result<usize, sqlx::Error> {
        let limit = self.config.batch.min(free as i64);
        if limit <= 0 {
            return Ok(0);
        }
        let claimed = outbox::claim(
            &self.pool,
            limit,
            self.config.endpoint_concurrency,
            self.config.lease(),
        )
        .await?;
        let count = claimed.len();
        for message in claimed {
            let span = tracing::info_span!("webhook", transaction_id = message.transaction_id, webhook_id = %message.id);
            let (pool, http) = (self.pool.clone(), self.http.clone());
            let (config, keys) = (self.config.clone(), self.keys.clone());
            deliveries.spawn(deliver(pool, http, config, keys, message).instrument(span));
        }
        Ok(count)
    }

    /// Runs until `shutdown` turns true (or its sender is gone); the deliveries in flight are
    /// finished first, so no receiver sees a request cut off by a shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut deliveries = Deliveries::new();
        let mut listener = None;
        while !*shutdown.borrow() {
            while let Some(done) = deliveries.try_join_next() {
                log_failure(flatten(done));
            }
            let free = self.config.concurrency.saturating_sub(deliveries.len());
            match self.claim_into(&mut deliveries, free).await {
                // More may be due right now (the claim is capped by the batch and by the
                // candidates it looks at); claim again until nothing comes or no slot is free.
                Ok(n) if n > 0 && deliveries.len() < self.config.concurrency => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "claiming webhook messages failed"),
            }
            if listener.is_none() {
                listener = self.listen().await;
            }
            let woken = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = shutdown.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                r = woken => if r.is_err() { listener = None; },
                // A slot is free again: global, and for that message's receiver.
                Some(done) = deliveries.join_next(), if !deliveries.is_empty() => {
                    log_failure(flatten(done));
                }
            }
        }
        if !deliveries.is_empty() {
            tracing::info!(
                in_flight = deliveries.len(),
                "shutting down: finishing webhook deliveries in flight"
            );
        }
        while let Some(done) = deliveries.join_next().await {
            log_failure(flatten(done));
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(VERDICT_CHANNEL).await.ok()?;
        Some(listener)
    }
}

async fn deliver(
    pool: PgPool,
    http: reqwest::Client,
    config: Arc<DispatcherConfig>,
    keys: Arc<StorageKeys>,
    message: Claimed,
) -> Result<(), sqlx::Error> {
    let result = attempt(&http, &config, &keys, &message).await;
    let next = disposition(&config, &message, &result);
    let recorded = outbox::record(
        &pool,
        &message,
        &AttemptRecord {
            url: &message.url,
            status_code: result.status_code,
            latency: result.latency,
            error: result.error.as_deref(),
        },
        &next,
    )
    .await?;
    match (&next, recorded) {
        (_, Recorded::Superseded) => tracing::warn!(
            status = ?result.status_code, outcome = ?next,
            "webhook attempt ended after its lease passed on; the message's state is left as is"
        ),
        (Disposition::Delivered, _) => {
            tracing::info!(status = ?result.status_code, "webhook delivered")
        }
        (other, _) => {
            tracing::warn!(status = ?result.status_code, error = ?result.error, next = ?other, "webhook attempt failed")
        }
    }
    Ok(())
}

/// A delivery task that panicked is a failure like any other: its message comes back when
/// the lease runs out.
fn flatten(done: Result<Result<(), sqlx::Error>, tokio::task::JoinError>) -> Result<(), String> {
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("recording the attempt failed: {e}")),
        Err(e) => Err(format!("delivery task failed: {e}")),
    }
}

fn log_failure(result: Result<(), String>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "webhook delivery left to its lease");
    }
}
