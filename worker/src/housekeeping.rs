//! Periodic tasks, each run by one worker at a time (an advisory lock per task): the
//! reconciler (jobs lost between intake and verdict are published again), the deletion of
//! expired sessions and old replay digests, and retention.

use crate::Worker;
use liveness_pipeline::db::housekeeping::{self as hk, RECONCILE_LOCK, RETENTION_LOCK};
use liveness_pipeline::queue::{self, Publisher};
use liveness_pipeline::retention;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What one reconciler round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// False when another worker held the lock (this round did nothing).
    pub ran: bool,
    pub republished: usize,
    pub sessions_deleted: u64,
    pub digests_deleted: u64,
}

/// Runs `round` every `interval` until shutdown, logging (not propagating) its failures: a
/// database or broker that is down fails a round, and the next round tries again.
async fn every<F, Fut>(
    what: &'static str,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    while !*shutdown.borrow() {
        if let Err(e) = round().await {
            tracing::warn!(error = %e, what, "periodic task failed; the next round retries");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}

impl Worker {
    pub(crate) async fn reconcile_periodically(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let interval = self.config.reconcile_interval;
        every("reconciler", interval, shutdown, || async {
            let done = self.reconcile_once().await?;
            if done.republished > 0 || done.sessions_deleted > 0 || done.digests_deleted > 0 {
                tracing::info!(?done, "reconciler round");
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn purge_periodically(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let interval = self.config.retention_interval;
        every("retention", interval, shutdown, || self.purge_once()).await
    }

    /// Purges captures past their tenant's retention, in batches, unless another worker is
    /// already doing it.
    async fn purge_once(&self) -> anyhow::Result<()> {
        let Some(lock) = hk::try_lock(&self.db, RETENTION_LOCK).await? else {
            return Ok(());
        };
        let batch = self.config.retention_batch;
        let result = async {
            loop {
                let key = &self.config.pseudonym_key;
                let n = retention::purge_expired(&self.db, &self.storage, key, batch).await?;
                if n > 0 {
                    tracing::info!(purged = n, "captures past retention purged");
                }
                let rekeyed = retention::rekey_legacy_pseudonyms(&self.db, key, batch).await?;
                if rekeyed > 0 {
                    tracing::info!(rows = rekeyed, "unkeyed digests replaced by pseudonyms");
                }
                if (n as i64) < batch && (rekeyed as i64) < batch {
                    return anyhow::Ok(());
                }
            }
        }
        .await;
        hk::unlock(lock, RETENTION_LOCK).await;
        result
    }

    /// One reconciler round, if no other worker is running one.
    pub async fn reconcile_once(&self) -> anyhow::Result<Reconciled> {
        let Some(lock) = hk::try_lock(&self.db, RECONCILE_LOCK).await? else {
            return Ok(Reconciled::default());
        };
        let result = self.reconcile_locked().await;
        hk::unlock(lock, RECONCILE_LOCK).await;
        result
    }

    async fn reconcile_locked(&self) -> anyhow::Result<Reconciled> {
        let config = &self.config;
        let batch = config.housekeeping_batch;
        let mut done = Reconciled {
            ran: true,
            ..Reconciled::default()
        };
        let stuck = hk::stuck(
            &self.db,
            config.reconcile_grace,
            config.stale_processing,
            batch,
        )
        .await?;
        if !stuck.is_empty() {
            // Bounded: a broker that blocks publishers (a memory alarm) must not hold the
            // lock for ever; the next round tries again.
            tokio::time::timeout(Duration::from_secs(30), async {
                let connection = queue::connect(&config.queue).await?;
                let publisher = Publisher::on(&connection, &config.queue).await?;
                for row in &stuck {
                    tracing::warn!(transaction_id = row.id, status = %row.status, "stranded transaction; publishing its job again");
                    publisher.publish(&row.job()).await?;
                }
                let _ = connection.close(200, "reconciled".into()).await;
                anyhow::Ok(())
            })
            .await
            .map_err(|_| anyhow::anyhow!("the broker did not confirm within 30 s"))??;
            let ids: Vec<i64> = stuck.iter().map(|s| s.id).collect();
            hk::mark_republished(&self.db, &ids).await?;
            done.republished = ids.len();
            metrics::counter!("worker_reconciled_total").increment(ids.len() as u64);
        }
        loop {
            let n = hk::delete_expired_sessions(&self.db, config.session_keep, batch).await?;
            done.sessions_deleted += n;
            if (n as i64) < batch {
                break;
            }
        }
        let policy = &self.policy;
        let window = Duration::from_millis(policy.max_capture_age_ms + policy.max_clock_skew_ms)
            + config.digest_keep;
        loop {
            let n = hk::delete_old_digests(&self.db, window, batch).await?;
            done.digests_deleted += n;
            if (n as i64) < batch {
                break;
            }
        }
        metrics::counter!("worker_housekeeping_deleted_total", "what" => "sessions")
            .increment(done.sessions_deleted);
        metrics::counter!("worker_housekeeping_deleted_total", "what" => "digests")
            .increment(done.digests_deleted);
        Ok(done)
    }
}
