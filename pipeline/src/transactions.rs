//! Transactions: one per submitted capture, from `queued` to `done` (a verdict exists) or
//! `failed` (the service could not judge it; also a verdict, with 709/711/712).

use crate::db::VERDICT_CHANNEL;
use crate::verdict::{event_body, lookup_body, Verdict, VerdictRow};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransactionRow {
    pub id: i64,
    pub tenant_id: i64,
    pub status: String,
    pub s3_bucket: String,
    pub packet_key: String,
    /// The worker's encrypted copy of the selfie it chose (set with the verdict).
    pub selfie_key: Option<String>,
    /// SHA-256 of the `selfie` form field, when the client sent one.
    pub selfie_sha256: Option<Vec<u8>>,
    pub request_fingerprint: Option<Vec<u8>>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub webhook_url: Option<String>,
    pub purged_at: Option<DateTime<Utc>>,
    /// The capture session (nonce) of the capture token that submitted it; None for a tenant
    /// token.
    pub capture_session: Option<String>,
}

/// A job's transaction as the worker starts it, with the tenant setting it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StartedJob {
    #[sqlx(flatten)]
    pub tx: TransactionRow,
    pub face_threshold: f64,
    pub tenant_enabled: bool,
    /// What the producer received, to check what storage gives back.
    pub packet_sha256: Vec<u8>,
}

/// The columns of `TransactionRow`, spliced into queries at compile time (sqlx takes only
/// static SQL).
macro_rules! columns {
    () => {
        "id, tenant_id, status::text AS status, s3_bucket, packet_key, selfie_key, selfie_sha256, request_fingerprint, attempts, created_at, webhook_url, purged_at, capture_session"
    };
}

pub struct NewTransaction<'a> {
    pub tenant_id: i64,
    pub s3_bucket: &'a str,
    pub packet_key: &'a str,
    pub selfie_sha256: Option<&'a [u8]>,
    pub packet_sha256: &'a [u8],
    pub packet_bytes: i32,
    pub citizen_id: Option<&'a str>,
    pub device: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub request_fingerprint: &'a [u8],
    pub webhook_url: Option<&'a str>,
    pub capture_session: Option<&'a str>,
}

pub enum Inserted {
    New(i64),
    /// The tenant already used this idempotency key.
    Existing(Box<TransactionRow>),
}

pub async fn insert(pool: &PgPool, t: &NewTransaction<'_>) -> Result<Inserted, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO transactions (tenant_id, s3_bucket, packet_key, selfie_sha256, packet_sha256, packet_bytes,
                                   citizen_id, device, idempotency_key, request_fingerprint, webhook_url,
                                   capture_session)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
         RETURNING id",
    )
    .bind(t.tenant_id)
    .bind(t.s3_bucket)
    .bind(t.packet_key)
    .bind(t.selfie_sha256)
    .bind(t.packet_sha256)
    .bind(t.packet_bytes)
    .bind(t.citizen_id)
    .bind(t.device)
    .bind(t.idempotency_key)
    .bind(t.request_fingerprint)
    .bind(t.webhook_url)
    .bind(t.capture_session)
    .fetch_optional(pool)
    .await?;
    match (id, t.idempotency_key) {
        (Some(id), _) => Ok(Inserted::New(id)),
        (None, Some(key)) => {
            let row = by_idempotency_key(pool, t.tenant_id, key)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            Ok(Inserted::Existing(Box::new(row)))
        }
        (None, None) => Err(sqlx::Error::RowNotFound),
    }
}

pub async fn by_idempotency_key(
    pool: &PgPool,
    tenant_id: i64,
    key: &str,
) -> Result<Option<TransactionRow>, sqlx::Error> {
    sqlx::query_as::<_, TransactionRow>(concat!(
        "SELECT ",
        columns!(),
        " FROM transactions WHERE tenant_id = $1 AND idempotency_key = $2"
    ))
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(pool)
    .await
}

