//! The outbox (`webhook_messages`) and its attempts: claiming due messages without stepping on
//! other dispatchers, recording each attempt, and what tenants and operators can see and redo.

use chrono::{DateTime, Utc};
use serde::Serialize;
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
    pub secret: String,
    pub previous_secret: Option<String>,
}

/// Takes up to `batch` due messages. Rows another dispatcher holds are skipped, and each
/// claimed row is pushed a lease into the future, so it is invisible to the others while
/// this one delivers, and comes back by itself if this one dies.
pub async fn claim(
    pool: &PgPool,
    batch: i64,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as::<_, Claimed>(
        "WITH due AS (
             SELECT id FROM webhook_messages
             WHERE status = 'pending' AND next_attempt_at <= now()
             ORDER BY next_attempt_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         )
         UPDATE webhook_messages m SET next_attempt_at = now() + make_interval(secs => $2)
         FROM due, webhook_endpoints e
         WHERE m.id = due.id AND e.id = m.endpoint_id
         RETURNING m.id, m.tenant_id, m.transaction_id, m.endpoint_id, m.url, m.event_type, m.body,
                   m.attempts, m.retry_from, e.secret,
                   CASE WHEN e.previous_expires_at > now() THEN e.previous_secret END AS previous_secret",
    )
    .bind(batch)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
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

/// One attempt row and the message's new state, in one statement.
pub async fn record(
    pool: &PgPool,
    message: &Claimed,
    attempt: &AttemptRecord<'_>,
    disposition: &Disposition,
) -> Result<(), sqlx::Error> {
    let (status, retry_in) = match disposition {
        Disposition::Delivered => ("delivered", None),
        Disposition::Retry(after) => ("pending", Some(after.as_secs_f64())),
        Disposition::Failed | Disposition::EndpointGone => ("failed", None),
    };
    sqlx::query(
        "WITH a AS (
             INSERT INTO webhook_attempts (message_id, url, status_code, latency_ms, error, outcome)
             VALUES ($1, $2, $3, $4, $5, $6)
         )
         UPDATE webhook_messages
         SET status = $7::webhook_message_status,
             attempts = attempts + 1,
             next_attempt_at = CASE WHEN $8::float8 IS NULL THEN next_attempt_at
                                    ELSE now() + make_interval(secs => $8) END,
             delivered_at = CASE WHEN $7 = 'delivered' THEN now() ELSE delivered_at END,
             last_error = $5
         WHERE id = $1",
    )
    .bind(&message.id)
    .bind(attempt.url)
    .bind(attempt.status_code.map(|c| c as i16))
    .bind(attempt.latency.as_secs_f64() * 1e3)
    .bind(attempt.error)
    .bind(disposition.outcome())
    .bind(status)
    .bind(retry_in)
    .execute(pool)
    .await?;
    if *disposition == Disposition::EndpointGone {
        crate::endpoints::disable(
            pool,
            message.tenant_id,
            message.endpoint_id,
            "the receiver answered 410 Gone",
        )
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageView {
    pub id: String,
    pub transaction_id: i64,
    pub endpoint_id: i64,
    pub url: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AttemptView {
    pub attempted_at: DateTime<Utc>,
    pub url: String,
    pub status_code: Option<i16>,
    pub latency_ms: f64,
    pub error: Option<String>,
    pub outcome: String,
}

/// A tenant's messages, newest first, optionally for one transaction.
pub async fn messages(
    pool: &PgPool,
    tenant_id: i64,
    transaction_id: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageView>, sqlx::Error> {
    sqlx::query_as::<_, MessageView>(
        "SELECT id, transaction_id, endpoint_id, url, event_type, status::text AS status, attempts,
                created_at, next_attempt_at, delivered_at, last_error
         FROM webhook_messages
         WHERE tenant_id = $1 AND ($2::bigint IS NULL OR transaction_id = $2)
         ORDER BY created_at DESC, id
         LIMIT $3",
    )
    .bind(tenant_id)
    .bind(transaction_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A message's attempts, oldest first; `None` when the message is not the tenant's.
pub async fn attempts(
    pool: &PgPool,
    tenant_id: i64,
    message_id: &str,
) -> Result<Option<Vec<AttemptView>>, sqlx::Error> {
    let owned: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE tenant_id = $1 AND id = $2)",
    )
    .bind(tenant_id)
    .bind(message_id)
    .fetch_one(pool)
    .await?;
    if !owned {
        return Ok(None);
    }
    sqlx::query_as::<_, AttemptView>(
        "SELECT a.attempted_at, a.url, a.status_code, a.latency_ms, a.error, a.outcome
         FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
         WHERE m.tenant_id = $1 AND a.message_id = $2
         ORDER BY a.id",
    )
    .bind(tenant_id)
    .bind(message_id)
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
    let endpoint_enabled: Option<bool> = sqlx::query_scalar(
        "WITH m AS (
             SELECT m.id, e.disabled_at IS NULL AS enabled
             FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
             WHERE m.tenant_id = $1 AND m.id = $2
         ), u AS (
             UPDATE webhook_messages SET status = 'pending', attempts = 0, retry_from = now(),
                                         next_attempt_at = now(), last_error = NULL
             WHERE id IN (SELECT id FROM m WHERE enabled)
         )
         SELECT enabled FROM m",
    )
    .bind(tenant_id)
    .bind(message_id)
    .fetch_optional(pool)
    .await?;
    Ok(match endpoint_enabled {
        None => Redelivery::NotFound,
        Some(false) => Redelivery::EndpointDisabled,
        Some(true) => Redelivery::Scheduled,
    })
}
