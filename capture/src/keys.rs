//! Server key pairs. Several can be active at once so keys rotate without breaking clients
//! that still hold the previous public key: each packet names the key it was sealed to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

type KemPrivate = <X25519HkdfSha256 as Kem>::PrivateKey;
type KemPublic = <X25519HkdfSha256 as Kem>::PublicKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key id {0:?} is invalid: 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadKeyId(String),
    #[error("key {key_id}: not a base64url X25519 key of 32 bytes")]
    BadKey { key_id: String },
    #[error("{0}: expected KEY_ID=BASE64URL_PRIVATE_KEY")]
    BadEntry(String),
    #[error("cannot read key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no capture keys configured (LIVENESS_CAPTURE_KEYS or LIVENESS_CAPTURE_KEY_DIR)")]
    NoKeys,
}

/// Names a server key in a packet header. Restricted to a safe alphabet because it travels in
/// clear text, in URLs and in file names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

pub const MAX_KEY_ID_LEN: usize = 64;

impl KeyId {
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_KEY_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(KeyError::BadKeyId(s.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone)]
pub struct PrivateKey {
    pub key_id: KeyId,
    pub(crate) secret: KemPrivate,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, <secret>)", self.key_id)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PublicKey {
    pub key_id: KeyId,
    pub(crate) key: KemPublic,
}

impl PrivateKey {
    pub fn generate(key_id: KeyId) -> Self {
        let (secret, _) = X25519HkdfSha256::gen_keypair();
        Self { key_id, secret }
    }

    pub fn from_base64(key_id: KeyId, encoded: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::BadKey {
            key_id: key_id.to_string(),
        };
        let bytes = URL_SAFE_NO_PAD.decode(encoded.trim()).map_err(|_| bad())?;
        let secret = KemPrivate::from_bytes(&bytes).map_err(|_| bad())?;
        Ok(Self { key_id, secret })
    }

    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.secret.to_bytes())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id.clone(),
            key: X25519HkdfSha256::sk_to_pk(&self.secret),
        }
    }
}

impl PublicKey {
    pub fn from_base64(key_id: KeyId, encoded: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::BadKey {
            key_id: key_id.to_string(),
        };
        let bytes = URL_SAFE_NO_PAD.decode(encoded.trim()).map_err(|_| bad())?;
        let key = KemPublic::from_bytes(&bytes).map_err(|_| bad())?;
        Ok(Self { key_id, key })
    }

    /// `KEY_ID:BASE64URL`, the form `liveness keygen` prints and `liveness seal --key` takes.
    pub fn parse_tagged(tagged: &str) -> Result<Self, KeyError> {
        let (id, key) = tagged
            .trim()
            .split_once(':')
            .ok_or_else(|| KeyError::BadEntry(tagged.into()))?;
        Self::from_base64(KeyId::parse(id)?, key)
    }

    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.to_bytes())
    }

    pub fn to_tagged(&self) -> String {
        format!("{}:{}", self.key_id, self.to_base64())
    }
}

/// The server's active private keys by id.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, PrivateKey>,
}

impl Keyring {
    pub fn new(keys: impl IntoIterator<Item = PrivateKey>) -> Self {
        Self {
            keys: keys.into_iter().map(|k| (k.key_id.clone(), k)).collect(),
        }
    }

    pub fn get(&self, key_id: &str) -> Option<&PrivateKey> {
        KeyId::parse(key_id).ok().and_then(|id| self.keys.get(&id))
    }

    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.keys.values().map(PrivateKey::public).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `KEY_ID=BASE64URL` entries separated by commas or whitespace.
    pub fn from_entries(entries: &str) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for entry in entries
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let (id, key) = entry
                .split_once('=')
                .ok_or_else(|| KeyError::BadEntry(entry.into()))?;
            keys.push(PrivateKey::from_base64(KeyId::parse(id)?, key)?);
        }
        Ok(Self::new(keys))
    }

    /// Every `KEY_ID.key` file of a folder, each holding one base64url private key.
    pub fn from_dir(dir: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "key") {
                let id = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                keys.push(PrivateKey::from_base64(KeyId::parse(id)?, &text)?);
            }
        }
        Ok(Self::new(keys))
    }

    /// LIVENESS_CAPTURE_KEYS (entries) and LIVENESS_CAPTURE_KEY_DIR (folder), merged.
    pub fn from_env() -> Result<Self, KeyError> {
        let mut ring = Keyring::default();
        if let Ok(entries) = std::env::var("LIVENESS_CAPTURE_KEYS") {
            ring.keys.extend(Self::from_entries(&entries)?.keys);
        }
        if let Ok(dir) = std::env::var("LIVENESS_CAPTURE_KEY_DIR") {
            ring.keys.extend(Self::from_dir(Path::new(&dir))?.keys);
        }
        if ring.is_empty() {
            return Err(KeyError::NoKeys);
        }
        Ok(ring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_restricted() {
        assert!(KeyId::parse("2026-11.a_b").is_ok());
        for bad in ["", "a/b", "../x", "a b", &"k".repeat(65), "é"] {
            assert!(KeyId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_round_trip_through_text() {
        let key = PrivateKey::generate(KeyId::parse("k1").unwrap());
        let again = PrivateKey::from_base64(key.key_id.clone(), &key.to_base64()).unwrap();
        assert_eq!(again.public(), key.public());
        let public = PublicKey::parse_tagged(&key.public().to_tagged()).unwrap();
        assert_eq!(public, key.public());
        let ring = Keyring::from_entries(&format!("k1={}", key.to_base64())).unwrap();
        assert!(ring.get("k1").is_some() && ring.get("k2").is_none());
        assert!(PublicKey::parse_tagged("k1:not-base64!").is_err());
        assert!(Keyring::from_entries("k1").is_err());
    }
}
