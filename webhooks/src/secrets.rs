//! Webhook signing secrets at rest. A `whsec_` secret must be usable (it signs every
//! delivery), so it cannot be hashed like a client secret: it is encrypted with AES-256-GCM
//! under a key from LIVENESS_WEBHOOK_KEYS (the format of LIVENESS_STORAGE_KEYS, the current
//! key first), bound to its endpoint and slot, and the row records which key sealed it.
//!
//! A database dump alone then yields no secret that could forge a delivery; the dump plus
//! LIVENESS_WEBHOOK_KEYS yields all of them. Rows written before encryption hold the secret
//! in plaintext until [`reseal`] runs (at every producer and worker start, for those rows),
//! and `liveness keys rotate-webhook-key` reseals every row under the current key.

use liveness_pipeline::storage::at_rest::{AtRestError, StorageKeys};
use sqlx::PgPool;
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the signing secret of webhook endpoint {endpoint_id} does not open: {source}")]
    Sealed {
        endpoint_id: i64,
        #[source]
        source: AtRestError,
    },
    #[error("webhook endpoint {0} has no signing secret")]
    Missing(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Which of an endpoint's two secrets: part of what the encryption authenticates, so a
/// sealed value copied into the other column, or another endpoint's row, does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Current,
    Previous,
}

fn associated_data(endpoint_id: i64, slot: Slot) -> String {
    let column = match slot {
        Slot::Current => "secret",
        Slot::Previous => "previous_secret",
    };
    format!("liveness/webhook_endpoints/{endpoint_id}/{column}")
}

pub fn seal(keys: &StorageKeys, endpoint_id: i64, slot: Slot, secret: &str) -> Vec<u8> {
    keys.seal(&associated_data(endpoint_id, slot), secret.as_bytes())
}

fn open(
    keys: &StorageKeys,
    endpoint_id: i64,
    slot: Slot,
    sealed: &[u8],
) -> Result<String, SecretError> {
    let sealed_error = |source| SecretError::Sealed {
        endpoint_id,
        source,
    };
    let plain = keys
        .open(&associated_data(endpoint_id, slot), sealed)
        .map_err(sealed_error)?;
    String::from_utf8(plain).map_err(|_| sealed_error(AtRestError::Corrupt))
}

/// An endpoint's secrets as its row holds them: sealed, or in plaintext in a row written
/// before encryption. `Debug` shows neither.
#[derive(Clone, Default, sqlx::FromRow)]
pub struct StoredSecrets {
    pub secret: Option<String>,
    pub secret_sealed: Option<Vec<u8>>,
    pub previous_secret: Option<String>,
    pub previous_secret_sealed: Option<Vec<u8>>,
}

impl fmt::Debug for StoredSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StoredSecrets(sealed: {}, <redacted>)",
            self.secret_sealed.is_some()
        )
    }
}

impl StoredSecrets {
    /// The secret that signs now.
    pub fn current(&self, keys: &StorageKeys, endpoint_id: i64) -> Result<String, SecretError> {
        match (&self.secret_sealed, &self.secret) {
            (Some(sealed), _) => open(keys, endpoint_id, Slot::Current, sealed),
            (None, Some(plain)) => Ok(plain.clone()),
            (None, None) => Err(SecretError::Missing(endpoint_id)),
        }
    }

    /// The secret before the last rotation, if the row holds one.
    pub fn previous(
        &self,
        keys: &StorageKeys,
        endpoint_id: i64,
    ) -> Result<Option<String>, SecretError> {
        match (&self.previous_secret_sealed, &self.previous_secret) {
            (Some(sealed), _) => open(keys, endpoint_id, Slot::Previous, sealed).map(Some),
            (None, plain) => Ok(plain.clone()),
        }
    }

    /// Every secret that signs a delivery now, the current one first.
    pub fn signing(
        &self,
        keys: &StorageKeys,
        endpoint_id: i64,
    ) -> Result<Vec<String>, SecretError> {
        let mut secrets = vec![self.current(keys, endpoint_id)?];
        secrets.extend(self.previous(keys, endpoint_id)?);
        Ok(secrets)
    }
}

/// What every producer and worker runs before it serves: rows written before secrets were
/// encrypted are sealed (and their plaintext nulled). Returns how many.
pub async fn seal_plaintext_rows(pool: &PgPool, keys: &StorageKeys) -> Result<u64, SecretError> {
    let sealed = reseal(pool, keys, Reseal::Plaintext, 100).await?;
    if sealed > 0 {
        tracing::info!(endpoints = sealed, "sealed plaintext webhook secrets");
    }
    Ok(sealed)
}

/// Which rows [`reseal`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reseal {
    /// Only rows still holding a plaintext secret (the upgrade to encrypted secrets).
    Plaintext,
    /// Every row not sealed under the current key as well (a key rotation).
    NotUnderCurrentKey,
}

/// Seals rows again under the current key, `batch` rows per transaction (rows another
/// transaction holds are left for the next pass); how many rows were resealed. A row whose
/// secret no configured key opens stops the run with an error naming the endpoint.
pub async fn reseal(
    pool: &PgPool,
    keys: &StorageKeys,
    which: Reseal,
    batch: i64,
) -> Result<u64, SecretError> {
    let mut resealed = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query!(
            "SELECT id, secret, secret_sealed, previous_secret, previous_secret_sealed
             FROM webhook_endpoints
             WHERE secret IS NOT NULL OR previous_secret IS NOT NULL
                OR ($1 AND secret_key_id IS DISTINCT FROM $2)
             ORDER BY id LIMIT $3
             FOR UPDATE SKIP LOCKED",
            which == Reseal::NotUnderCurrentKey,
            keys.current_id(),
            batch
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(resealed);
        }
        let count = rows.len() as u64;
        for row in rows {
            let stored = StoredSecrets {
                secret: row.secret,
                secret_sealed: row.secret_sealed,
                previous_secret: row.previous_secret,
                previous_secret_sealed: row.previous_secret_sealed,
            };
            let current = stored.current(keys, row.id)?;
            let previous = stored.previous(keys, row.id)?;
            sqlx::query!(
                "UPDATE webhook_endpoints
                 SET secret = NULL, previous_secret = NULL, secret_sealed = $2,
                     previous_secret_sealed = $3, secret_key_id = $4
                 WHERE id = $1",
                row.id,
                seal(keys, row.id, Slot::Current, &current),
                previous.map(|p| seal(keys, row.id, Slot::Previous, &p)),
                keys.current_id(),
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        resealed += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_endpoint_and_slot() {
        let keys = StorageKeys::parse(&StorageKeys::generate_entry("w1")).unwrap();
        let sealed = seal(&keys, 7, Slot::Current, "whsec_abc");
        assert_eq!(open(&keys, 7, Slot::Current, &sealed).unwrap(), "whsec_abc");
        assert!(open(&keys, 8, Slot::Current, &sealed).is_err());
        assert!(open(&keys, 7, Slot::Previous, &sealed).is_err());
        let stored = StoredSecrets {
            secret_sealed: Some(sealed),
            previous_secret: Some("whsec_legacy".into()),
            ..Default::default()
        };
        assert_eq!(
            stored.signing(&keys, 7).unwrap(),
            ["whsec_abc", "whsec_legacy"]
        );
        assert!(!format!("{stored:?}").contains("whsec"));
    }
}
