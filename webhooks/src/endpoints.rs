//! A tenant's webhook endpoints: URL and signing secrets (data access).

use crate::guard::{check_shape, GuardError};
use crate::secrets::{seal, SecretError, Slot, StoredSecrets};
use crate::signing::generate_secret;
use chrono::{DateTime, Utc};
use liveness_pipeline::storage::at_rest::StorageKeys;
use reqwest::Url;
use sqlx::PgPool;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(String),
    #[error(transparent)]
    Refused(#[from] GuardError),
    #[error("this endpoint is already registered")]
    Duplicate,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub use liveness_contract::webhooks::Endpoint;

const MAX_URL: usize = 2048;

pub fn parse_url(text: &str) -> Result<Url, EndpointError> {
    if text.len() > MAX_URL {
        return Err(EndpointError::InvalidUrl(format!(
            "longer than {MAX_URL} bytes"
        )));
    }
    let url = Url::parse(text.trim()).map_err(|e| EndpointError::InvalidUrl(e.to_string()))?;
    check_shape(&url)?;
    Ok(url)
}

/// Registers an endpoint; returns it with its new secret, which the row keeps only sealed
/// under the current webhook key (crate::secrets).
pub async fn create(
    pool: &PgPool,
    keys: &StorageKeys,
    tenant_id: i64,
    url: &str,
) -> Result<(Endpoint, String), EndpointError> {
    let url = parse_url(url)?;
    // The id is drawn first: the encryption is bound to it.
    let id = sqlx::query_scalar!(
        r#"SELECT nextval(pg_get_serial_sequence('webhook_endpoints', 'id')) AS "id!""#
    )
    .fetch_one(pool)
    .await?;
    let secret = generate_secret();
    let endpoint = sqlx::query_as!(
        Endpoint,
        "INSERT INTO webhook_endpoints (id, tenant_id, url, secret_sealed, secret_key_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, url) DO NOTHING
         RETURNING id, url, created_at, disabled_at, disabled_reason, previous_expires_at",
        id,
        tenant_id,
        url.as_str(),
        seal(keys, id, Slot::Current, &secret),
        keys.current_id(),
    )
    .fetch_optional(pool)
    .await?
    .ok_or(EndpointError::Duplicate)?;
    Ok((endpoint, secret))
}

pub async fn list(pool: &PgPool, tenant_id: i64) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query_as!(
        Endpoint,
        "SELECT id, url, created_at, disabled_at, disabled_reason, previous_expires_at
         FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY id",
        tenant_id
    )
    .fetch_all(pool)
    .await
}

/// A new secret; the current one keeps signing alongside it for `grace`, so receivers can
/// switch without missing an event. Both are sealed again under the current webhook key.
/// `None` if the endpoint is not the tenant's.
pub async fn rotate(
    pool: &PgPool,
    keys: &StorageKeys,
    tenant_id: i64,
    id: i64,
    grace: Duration,
) -> Result<Option<(String, DateTime<Utc>)>, SecretError> {
    let mut tx = pool.begin().await?;
    let stored = sqlx::query_as!(
        StoredSecrets,
        "SELECT secret, secret_sealed, previous_secret, previous_secret_sealed
         FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let previous = stored.current(keys, id)?;
    let secret = generate_secret();
    let expires: DateTime<Utc> = sqlx::query_scalar!(
        r#"UPDATE webhook_endpoints
           SET secret = NULL, previous_secret = NULL, secret_sealed = $2,
               previous_secret_sealed = $3, secret_key_id = $4,
               previous_expires_at = now() + make_interval(secs => $5)
           WHERE id = $1
           RETURNING previous_expires_at AS "previous_expires_at!""#,
        id,
        seal(keys, id, Slot::Current, &secret),
        seal(keys, id, Slot::Previous, &previous),
        keys.current_id(),
        grace.as_secs_f64(),
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((secret, expires)))
}

/// Stops deliveries to an endpoint and fails what was still waiting for it.
pub async fn disable(
    pool: &PgPool,
    tenant_id: i64,
    id: i64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let disabled = sqlx::query_scalar!(
        r#"WITH e AS (
             UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = $3
             WHERE tenant_id = $1 AND id = $2 RETURNING id
         ), m AS (
             -- A new lease token too, so that an attempt in flight (a retry, say) cannot
             -- bring a message of a disabled endpoint back.
             UPDATE webhook_messages SET status = 'failed', last_error = 'endpoint disabled: ' || $3,
                                         claims = claims + 1, leased_until = NULL
             WHERE status = 'pending' AND endpoint_id IN (SELECT id FROM e)
         )
         SELECT count(*) AS "disabled!" FROM e"#,
        tenant_id,
        id,
        reason
    )
    .fetch_one(pool)
    .await?;
    Ok(disabled == 1)
}

pub async fn enable(pool: &PgPool, tenant_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL
         WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the tenant has an enabled endpoint whose secret can sign an override delivery.
pub async fn has_enabled(pool: &PgPool, tenant_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE tenant_id = $1 AND disabled_at IS NULL) AS "enabled!""#,
        tenant_id
    )
    .fetch_one(pool)
    .await
}
