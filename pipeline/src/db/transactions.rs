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
    /// The tenant's model set; `None` is the default.
    pub model_set: Option<String>,
    pub tenant_enabled: bool,
    /// What the producer received, to check what storage gives back.
    pub packet_sha256: Vec<u8>,
}

/// `TransactionRow`s of the transactions matching `$filter` (a string literal: the query
/// macros take only literals, joined with `+`), checked against the schema at compile time.
macro_rules! select_rows {
    ($filter:literal, $($arg:expr),+ $(,)?) => {
        sqlx::query_as!(
            TransactionRow,
            r#"SELECT id, tenant_id, status::text AS "status!", s3_bucket, packet_key, selfie_key, selfie_sha256, request_fingerprint, attempts, created_at, webhook_url, purged_at, capture_session
               FROM transactions "# + $filter,
            $($arg),+
        )
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
    let id: Option<i64> = sqlx::query_scalar!(
        "INSERT INTO transactions (tenant_id, s3_bucket, packet_key, selfie_sha256, packet_sha256, packet_bytes,
                                   citizen_id, device, idempotency_key, request_fingerprint, webhook_url,
                                   capture_session)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
         RETURNING id",
        t.tenant_id,
        t.s3_bucket,
        t.packet_key,
        t.selfie_sha256,
        t.packet_sha256,
        t.packet_bytes,
        t.citizen_id,
        t.device,
        t.idempotency_key,
        t.request_fingerprint,
        t.webhook_url,
        t.capture_session,
    )
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
    select_rows!(
        "WHERE tenant_id = $1 AND idempotency_key = $2",
        tenant_id,
        key
    )
    .fetch_optional(pool)
    .await
}

/// Removes a transaction whose job could not be queued, so that a retry starts clean.
/// Whether it was deleted: `false` when a worker has already started it (the broker had the
/// job after all, e.g. a confirm that timed out).
pub async fn delete_unqueued(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query!(
        "DELETE FROM transactions WHERE id = $1 AND status = 'queued'",
        id
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Records that the broker confirmed the transaction's job (see the reconciler).
pub async fn mark_published(pool: &PgPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE transactions SET published_at = now() WHERE id = $1",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn get(
    pool: &PgPool,
    tenant_id: i64,
    id: i64,
) -> Result<Option<TransactionRow>, sqlx::Error> {
    select_rows!("WHERE tenant_id = $1 AND id = $2", tenant_id, id)
        .fetch_optional(pool)
        .await
}

pub async fn by_id(pool: &PgPool, id: i64) -> Result<Option<TransactionRow>, sqlx::Error> {
    select_rows!("WHERE id = $1", id).fetch_optional(pool).await
}

/// Marks the job started and reads the tenant's threshold in the same round trip; `None`
/// when a verdict already exists (a redelivery after the commit but before the ack).
pub async fn start(pool: &PgPool, id: i64) -> Result<Option<StartedJob>, sqlx::Error> {
    let row = sqlx::query!(
        r#"UPDATE transactions t SET status = 'processing', attempts = t.attempts + 1, updated_at = now()
           FROM tenants n
           WHERE t.id = $1 AND t.status IN ('queued', 'processing') AND n.id = t.tenant_id
           RETURNING t.id, t.tenant_id, t.status::text AS "status!", t.s3_bucket, t.packet_key, t.selfie_key,
                     t.selfie_sha256, t.request_fingerprint, t.attempts, t.created_at, t.webhook_url, t.purged_at, t.capture_session,
                     n.face_threshold, n.model_set, n.disabled_at IS NULL AS "tenant_enabled!", t.packet_sha256"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| StartedJob {
        tx: TransactionRow {
            id: r.id,
            tenant_id: r.tenant_id,
            status: r.status,
            s3_bucket: r.s3_bucket,
            packet_key: r.packet_key,
            selfie_key: r.selfie_key,
            selfie_sha256: r.selfie_sha256,
            request_fingerprint: r.request_fingerprint,
            attempts: r.attempts,
            created_at: r.created_at,
            webhook_url: r.webhook_url,
            purged_at: r.purged_at,
            capture_session: r.capture_session,
        },
        face_threshold: r.face_threshold,
        model_set: r.model_set,
        tenant_enabled: r.tenant_enabled,
        packet_sha256: r.packet_sha256,
    }))
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
    sqlx::query!(
        "WITH v AS (
             INSERT INTO verdicts (transaction_id, tenant_id, valid, error_code, message, error_details, face_probability,
                                   capture_score, capture_probability, failed_signal, capture_signals, frames,
                                   model_versions, timings_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (transaction_id) DO NOTHING
             RETURNING transaction_id
         ), t AS (
             UPDATE transactions SET status = $15::text::transaction_status, selfie_key = $19, updated_at = now()
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
        id,
        tenant_id,
        verdict.valid,
        verdict.error_code.map(|c| c.code() as i16),
        verdict.error_code.map(|c| c.message()),
        verdict.error_details.as_ref(),
        verdict.face_probability,
        verdict.capture_score,
        verdict.capture_probability,
        verdict.failed_signal.as_deref(),
        &verdict.capture_signals,
        &verdict.frames,
        &verdict.model_versions,
        &verdict.timings_ms,
        status,
        event_type,
        event_body(event_type, data),
        VERDICT_CHANNEL,
        selfie_key,
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn verdict(pool: &PgPool, id: i64) -> Result<Option<VerdictRow>, sqlx::Error> {
    sqlx::query_as!(
        VerdictRow,
        "SELECT valid, error_code, error_details, face_probability, capture_score, capture_probability
         FROM verdicts WHERE transaction_id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}
