//! What the service itself keeps in object storage (the selfie it chose from a capture) is
//! encrypted before it leaves the process: AES-256-GCM under a storage key from the
//! environment, so the bucket alone gives away no face.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "LVSO" (liveness sealed object)
//! 4       1     version (1)
//! 5       1     key id length K (1-64)
//! 6       K     key id
//! 6+K     12    AES-GCM nonce (random per object)
//! 18+K    ...   ciphertext with the 16-byte tag at the end
//! ```
//! The associated data is the header (bytes 0 to 18+K) followed by the object's key in the
//! bucket, so an object copied under another transaction's key does not open.
//!
//! `LIVENESS_STORAGE_KEYS` lists `KEY_ID=BASE64URL` entries (32 random bytes each); the first
//! encrypts, every one decrypts: rotate by putting a new key first and keeping the old ones
//! until the objects they sealed are purged.

use crate::config::ConfigError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::fmt;

const MAGIC: &[u8; 4] = b"LVSO";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KEY_ID_LEN: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AtRestError {
    #[error("not an object sealed by this service")]
    NotSealed,
    #[error("sealed with key {0:?}, which is not among the configured keys")]
    UnknownKey(String),
    #[error("does not authenticate: altered, truncated, moved or sealed under another key")]
    Corrupt,
}

#[derive(Clone)]
struct StorageKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The storage keys, the current one first. `Debug` never shows key material.
#[derive(Clone)]
pub struct StorageKeys {
    keys: Vec<StorageKey>,
}

impl fmt::Debug for StorageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        write!(f, "StorageKeys({ids:?}, <secret>)")
    }
}

impl StorageKeys {
    /// LIVENESS_STORAGE_KEYS (required).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_var("LIVENESS_STORAGE_KEYS")
    }

    /// A key list in the same format under another name (LIVENESS_WEBHOOK_KEYS), required.
    pub fn from_env_var(name: &'static str) -> Result<Self, ConfigError> {
        let entries = crate::config::env_required(name)?;
        Self::parse(&entries).map_err(|reason| ConfigError::Invalid {
            name,
            value: "<hidden>".into(),
            reason,
        })
    }

    /// `KEY_ID=BASE64URL[,KEY_ID=BASE64URL...]`; the error names the entry, never the key.
    pub fn parse(entries: &str) -> Result<Self, String> {
        let keys: Vec<StorageKey> = parse_key_entries(entries)?
            .into_iter()
            .map(|(id, material)| StorageKey {
                cipher: Aes256Gcm::new_from_slice(&material).expect("a 32-byte key"),
                id,
            })
            .collect();
        if keys.is_empty() {
            return Err("no key given".into());
        }
        Ok(Self { keys })
    }

    /// The id of the key that seals now.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// A new random key as an entry for LIVENESS_STORAGE_KEYS (`KEY_ID=BASE64URL`).
    pub fn generate_entry(key_id: &str) -> String {
        format!(
            "{key_id}={}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
        )
    }

    /// Encrypts `plaintext` for storage under `object_key` with the current key.
    pub fn seal(&self, object_key: &str, plaintext: &[u8]) -> Vec<u8> {
        let key = &self.keys[0];
        let mut out = Vec::with_capacity(6 + key.id.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(key.id.len() as u8);
        out.extend_from_slice(key.id.as_bytes());
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        out.extend_from_slice(&nonce_bytes);
        let aad = [out.as_slice(), object_key.as_bytes()].concat();
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce_bytes.into(),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encrypts any message below 64 GiB");
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts what [`StorageKeys::seal`] wrote under `object_key`.
    pub fn open(&self, object_key: &str, sealed: &[u8]) -> Result<Vec<u8>, AtRestError> {
        if sealed.len() < 6 || &sealed[..4] != MAGIC || sealed[4] != VERSION {
            return Err(AtRestError::NotSealed);
        }
        let id_len = sealed[5] as usize;
        let header_len = 6 + id_len + NONCE_LEN;
        if id_len == 0 || sealed.len() < header_len + TAG_LEN {
            return Err(AtRestError::NotSealed);
        }
        let id = String::from_utf8_lossy(&sealed[6..6 + id_len]);
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| AtRestError::UnknownKey(id.into_owned()))?;
        let nonce: [u8; NONCE_LEN] = sealed[6 + id_len..header_len]
            .try_into()
            .expect("slice of NONCE_LEN bytes");
        let aad = [&sealed[..header_len], object_key.as_bytes()].concat();
        key.cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &sealed[header_len..],
                    aad: &aad,
                },
            )
            .map_err(|_| AtRestError::Corrupt)
    }
}

