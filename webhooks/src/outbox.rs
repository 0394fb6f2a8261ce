//! The outbox (`webhook_messages`) and its attempts: claiming due messages without stepping on
//! other dispatchers, recording each attempt, and what tenants and operators can see and redo.

use crate::secrets::StoredSecrets;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;

/// Whether `text` can be a message id (`msg_` + hex): anything else is not looked up at all,
/// so no client-chosen bytes (a NUL, say) reach the database as an id.
pub fn is_message_id(text: &str) -> bool {
    text.strip_prefix("msg_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// A message claimed for one delivery attempt, with the secrets that sign it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: String,
    pub tenant_id: i64,
    pub transaction_id: i64,
    pub endpoint_id: i64,
    pub url: String,
    pub event_type: String,
    pub body: String,
    pub attempts: i32,
    pub retry_from: DateTime<Utc>,
    /// The lease token: the message's `claims` as this claim set it.
    pub claim: i64,
    /// The endpoint's secrets as stored (sealed); opened only to sign.
    #[sqlx(flatten)]
    pub secrets: StoredSecrets,
}

/// Claims run one at a time over all dispatchers (a transaction-scoped advisory lock, key
/// "webhooks" in ASCII), so each one counts the messages in flight with every claim
/// committed before it and the per-endpoint cap holds across workers. A claim is one short
/// statement, so waiting for the lock costs little.
const CLAIM_LOCK: i64 = 0x7765_6268_6f6f_6b73;

/// Due messages looked at per claim, as a multiple of the batch: more than the batch, so
/// that a backlog for one receiver at its cap does not hide everyone else's messages.
const CANDIDATES_PER_BATCH: i64 = 4;

/// Takes up to `batch` due messages, leaving out those whose receiver URL already has
/// `per_endpoint` messages in flight (claimed, lease not yet run out) and taking at most up
/// to that count for each URL. Rows another transaction holds are skipped; each claimed row
/// gets a new lease token and is pushed a lease into the future, so it is invisible to the
/// others while this one delivers, and comes back by itself if this one dies.
pub async fn claim(
    pool: &PgPool,
    batch: i64,
    per_endpoint: u32,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", CLAIM_LOCK)
        .execute(&mut *tx)
        .await?;
    // A backlog larger than the candidates that all goes to URLs with few free slots makes
    // this claim take fewer than it could; those URLs are then at their cap and left out of
    // the next claim, which the dispatcher makes at once.
    let claimed = sqlx::query!(
        "WITH leased AS (
             SELECT url, count(*) AS n FROM webhook_messages
             WHERE status = 'pending' AND leased_until > now()
             GROUP BY url
         ), candidates AS (
             SELECT id, url, next_attempt_at FROM webhook_messages
             WHERE status = 'pending' AND next_attempt_at <= now()
               AND url NOT IN (SELECT url FROM leased WHERE n >= $3)
             ORDER BY next_attempt_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED
         ), due AS (
             SELECT id FROM (
                 SELECT c.id, c.next_attempt_at,
                        coalesce(l.n, 0)
                          + row_number() OVER (PARTITION BY c.url ORDER BY c.next_attempt_at, c.id)
                          AS slot
                 FROM candidates c LEFT JOIN leased l ON l.url = c.url
             ) ranked
             WHERE slot <= $3
             ORDER BY next_attempt_at
             LIMIT $1
         )
         UPDATE webhook_messages m
         SET next_attempt_at = now() + make_interval(secs => $2),
             leased_until = now() + make_interval(secs => $2),
             claims = m.claims + 1
         FROM due, webhook_endpoints e
         WHERE m.id = due.id AND e.id = m.endpoint_id
         RETURNING m.id, m.tenant_id, m.transaction_id, m.endpoint_id, m.url, m.event_type, m.body,
                   m.attempts, m.retry_from, m.claims AS claim,
                   e.secret, e.secret_sealed,
                   CASE WHEN e.previous_expires_at > now() THEN e.previous_secret END AS previous_secret,
                   CASE WHEN e.previous_expires_at > now() THEN e.previous_secret_sealed END
                     AS previous_secret_sealed",
        batch,
        lease.as_secs_f64(),
        i64::from(per_endpoint),
        batch.saturating_mul(CANDIDATES_PER_BATCH),
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed
        .into_iter()
        .map(|r| Claimed {
            id: r.id,
            tenant_id: r.tenant_id,
            transaction_id: r.transaction_id,
            endpoint_id: r.endpoint_id,
            url: r.url,
            event_type: r.event_type,
            body: r.body,
            attempts: r.attempts,
            retry_from: r.retry_from,
            claim: r.claim,
            secrets: StoredSecrets {
                secret: r.secret,
                secret_sealed: r.secret_sealed,
                previous_secret: r.previous_secret,
                previous_secret_sealed: r.previous_secret_sealed,
            },
        })
        .collect())
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    Delivered,
    /// Try again after this long.
    Retry(Duration),
    /// No more tries (a permanent refusal, or the schedule or maximum age ran out).
    Failed,
    /// The receiver answered 410 Gone: the endpoint is disabled.
    EndpointGone,
}

impl Disposition {
    fn outcome(&self) -> &'static str {
        match self {
            Disposition::Delivered => "delivered",
            Disposition::Retry(_) => "retry",
            Disposition::Failed => "failed",
            Disposition::EndpointGone => "endpoint_disabled",
        }
    }
}

