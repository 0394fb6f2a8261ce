//! Server key pairs. Several can be active at once so keys rotate without breaking clients
//! that still hold the previous public key: each packet names the key it was sealed to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use std::collections::BTreeMap;
use std::fmt;

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
    #[error("{path}: {reason}")]
    BadFile { path: String, reason: String },
    #[error("no capture keys configured ({0})")]
    NoKeys(&'static str),
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

/// When a key is offered to clients and until when it opens packets (Unix ms). Clients are
/// told to seal to the most recently activated key that is not retired; a retired key keeps
/// opening packets for a grace period (so captures sealed just before a rotation still count),
/// then it is refused as unknown. A key whose activation lies ahead is staged: the worker can
/// hold it before any client is told to use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeySchedule {
    pub activated_at_ms: u64,
    pub retired_at_ms: Option<u64>,
}

impl KeySchedule {
    /// Clients may be told to seal to it now.
    pub fn offered_at(&self, now_ms: u64) -> bool {
        self.activated_at_ms <= now_ms && self.retired_at_ms.is_none_or(|r| now_ms < r)
    }

    /// A packet received now and sealed to it is opened.
    pub fn opens_at(&self, now_ms: u64, grace_ms: u64) -> bool {
        self.activated_at_ms <= now_ms
            && self
                .retired_at_ms
                .is_none_or(|r| now_ms < r.saturating_add(grace_ms))
    }
}

/// Default grace period of a retired key: a day covers sessions (minutes) and queue backlogs
/// (judged as of intake anyway) with a wide margin.
pub const DEFAULT_KEY_GRACE_SECS: u64 = 86_400;

/// The worker's private keys by id, each with its schedule.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: BTreeMap<KeyId, (PrivateKey, KeySchedule)>,
    grace_ms: u64,
}

impl Default for Keyring {
    fn default() -> Self {
        Self {
            keys: BTreeMap::new(),
            grace_ms: DEFAULT_KEY_GRACE_SECS * 1000,
        }
    }
}

impl Keyring {
    /// Keys active since ever and never retired.
    pub fn new(keys: impl IntoIterator<Item = PrivateKey>) -> Self {
        Self::scheduled(keys.into_iter().map(|k| (k, KeySchedule::default())))
    }

    pub fn scheduled(keys: impl IntoIterator<Item = (PrivateKey, KeySchedule)>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|(k, s)| (k.key_id.clone(), (k, s)))
                .collect(),
            ..Self::default()
        }
    }

    pub fn with_grace(mut self, grace: std::time::Duration) -> Self {
        self.grace_ms = grace.as_millis() as u64;
        self
    }

    /// The key of this id, whatever its schedule.
    pub fn get(&self, key_id: &str) -> Option<&PrivateKey> {
        KeyId::parse(key_id)
            .ok()
            .and_then(|id| self.keys.get(&id))
            .map(|(k, _)| k)
    }

    /// Only the keys that open a packet received at `now_ms`.
    pub fn as_of(&self, now_ms: u64) -> Keyring {
        Self {
            keys: self
                .keys
                .iter()
                .filter(|(_, (_, s))| s.opens_at(now_ms, self.grace_ms))
                .map(|(id, entry)| (id.clone(), entry.clone()))
                .collect(),
            grace_ms: self.grace_ms,
        }
    }

    /// The public halves with the same schedules and grace.
    pub fn public(&self) -> PublicKeyring {
        PublicKeyring {
            keys: self.keys.values().map(|(k, s)| (k.public(), *s)).collect(),
            grace_ms: self.grace_ms,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn insert(&mut self, key: PrivateKey, schedule: KeySchedule) {
        self.keys.insert(key.key_id.clone(), (key, schedule));
    }

    pub(crate) fn merge(&mut self, other: Keyring) {
        self.keys.extend(other.keys);
    }
}

/// What the producer holds: public keys and their schedules, no private key.
#[derive(Debug, Clone)]
pub struct PublicKeyring {
    keys: Vec<(PublicKey, KeySchedule)>,
    grace_ms: u64,
}

impl Default for PublicKeyring {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            grace_ms: DEFAULT_KEY_GRACE_SECS * 1000,
        }
    }
}