/// Removes a transaction whose job could not be queued, so that a retry starts clean.
/// Whether it was deleted: `false` when a worker has already started it (the broker had the
/// job after all, e.g. a confirm that timed out).
pub async fn delete_unqueued(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM transactions WHERE id = $1 AND status = 'queued'")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Records that the broker confirmed the transaction's job (see the reconciler).
pub async fn mark_published(pool: &PgPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE transactions SET published_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn get(
    pool: &PgPool,
    tenant_id: i64,
    id: i64,
) -> Result<Option<TransactionRow>, sqlx::Error> {
    sqlx::query_as::<_, TransactionRow>(concat!(
        "SELECT ",
        columns!(),
        " FROM transactions WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn by_id(pool: &PgPool, id: i64) -> Result<Option<TransactionRow>, sqlx::Error> {
    sqlx::query_as::<_, TransactionRow>(concat!(
        "SELECT ",
        columns!(),
        " FROM transactions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Marks the job started and reads the tenant's threshold in the same round trip; `None`
/// when a verdict already exists (a redelivery after the commit but before the ack).
pub async fn start(pool: &PgPool, id: i64) -> Result<Option<StartedJob>, sqlx::Error> {
    sqlx::query_as::<_, StartedJob>(
        "UPDATE transactions t SET status = 'processing', attempts = t.attempts + 1, updated_at = now()
         FROM tenants n
         WHERE t.id = $1 AND t.status IN ('queued', 'processing') AND n.id = t.tenant_id
         RETURNING t.id, t.tenant_id, t.status::text AS status, t.s3_bucket, t.packet_key, t.selfie_key,
                   t.selfie_sha256, t.request_fingerprint, t.attempts, t.created_at, t.webhook_url, t.purged_at, t.capture_session,
                   n.face_threshold, n.disabled_at IS NULL AS tenant_enabled, t.packet_sha256",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// In one statement (so one round trip, atomic without an explicit transaction): writes the
/// verdict, closes the transaction, queues one webhook message per enabled endpoint of the
/// tenant (only the first, towards the override, when the request named a `webhook_url`),
/// and wakes whoever waits. `selfie_key` names the worker's encrypted copy of the selfie it
/// chose, already stored. Idempotent: a second verdict for the same transaction changes
/// nothing, and so queues no second event.
pub async fn complete(
    pool: &PgPool,
    id: i64,
    tenant_id: i64,
    created_at: DateTime<Utc>,
    verdict: &Verdict,
    selfie_key: Option<&str>,
) -> Result<(), sqlx::Error> {
    let (status, event_type) = if verdict.service_failure {
        ("failed", "liveness.failed")
    } else {
        ("done", "liveness.completed")
    };
    let data = lookup_body(
        Some(&VerdictRow::from(verdict)),
        id,
        status,
        created_at,
        None,
    );
    sqlx::query(
        "WITH v AS (
             INSERT INTO verdicts (transaction_id, tenant_id, valid, error_code, message, error_details, face_probability,
                                   capture_score, capture_probability, failed_signal, capture_signals, frames,
                                   model_versions, timings_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (transaction_id) DO NOTHING
             RETURNING transaction_id
         ), t AS (
             UPDATE transactions SET status = $15::transaction_status, selfie_key = $19, updated_at = now()
             WHERE id IN (SELECT transaction_id FROM v)
             RETURNING id, webhook_url
         ), m AS (
             INSERT INTO webhook_messages (id, tenant_id, transaction_id, endpoint_id, url, event_type, body)
             SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.tenant_id, t.id, e.id,
                    coalesce(t.webhook_url, e.url), $16, $17
             FROM t JOIN webhook_endpoints e ON e.tenant_id = $2 AND e.disabled_at IS NULL
             WHERE t.webhook_url IS NULL
                OR e.id = (SELECT min(id) FROM webhook_endpoints WHERE tenant_id = $2 AND disabled_at IS NULL)
             ON CONFLICT (transaction_id, endpoint_id, event_type) DO NOTHING
         )
         SELECT pg_notify($18, t.id::text) FROM t",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(verdict.valid)
    .bind(verdict.error_code.map(|c| c.code() as i16))
    .bind(verdict.error_code.map(|c| c.message()))
    .bind(&verdict.error_details)
    .bind(verdict.face_probability)
    .bind(verdict.capture_score)
    .bind(verdict.capture_probability)
    .bind(&verdict.failed_signal)
    .bind(&verdict.capture_signals)
    .bind(&verdict.frames)
    .bind(&verdict.model_versions)
    .bind(&verdict.timings_ms)
    .bind(status)
    .bind(event_type)
    .bind(event_body(event_type, data))
    .bind(VERDICT_CHANNEL)
    .bind(selfie_key)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn verdict(pool: &PgPool, id: i64) -> Result<Option<VerdictRow>, sqlx::Error> {
    sqlx::query_as::<_, VerdictRow>(
        "SELECT valid, error_code, error_details, face_probability, capture_score, capture_probability
         FROM verdicts WHERE transaction_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}
