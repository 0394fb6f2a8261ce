//! Capture sessions (nonces) and replay digests in PostgreSQL: the stores capture
//! assessment needs, bound to one tenant and one transaction.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use liveness_capture::{NonceCheck, NonceStore, ReplayCheck, ReplayStore, StoreError};
use sqlx::PgPool;

pub struct Session {
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(
    pool: &PgPool,
    tenant_id: i64,
    ttl: chrono::Duration,
) -> Result<Session, sqlx::Error> {
    let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
    let expires_at: DateTime<Utc> = sqlx::query_scalar!(
        "INSERT INTO capture_sessions (nonce, tenant_id, expires_at) VALUES ($1, $2, now() + $3::interval) RETURNING expires_at",
        nonce,
        tenant_id,
        // chrono's Duration encodes as an INTERVAL; the macros only name PgInterval for one.
        ttl as _,
    )
    .fetch_one(pool)
    .await?;
    Ok(Session { nonce, expires_at })
}

/// This tenant's session, while it lives.
pub async fn get(
    pool: &PgPool,
    tenant_id: i64,
    nonce: &str,
) -> Result<Option<Session>, sqlx::Error> {
    let expires_at: Option<DateTime<Utc>> = sqlx::query_scalar!(
        "SELECT expires_at FROM capture_sessions WHERE nonce = $1 AND tenant_id = $2 AND expires_at > now()",
        nonce,
        tenant_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(expires_at.map(|expires_at| Session {
        nonce: nonce.to_string(),
        expires_at,
    }))
}

/// Whether a capture token may submit its capture now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This submission is the session's one capture.
    Claimed,
    /// The session's capture was already submitted.
    AlreadySubmitted,
    /// The session expired (its token with it) or is not this tenant's.
    Gone,
}

/// Marks the session's one submission as taken, atomically: of two concurrent submissions
/// with one capture token, exactly one gets [`Claim::Claimed`].
pub async fn claim(pool: &PgPool, tenant_id: i64, nonce: &str) -> Result<Claim, sqlx::Error> {
    let claimed = sqlx::query!(
        "UPDATE capture_sessions SET submitted_at = now()
         WHERE nonce = $1 AND tenant_id = $2 AND submitted_at IS NULL AND expires_at > now()",
        nonce,
        tenant_id
    )
    .execute(pool)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(Claim::Claimed);
    }
    let submitted: Option<bool> = sqlx::query_scalar!(
        r#"SELECT submitted_at IS NOT NULL AS "submitted!" FROM capture_sessions
           WHERE nonce = $1 AND tenant_id = $2 AND expires_at > now()"#,
        nonce,
        tenant_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(match submitted {
        Some(true) => Claim::AlreadySubmitted,
        _ => Claim::Gone,
    })
}

/// Gives the claim back when the submission was not stored or not queued: the browser's
/// retry is then a new first submission.
pub async fn release(pool: &PgPool, tenant_id: i64, nonce: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE capture_sessions SET submitted_at = NULL WHERE nonce = $1 AND tenant_id = $2",
        nonce,
        tenant_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Nonce and digest stores for one transaction of one tenant.
pub struct PgCaptureStores<'a> {
    pub pool: &'a PgPool,
    pub tenant_id: i64,
    pub transaction_id: i64,
    /// The session of the capture token that submitted the transaction: then only that
    /// session's nonce is fresh, so a token cannot carry a packet made for another session.
    pub bound_session: Option<&'a str>,
}

fn store_error(e: sqlx::Error) -> StoreError {
    StoreError(Box::new(e))
}

impl NonceStore for PgCaptureStores<'_> {
    async fn consume(
        &self,
        nonce: &str,
        _submission: &str,
        now_ms: u64,
    ) -> Result<NonceCheck, StoreError> {
        let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_else(Utc::now);
        if self.bound_session.is_some_and(|bound| bound != nonce) {
            return Ok(NonceCheck::Unknown);
        }
        // Consume atomically: of two concurrent submissions with one nonce, exactly one wins.
        let consumed = sqlx::query!(
            "UPDATE capture_sessions SET used_at = $4, used_by = $3
             WHERE nonce = $1 AND tenant_id = $2 AND used_at IS NULL AND expires_at > $4",
            nonce,
            self.tenant_id,
            self.transaction_id,
            now
        )
        .execute(self.pool)
        .await
        .map_err(store_error)?;
        if consumed.rows_affected() == 1 {
            return Ok(NonceCheck::Fresh);
        }
        let row = sqlx::query!(
            "SELECT tenant_id, used_by, expires_at FROM capture_sessions WHERE nonce = $1",
            nonce
        )
        .fetch_optional(self.pool)
        .await
        .map_err(store_error)?
        .map(|r| (r.tenant_id, r.used_by, r.expires_at));
        Ok(match row {
            // Another tenant's nonce is, for this tenant, one that was never issued.
            None => NonceCheck::Unknown,
            Some((tenant, _, _)) if tenant != self.tenant_id => NonceCheck::Unknown,
            Some((_, Some(by), _)) if by == self.transaction_id => NonceCheck::Fresh,
            Some((_, Some(_), _)) => NonceCheck::AlreadyUsed,
            Some(_) => NonceCheck::Expired,
        })
    }
}

impl ReplayStore for PgCaptureStores<'_> {
    async fn record(
        &self,
        packet: [u8; 32],
        frames: &[[u8; 32]],
        _submission: &str,
    ) -> Result<ReplayCheck, StoreError> {
        let mut kinds = vec!["packet".to_string()];
        let mut digests = vec![packet.to_vec()];
        for f in frames {
            kinds.push("frame".to_string());
            digests.push(f.to_vec());
        }
        // First owner wins; a digest owned by another transaction has been seen before.
        let owners: Vec<(String, i64)> = sqlx::query!(
            r#"WITH input AS (SELECT * FROM unnest($1::text[], $2::bytea[]) AS t(kind, digest)),
                    inserted AS (
                        INSERT INTO capture_digests (kind, digest, transaction_id)
                        SELECT kind, digest, $3 FROM input
                        ON CONFLICT (kind, digest) DO NOTHING
                        RETURNING kind, digest, transaction_id)
               SELECT input.kind AS "kind!", COALESCE(inserted.transaction_id, existing.transaction_id) AS "owner!"
               FROM input
               LEFT JOIN inserted ON inserted.kind = input.kind AND inserted.digest = input.digest
               LEFT JOIN capture_digests existing ON existing.kind = input.kind AND existing.digest = input.digest"#,
            &kinds,
            &digests,
            self.transaction_id
        )
        .fetch_all(self.pool)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|r| (r.kind, r.owner))
        .collect();
        let other = |kind: &str| {
            owners
                .iter()
                .filter(|(k, tx)| k == kind && *tx != self.transaction_id)
                .count()
        };
        Ok(ReplayCheck {
            packet_seen: other("packet") > 0,
            frames_seen: other("frame"),
        })
    }
}