/// Whether `id` can name a key: 1-64 characters of A-Z a-z 0-9 . _ - (it is written into
/// sealed headers and configuration, never anything else).
pub fn is_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `KEY_ID=BASE64URL[,...]` entries of 32-byte keys, in order; the error names the entry,
/// never its key material. Shared by every key list the service reads (storage, webhook
/// secrets, pseudonyms).
pub fn parse_key_entries(entries: &str) -> Result<Vec<(String, [u8; 32])>, String> {
    let mut keys: Vec<(String, [u8; 32])> = Vec::new();
    for entry in entries.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, material) = entry
            .split_once('=')
            .ok_or("expected KEY_ID=BASE64URL entries separated by commas")?;
        if !is_key_id(id) {
            return Err(format!(
                "key id {id:?} must be 1-64 characters of A-Z a-z 0-9 . _ -"
            ));
        }
        if keys.iter().any(|(known, _)| known == id) {
            return Err(format!("key id {id:?} is listed twice"));
        }
        let material: [u8; 32] = URL_SAFE_NO_PAD
            .decode(material.trim_end_matches('='))
            .ok()
            .and_then(|m| m.try_into().ok())
            .ok_or(format!("key {id:?} must be 32 bytes in base64url"))?;
        keys.push((id.to_string(), material));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_rotates() {
        let old = StorageKeys::generate_entry("s-2025");
        let new = StorageKeys::generate_entry("s-2026");
        let before = StorageKeys::parse(&old).unwrap();
        let sealed = before.seal("tenant-1/a.selfie", b"jpeg bytes");
        assert!(!sealed.windows(10).any(|w| w == b"jpeg bytes"));
        assert_eq!(
            before.open("tenant-1/a.selfie", &sealed).unwrap(),
            b"jpeg bytes"
        );

        // Rotation: the new key seals, the old one still opens what it sealed.
        let after = StorageKeys::parse(&format!("{new},{old}")).unwrap();
        assert_eq!(
            after.open("tenant-1/a.selfie", &sealed).unwrap(),
            b"jpeg bytes"
        );
        let resealed = after.seal("tenant-1/a.selfie", b"jpeg bytes");
        assert_eq!(&resealed[6..12], b"s-2026");
        assert_eq!(
            before.open("tenant-1/a.selfie", &resealed),
            Err(AtRestError::UnknownKey("s-2026".into()))
        );
    }

    #[test]
    fn refuses_other_objects_tampering_and_plain_files() {
        let keys = StorageKeys::parse(&StorageKeys::generate_entry("k")).unwrap();
        let sealed = keys.seal("tenant-1/a.selfie", b"jpeg bytes");
        assert_eq!(
            keys.open("tenant-2/b.selfie", &sealed),
            Err(AtRestError::Corrupt)
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            keys.open("tenant-1/a.selfie", &tampered),
            Err(AtRestError::Corrupt)
        );
        assert_eq!(
            keys.open("x", b"\xff\xd8\xff\xe0 a JPEG"),
            Err(AtRestError::NotSealed)
        );
    }

    #[test]
    fn bad_entries_are_named_without_their_key() {
        for (entries, expected) in [
            ("", "no key"),
            ("k", "KEY_ID=BASE64URL"),
            ("k=c2hvcnQ", "32 bytes"),
            ("bad id=AAAA", "1-64 characters"),
        ] {
            let err = StorageKeys::parse(entries).unwrap_err();
            assert!(err.contains(expected), "{entries:?}: {err}");
        }
        let entry = StorageKeys::generate_entry("dup");
        let err = StorageKeys::parse(&format!("{entry},{entry}")).unwrap_err();
        assert!(err.contains("twice") && !err.contains(entry.split_once('=').unwrap().1));
        let debug = format!("{:?}", StorageKeys::parse(&entry).unwrap());
        assert!(!debug.contains(entry.split_once('=').unwrap().1), "{debug}");
    }
}
