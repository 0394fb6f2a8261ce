//! What keeps the pipeline from stranding work or growing forever: finding transactions whose
//! job was lost, and deleting sessions and replay digests no pending capture can still need.
//! Each periodic task runs in one worker at a time, under a PostgreSQL advisory lock.

use crate::queue::Job;
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use std::time::Duration;

/// Advisory lock keys (one per periodic task), arbitrary but fixed.
pub const RECONCILE_LOCK: i64 = 0x6c69_7665_0001;
pub const RETENTION_LOCK: i64 = 0x6c69_7665_0002;

/// The session-level advisory lock `key`, held by the returned connection until `unlock` (or
/// until that connection dies, when PostgreSQL releases it); `None` when another worker holds
/// it.
pub async fn try_lock(
    pool: &PgPool,
    key: i64,
) -> Result<Option<PoolConnection<Postgres>>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    let locked = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock($1) AS "locked!""#, key)
        .fetch_one(&mut *connection)
        .await?;
    Ok(locked.then_some(connection))
}

pub async fn unlock(mut connection: PoolConnection<Postgres>, key: i64) {
    // Whether PostgreSQL held the lock does not matter here, only that it answered.
    let unlocked = sqlx::query_scalar!("SELECT pg_advisory_unlock($1)", key)
        .fetch_one(&mut *connection)
        .await;
    if unlocked.is_err() {
        // Never hand a connection that may still hold the lock back to the pool.
        connection.detach();
    }
}

fn interval(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A transaction that should have a job on its way and may not.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Stuck {
    pub id: i64,
    pub tenant_id: i64,
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl Stuck {
    pub fn job(&self) -> Job {
        Job {
            transaction_id: self.id,
            tenant_id: self.tenant_id,
        }
    }
}

/// `queued` for longer than `grace` without the broker's confirm (the producer died between
/// insert and publish), or `processing` untouched for longer than `stale` (every retry
/// touches the row, so its job is gone: longer than the retry horizon, say).
pub async fn stuck(
    pool: &PgPool,
    grace: Duration,
    stale: Duration,
    limit: i64,
) -> Result<Vec<Stuck>, sqlx::Error> {
    sqlx::query_as!(
        Stuck,
        r#"SELECT id, tenant_id, status::text AS "status!", attempts, created_at, updated_at, published_at
           FROM transactions
           WHERE status IN ('queued', 'processing')
             AND ((status = 'queued' AND published_at IS NULL AND created_at < now() - $1::interval)
               OR (status = 'processing' AND updated_at < now() - $2::interval))
           ORDER BY created_at
           LIMIT $3"#,
        // chrono's Duration encodes as an INTERVAL; the macros only name PgInterval for one.
        interval(grace) as _,
        interval(stale) as _,
        limit
    )
    .fetch_all(pool)
    .await
}

/// Records that these transactions' jobs were published again.
pub async fn mark_republished(pool: &PgPool, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE transactions SET published_at = now(), reconciled_at = now(), updated_at = now()
         WHERE id = ANY($1) AND status IN ('queued', 'processing')",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes up to `batch` capture sessions that expired more than `keep` ago and that no
/// pending capture can still use: a capture is judged as of its intake, when its session had
/// to be alive, so a session that expired before the oldest pending intake is never read
/// again. Returns how many went.
pub async fn delete_expired_sessions(
    pool: &PgPool,
    keep: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query!(
        "DELETE FROM capture_sessions WHERE nonce IN (
             SELECT nonce FROM capture_sessions
             WHERE expires_at < LEAST(now() - $1::interval,
                   (SELECT min(created_at) FROM transactions WHERE status IN ('queued', 'processing')))
             LIMIT $2)",
        interval(keep) as _,
        batch
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// Deletes up to `batch` replay digests first seen more than `window` before the oldest
/// pending intake (or now). A packet can only be accepted within the capture-age window of
/// its capture, and its digests were first seen no earlier than that capture minus the clock
/// skew allowed: with `window` ≥ capture age + skew, a replay of a deleted digest's packet is
/// refused as stale anyway.
pub async fn delete_old_digests(
    pool: &PgPool,
    window: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query!(
        "DELETE FROM capture_digests WHERE (kind, digest) IN (
             SELECT kind, digest FROM capture_digests
             WHERE first_seen_at < LEAST(now(),
                   (SELECT min(created_at) FROM transactions WHERE status IN ('queued', 'processing'))) - $1::interval
             LIMIT $2)",
        interval(window) as _,
        batch
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// For `liveness jobs redrive --reopen`: removes the service-failure verdicts (status
/// `failed`) of these transactions and queues them again, so the next attempt judges them.
/// Their earlier `liveness.failed` events stay delivered; the new verdict sends its own.
pub async fn reopen_failed(pool: &PgPool, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "WITH t AS (
             UPDATE transactions SET status = 'queued', updated_at = now()
             WHERE id = ANY($1) AND status = 'failed' AND purged_at IS NULL
             RETURNING id
         )
         DELETE FROM verdicts WHERE transaction_id IN (SELECT id FROM t) RETURNING transaction_id",
        ids
    )
    .fetch_all(pool)
    .await
}
