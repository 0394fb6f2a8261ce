//! Pseudonyms for the identifying request metadata (`citizen_id`, `device`) that a purge
//! keeps for reporting: HMAC-SHA-256 under a key from the environment, over the tenant id
//! and the value.
//!
//! What it gives: the same value in the same tenant always maps to the same pseudonym, so
//! reports still group a person's attempts after their captures are purged. Without the key,
//! a dump cannot be reversed by enumerating national ids (an unsalted SHA-256 can), and two
//! tenants' pseudonyms of one person differ, so tenants cannot correlate each other's users.
//! What it does not give: anyone holding both the dump and LIVENESS_PSEUDONYM_KEY can
//! enumerate as before; keep the key out of the database's backups.
//!
//! Format: `hmac:<key id>:<64 hex digits>`. Rows purged before keyed pseudonyms hold
//! `sha256:<hex>`; [`crate::retention::rekey_legacy_pseudonyms`] replaces those with a keyed
//! pseudonym of the old digest (still grouping among themselves, though not with values
//! pseudonymised from the plain value).

use crate::config::ConfigError;
use crate::storage::at_rest::parse_key_entries;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// Separates this use of the key from any other (domain separation), and versions it.
const CONTEXT: &[u8] = b"liveness/pseudonym/v1\0";

#[derive(Clone)]
pub struct PseudonymKey {
    id: String,
    mac: Hmac<Sha256>,
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PseudonymKey({:?}, <secret>)", self.id)
    }
}

impl PseudonymKey {
    /// LIVENESS_PSEUDONYM_KEY (required): one `KEY_ID=BASE64URL` entry, 32 random bytes.
    pub fn from_env() -> Result<Self, ConfigError> {
        const NAME: &str = "LIVENESS_PSEUDONYM_KEY";
        let entry = crate::config::env_required(NAME)?;
        Self::parse(&entry).map_err(|reason| ConfigError::Invalid {
            name: NAME,
            value: "<hidden>".into(),
            reason,
        })
    }

    pub fn parse(entry: &str) -> Result<Self, String> {
        let mut keys = parse_key_entries(entry)?;
        if keys.len() != 1 {
            return Err("expected exactly one KEY_ID=BASE64URL entry".into());
        }
        let (id, material) = keys.remove(0);
        Ok(Self {
            id,
            mac: Hmac::new_from_slice(&material).expect("HMAC takes any key length"),
        })
    }

    /// A new random key as an entry for LIVENESS_PSEUDONYM_KEY.
    pub fn generate_entry(key_id: &str) -> String {
        crate::storage::at_rest::StorageKeys::generate_entry(key_id)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pseudonym of `value` in `tenant_id`.
    pub fn pseudonym(&self, tenant_id: i64, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(CONTEXT);
        mac.update(&tenant_id.to_be_bytes());
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("hmac:{}:{hex}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn stable_per_tenant_and_key_and_never_the_plain_digest() {
        let key = PseudonymKey::parse(&PseudonymKey::generate_entry("p1")).unwrap();
        let other_key = PseudonymKey::parse(&PseudonymKey::generate_entry("p1")).unwrap();
        let id = "19790512-1234";
        let first = key.pseudonym(7, id);
        assert_eq!(first, key.pseudonym(7, id));
        assert!(first.starts_with("hmac:p1:") && first.len() == "hmac:p1:".len() + 64);
        assert_ne!(first, key.pseudonym(8, id));
        assert_ne!(first, other_key.pseudonym(7, id));
        let plain: String = Sha256::digest(id.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!first.contains(&plain));
        let debug = format!("{key:?}");
        assert!(
            debug.contains("p1") && debug.contains("<secret>"),
            "{debug}"
        );
    }

    #[test]
    fn one_entry_exactly() {
        let a = PseudonymKey::generate_entry("a");
        let b = PseudonymKey::generate_entry("b");
        assert!(PseudonymKey::parse(&format!("{a},{b}")).is_err());
        assert!(PseudonymKey::parse("").is_err());
    }
}
