//! Data retention: sealed captures are deleted from object storage once a tenant's retention
//! period has passed (or on request), and the rows keep only what reporting needs. Objects
//! go first, then one statement strips the rows and writes the audit record, so an
//! interruption anywhere leaves a transaction that the next run purges again, harmlessly.

use crate::pseudonym::PseudonymKey;
use crate::storage::{Storage, StorageError};
use sqlx::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Retention,
    Request,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Retention => "retention",
            Reason::Request => "request",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    pub id: i64,
    pub tenant_id: i64,
    pub status: String,
    pub s3_bucket: String,
    pub packet_key: String,
    /// A `selfie` a client sent before the server chose it (kept until purged).
    pub legacy_selfie_key: Option<String>,
    /// Replaced by their pseudonyms when purged.
    pub citizen_id: Option<String>,
    pub device: Option<String>,
}

/// Transactions past their tenant's retention period and not yet purged, oldest first.
pub async fn expired(pool: &PgPool, limit: i64) -> Result<Vec<Target>, sqlx::Error> {
    sqlx::query_as!(
        Target,
        r#"SELECT t.id, t.tenant_id, t.status::text AS "status!", t.s3_bucket, t.packet_key,
                  t.legacy_selfie_key, t.citizen_id, t.device
           FROM transactions t JOIN tenants n ON n.id = t.tenant_id
           WHERE t.purged_at IS NULL AND t.created_at < now() - make_interval(days => n.retention_days)
           ORDER BY t.created_at
           LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TargetState {
    #[sqlx(flatten)]
    pub target: Target,
    pub purged: bool,
}

/// One of a tenant's transactions, purged or not (`None`: not the tenant's).
pub async fn target(
    pool: &PgPool,
    tenant_id: i64,
    id: i64,
) -> Result<Option<TargetState>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, tenant_id, status::text AS "status!", s3_bucket, packet_key,
                  legacy_selfie_key, citizen_id, device, purged_at IS NOT NULL AS "purged!"
           FROM transactions WHERE tenant_id = $1 AND id = $2"#,
        tenant_id,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| TargetState {
        target: Target {
            id: r.id,
            tenant_id: r.tenant_id,
            status: r.status,
            s3_bucket: r.s3_bucket,
            packet_key: r.packet_key,
            legacy_selfie_key: r.legacy_selfie_key,
            citizen_id: r.citizen_id,
            device: r.device,
        },
        purged: r.purged,
    }))
}

/// Deletes the capture's objects, then in one statement: replaces the identifying request
/// metadata with keyed pseudonyms (crate::pseudonym), drops per-frame results and the free-text signal details (which can quote the
/// camera's label), marks the transaction purged and records the purge. Returns whether this
/// call did the purge (false: it was already purged).
pub async fn purge(
    pool: &PgPool,
    storage: &Storage,
    key: &PseudonymKey,
    target: &Target,
    reason: Reason,
) -> Result<bool, PurgeError> {
    let mut deleted = 0;
    // The selfie's key is derived, not read from the row: a copy written by a job that then
    // failed unrecorded goes too (deleting a missing object succeeds).
    let selfie = crate::storage::selfie_key(&target.packet_key);
    let keys = [&target.packet_key, &selfie]
        .into_iter()
        .chain(&target.legacy_selfie_key);
    for key in keys {
        storage.delete_from(&target.s3_bucket, key).await?;
        deleted += 1;
    }
    let recorded = sqlx::query!(
        "WITH t AS (
             UPDATE transactions
             SET purged_at = now(), updated_at = now(),
                 citizen_id = $4, device = $5
             WHERE id = $1 AND purged_at IS NULL
             RETURNING id, tenant_id
         ), v AS (
             UPDATE verdicts
             SET frames = '[]',
                 capture_signals = (SELECT coalesce(jsonb_agg(s - 'detail'), '[]')
                                    FROM jsonb_array_elements(capture_signals) s),
                 error_details = error_details - 'detail'
             WHERE transaction_id IN (SELECT id FROM t)
         )
         INSERT INTO purges (transaction_id, tenant_id, reason, objects_deleted)
         SELECT id, tenant_id, $2, $3 FROM t",
        target.id,
        reason.as_str(),
        deleted,
        pseudonym_of(key, target.tenant_id, &target.citizen_id),
        pseudonym_of(key, target.tenant_id, &target.device),
    )
    .execute(pool)
    .await?;
    Ok(recorded.rows_affected() == 1)
}

fn pseudonym_of(key: &PseudonymKey, tenant_id: i64, value: &Option<String>) -> Option<String> {
    value.as_deref().map(|v| key.pseudonym(tenant_id, v))
}

/// Replaces up to `batch` purged transactions' unkeyed `sha256:` digests (written before
/// keyed pseudonyms) with keyed pseudonyms of those digests; how many rows changed. The old
/// digests can be reversed by enumerating ids; the new values cannot without the key.
pub async fn rekey_legacy_pseudonyms(
    pool: &PgPool,
    key: &PseudonymKey,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Legacy {
        id: i64,
        tenant_id: i64,
        citizen_id: Option<String>,
        device: Option<String>,
    }
    let rows = sqlx::query_as!(
        Legacy,
        "SELECT id, tenant_id, citizen_id, device FROM transactions
         WHERE purged_at IS NOT NULL
           AND (citizen_id LIKE 'sha256:%' OR device LIKE 'sha256:%')
         ORDER BY id LIMIT $1",
        batch
    )
    .fetch_all(pool)
    .await?;
    let rekey = |tenant_id, value: Option<String>| {
        value.map(|v| match v.starts_with("sha256:") {
            true => key.pseudonym(tenant_id, &v),
            false => v,
        })
    };
    let mut changed = 0;
    for row in rows {
        // Compared with what was read, so a concurrent run never rekeys a value twice.
        let done = sqlx::query!(
            "UPDATE transactions SET citizen_id = $2, device = $3
             WHERE id = $1 AND citizen_id IS NOT DISTINCT FROM $4
               AND device IS NOT DISTINCT FROM $5",
            row.id,
            rekey(row.tenant_id, row.citizen_id.clone()),
            rekey(row.tenant_id, row.device.clone()),
            row.citizen_id.as_deref(),
            row.device.as_deref(),
        )
        .execute(pool)
        .await?;
        changed += done.rows_affected();
    }
    Ok(changed)
}

/// Purges up to `batch` expired transactions; how many were purged.
pub async fn purge_expired(
    pool: &PgPool,
    storage: &Storage,
    key: &PseudonymKey,
    batch: i64,
) -> Result<usize, PurgeError> {
    let mut purged = 0;
    for target in expired(pool, batch).await? {
        if purge(pool, storage, key, &target, Reason::Retention).await? {
            purged += 1;
        }
    }
    Ok(purged)
}