pub struct AttemptRecord<'a> {
    pub url: &'a str,
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub error: Option<&'a str>,
}

/// Whether an attempt's outcome became the message's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Applied,
    /// The message was claimed again (the lease ran out), redelivered on demand or its
    /// endpoint disabled since this attempt's claim: its state is someone else's now.
    Superseded,
}

/// One attempt row and, if the claim's lease token is still the message's, the message's new
/// state, in one statement. The attempt row is written either way (marked `superseded` when
/// the state was not touched): the request did reach the wire, and the history of what a
/// receiver was sent must not depend on which dispatcher won.
pub async fn record(
    pool: &PgPool,
    message: &Claimed,
    attempt: &AttemptRecord<'_>,
    disposition: &Disposition,
) -> Result<Recorded, sqlx::Error> {
    let (status, retry_in) = match disposition {
        Disposition::Delivered => ("delivered", None),
        Disposition::Retry(after) => ("pending", Some(after.as_secs_f64())),
        Disposition::Failed | Disposition::EndpointGone => ("failed", None),
    };
    let applied = sqlx::query_scalar!(
        r#"WITH m AS (
             UPDATE webhook_messages
             SET status = $7::text::webhook_message_status,
                 attempts = attempts + 1,
                 next_attempt_at = CASE WHEN $8::float8 IS NULL THEN next_attempt_at
                                        ELSE now() + make_interval(secs => $8) END,
                 delivered_at = CASE WHEN $7 = 'delivered' THEN now() ELSE delivered_at END,
                 last_error = $5,
                 leased_until = NULL
             WHERE id = $1 AND claims = $9
             RETURNING id
         )
         INSERT INTO webhook_attempts (message_id, url, status_code, latency_ms, error, outcome, superseded)
         VALUES ($1, $2, $3, $4, $5, $6, NOT EXISTS (SELECT 1 FROM m))
         RETURNING NOT superseded AS "applied!""#,
        message.id,
        attempt.url,
        attempt.status_code.map(|c| c as i16),
        attempt.latency.as_secs_f64() * 1e3,
        attempt.error,
        disposition.outcome(),
        status,
        retry_in,
        message.claim,
    )
    .fetch_one(pool)
    .await?;
    if !applied {
        return Ok(Recorded::Superseded);
    }
    // Only the lease holder acts on a 410: a stale one could disable an endpoint the tenant
    // has enabled again since.
    if *disposition == Disposition::EndpointGone {
        crate::endpoints::disable(
            pool,
            message.tenant_id,
            message.endpoint_id,
            "the receiver answered 410 Gone",
        )
        .await?;
    }
    Ok(Recorded::Applied)
}

pub use liveness_contract::webhooks::{AttemptView, MessageView};

/// A tenant's messages, newest first, optionally for one transaction.
pub async fn messages(
    pool: &PgPool,
    tenant_id: i64,
    transaction_id: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageView>, sqlx::Error> {
    sqlx::query_as!(
        MessageView,
        r#"SELECT id, transaction_id, endpoint_id, url, event_type, status::text AS "status!", attempts,
                  created_at, next_attempt_at, delivered_at, last_error
           FROM webhook_messages
           WHERE tenant_id = $1 AND ($2::bigint IS NULL OR transaction_id = $2)
           ORDER BY created_at DESC, id
           LIMIT $3"#,
        tenant_id,
        transaction_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// A message's attempts, oldest first; `None` when the message is not the tenant's.
pub async fn attempts(
    pool: &PgPool,
    tenant_id: i64,
    message_id: &str,
) -> Result<Option<Vec<AttemptView>>, sqlx::Error> {
    let owned = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE tenant_id = $1 AND id = $2) AS "owned!""#,
        tenant_id,
        message_id
    )
    .fetch_one(pool)
    .await?;
    if !owned {
        return Ok(None);
    }
    sqlx::query_as!(
        AttemptView,
        "SELECT a.attempted_at, a.url, a.status_code, a.latency_ms, a.error, a.outcome
         FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
         WHERE m.tenant_id = $1 AND a.message_id = $2
         ORDER BY a.id",
        tenant_id,
        message_id
    )
    .fetch_all(pool)
    .await
    .map(Some)
}

#[derive(Debug, PartialEq)]
pub enum Redelivery {
    Scheduled,
    NotFound,
    EndpointDisabled,
}

/// Sends a message again (same `webhook-id`, a fresh retry schedule), whatever its state.
pub async fn redeliver(
    pool: &PgPool,
    tenant_id: i64,
    message_id: &str,
) -> Result<Redelivery, sqlx::Error> {
    let endpoint_enabled: Option<bool> = sqlx::query_scalar!(
        r#"WITH m AS (
             SELECT m.id, e.disabled_at IS NULL AS enabled
             FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
             WHERE m.tenant_id = $1 AND m.id = $2
         ), u AS (
             -- A new lease token: an attempt still in flight must not overwrite the fresh
             -- schedule with its outcome.
             UPDATE webhook_messages SET status = 'pending', attempts = 0, retry_from = now(),
                                         next_attempt_at = now(), last_error = NULL,
                                         claims = claims + 1, leased_until = NULL
             WHERE id IN (SELECT id FROM m WHERE enabled)
         )
         SELECT enabled AS "enabled!" FROM m"#,
        tenant_id,
        message_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(match endpoint_enabled {
        None => Redelivery::NotFound,
        Some(false) => Redelivery::EndpointDisabled,
        Some(true) => Redelivery::Scheduled,
    })
}
