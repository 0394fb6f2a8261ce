//! Drains the outbox: claims due messages, delivers them concurrently, records each attempt.
//! Several dispatchers (one per worker) share the table safely; new verdicts wake them through
//! the verdict NOTIFY channel, retries falling due are found by a poll.

use crate::config::DispatcherConfig;
use crate::deliver::{attempt, disposition, http_client};
use crate::outbox::{self, AttemptRecord, Claimed, Disposition};
use futures_util::future::join_all;
use liveness_pipeline::db::VERDICT_CHANNEL;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::Instrument;

pub struct Dispatcher {
    pool: PgPool,
    http: reqwest::Client,
    config: DispatcherConfig,
}

impl Dispatcher {
    pub fn new(pool: PgPool, config: DispatcherConfig) -> reqwest::Result<Self> {
        Ok(Self {
            http: http_client(&config)?,
            pool,
            config,
        })
    }

    /// Claims one batch and delivers it; the number of messages handled.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let claimed = outbox::claim(&self.pool, self.config.batch, self.config.lease()).await?;
        let count = claimed.len();
        let results = join_all(claimed.into_iter().map(|m| {
            let span = tracing::info_span!("webhook", transaction_id = m.transaction_id, webhook_id = %m.id);
            self.deliver(m).instrument(span)
        }))
        .await;
        // A message whose attempt could not be recorded is retried when its lease runs out.
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(count)
    }

    async fn deliver(&self, message: Claimed) -> Result<(), sqlx::Error> {
        let result = attempt(&self.http, &self.config, &message).await;
        let next = disposition(&self.config, &message, &result);
        match &next {
            Disposition::Delivered => {
                tracing::info!(status = ?result.status_code, "webhook delivered")
            }
            other => {
                tracing::warn!(status = ?result.status_code, error = ?result.error, next = ?other, "webhook attempt failed")
            }
        }
        outbox::record(
            &self.pool,
            &message,
            &AttemptRecord {
                url: &message.url,
                status_code: result.status_code,
                latency: result.latency,
                error: result.error.as_deref(),
            },
            &next,
        )
        .await
    }

    /// Runs until `shutdown` turns true; the batch in flight is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut listener = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let handled = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook dispatch round failed");
                    0
                }
            };
            if handled as i64 >= self.config.batch {
                continue; // more may be due right now
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
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                r = woken => if r.is_err() { listener = None; },
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(VERDICT_CHANNEL).await.ok()?;
        Some(listener)
    }
}