impl PublicKeyring {
    pub fn scheduled(
        keys: impl IntoIterator<Item = (PublicKey, KeySchedule)>,
        grace: std::time::Duration,
    ) -> Self {
        let mut ring = Self {
            keys: Vec::new(),
            grace_ms: grace.as_millis() as u64,
        };
        for (k, s) in keys {
            ring.insert(k, s);
        }
        ring
    }

    pub(crate) fn insert(&mut self, key: PublicKey, schedule: KeySchedule) {
        self.keys.retain(|(k, _)| k.key_id != key.key_id);
        self.keys.push((key, schedule));
    }

    pub(crate) fn merge(&mut self, other: PublicKeyring) {
        for (k, s) in other.keys {
            self.insert(k, s);
        }
    }

    pub(crate) fn set_grace_ms(&mut self, grace_ms: u64) {
        self.grace_ms = grace_ms;
    }

    /// The keys to offer clients now, the one to seal to first: newest activation, then the
    /// greatest id (so two keys activated together still have one order).
    pub fn offered(&self, now_ms: u64) -> Vec<&PublicKey> {
        let mut keys: Vec<&(PublicKey, KeySchedule)> = self
            .keys
            .iter()
            .filter(|(_, s)| s.offered_at(now_ms))
            .collect();
        keys.sort_by(|(a, sa), (b, sb)| {
            (sb.activated_at_ms, &b.key_id).cmp(&(sa.activated_at_ms, &a.key_id))
        });
        keys.into_iter().map(|(k, _)| k).collect()
    }

    /// Whether a packet sealed to `key_id` and received at `now_ms` will be opened.
    pub fn accepts(&self, key_id: &str, now_ms: u64) -> bool {
        self.keys
            .iter()
            .any(|(k, s)| k.key_id.as_str() == key_id && s.opens_at(now_ms, self.grace_ms))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
        assert!(PublicKey::parse_tagged("k1:not-base64!").is_err());
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    fn key(id: &str) -> PrivateKey {
        PrivateKey::generate(KeyId::parse(id).unwrap())
    }

    #[test]
    fn the_newest_active_key_comes_first_and_retired_ones_open_only_within_grace() {
        let ring = Keyring::scheduled([
            (
                key("old"),
                KeySchedule {
                    activated_at_ms: 1_000,
                    retired_at_ms: Some(5_000),
                },
            ),
            (
                key("new"),
                KeySchedule {
                    activated_at_ms: 4_000,
                    retired_at_ms: None,
                },
            ),
            (
                key("staged"),
                KeySchedule {
                    activated_at_ms: 9_000,
                    retired_at_ms: None,
                },
            ),
        ])
        .with_grace(std::time::Duration::from_millis(2_000));
        let public = ring.public();
        let ids = |now| -> Vec<String> {
            public
                .offered(now)
                .iter()
                .map(|k| k.key_id.to_string())
                .collect()
        };
        assert_eq!(ids(2_000), ["old"]);
        assert_eq!(ids(4_500), ["new", "old"]);
        assert_eq!(ids(5_000), ["new"]);
        assert_eq!(ids(9_000), ["staged", "new"]);
        // Retired at 5 s with 2 s of grace: opens until 7 s, then unknown.
        assert!(public.accepts("old", 6_999) && ring.as_of(6_999).get("old").is_some());
        assert!(!public.accepts("old", 7_000) && ring.as_of(7_000).get("old").is_none());
        // A staged key opens nothing before its activation.
        assert!(!public.accepts("staged", 8_999) && public.accepts("staged", 9_000));
        assert!(!public.accepts("nope", 4_000));
    }
}
