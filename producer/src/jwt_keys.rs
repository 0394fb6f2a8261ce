//! The keys that sign and check access tokens, each with an id (`kid` in the token header)
//! so that a new key can take over without logging every client out at once.
//!
//! JWT_KEYS lists `KID=SECRET` entries (each secret at least 32 bytes): the first signs new
//! tokens, the others (previous keys) are still accepted until JWT_PREVIOUS_KEYS_UNTIL
//! (RFC 3339; default: one token lifetime after start, JWT_TTL_SECS or SESSION_TTL_SECS,
//! whichever is longer), after which their tokens get 401. JWT_SECRET alone is the same as
//! `JWT_KEYS=default=<JWT_SECRET>`; a token without a `kid` (issued before key ids) is
//! checked against the key `default`.

use chrono::{DateTime, Utc};
use liveness_pipeline::config::{env_or, ConfigError};
use liveness_pipeline::storage::at_rest::is_key_id;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

pub const DEFAULT_KID: &str = "default";
const MIN_SECRET_LEN: usize = 32;

#[derive(Clone)]
struct JwtKey {
    kid: String,
    secret: SecretString,
}

#[derive(Clone)]
pub struct JwtKeys {
    keys: Vec<JwtKey>,
    previous_until: DateTime<Utc>,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        write!(
            f,
            "JwtKeys({kids:?}, previous until {}, <secret>)",
            self.previous_until.to_rfc3339()
        )
    }
}

/// Why a token's key cannot check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    Unknown,
    /// A previous key, past JWT_PREVIOUS_KEYS_UNTIL.
    Retired,
}

impl JwtKeys {
    /// One key, id `default` (JWT_SECRET).
    pub fn single(secret: &str) -> Result<Self, String> {
        Self::parse(&format!("{DEFAULT_KID}={secret}"), Utc::now())
    }

    /// `KID=SECRET[,KID=SECRET...]`, the signing key first; the error never quotes a secret.
    pub fn parse(entries: &str, previous_until: DateTime<Utc>) -> Result<Self, String> {
        let mut keys: Vec<JwtKey> = Vec::new();
        for entry in entries.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, secret) = entry
                .split_once('=')
                .ok_or("expected KID=SECRET entries separated by commas")?;
            if !is_key_id(kid) {
                return Err(format!(
                    "key id {kid:?} must be 1-64 characters of A-Z a-z 0-9 . _ -"
                ));
            }
            if secret.len() < MIN_SECRET_LEN {
                return Err(format!(
                    "the secret of key {kid:?} is shorter than {MIN_SECRET_LEN} bytes"
                ));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(format!("key id {kid:?} is listed twice"));
            }
            keys.push(JwtKey {
                kid: kid.to_string(),
                secret: secret.to_string().into(),
            });
        }
        if keys.is_empty() {
            return Err("no key given".into());
        }
        Ok(Self {
            keys,
            previous_until,
        })
    }

    /// JWT_KEYS (or JWT_SECRET) and JWT_PREVIOUS_KEYS_UNTIL; `token_lifetime` is the default
    /// grace of the previous keys.
    pub fn from_env(token_lifetime: std::time::Duration) -> Result<Self, ConfigError> {
        let invalid = |name, reason| ConfigError::Invalid {
            name,
            value: "<hidden>".into(),
            reason,
        };
        let until_text: String = env_or("JWT_PREVIOUS_KEYS_UNTIL", String::new())?;
        let previous_until = if until_text.is_empty() {
            Utc::now() + chrono::Duration::from_std(token_lifetime).unwrap_or_default()
        } else {
            DateTime::parse_from_rfc3339(&until_text)
                .map_err(|e| ConfigError::Invalid {
                    name: "JWT_PREVIOUS_KEYS_UNTIL",
                    value: until_text.clone(),
                    reason: e.to_string(),
                })?
                .with_timezone(&Utc)
        };
        match (std::env::var("JWT_KEYS"), std::env::var("JWT_SECRET")) {
            (Ok(entries), _) if !entries.is_empty() => {
                Self::parse(&entries, previous_until).map_err(|r| invalid("JWT_KEYS", r))
            }
            (_, Ok(secret)) if !secret.is_empty() => {
                Self::parse(&format!("{DEFAULT_KID}={secret}"), previous_until)
                    .map_err(|r| invalid("JWT_SECRET", r))
            }
            _ => Err(ConfigError::Missing("JWT_KEYS (or JWT_SECRET)")),
        }
    }

    /// The id and secret that sign new tokens.
    pub fn signing(&self) -> (&str, &[u8]) {
        let key = &self.keys[0];
        (&key.kid, key.secret.expose_secret().as_bytes())
    }

    /// The secret that checks a token signed under `kid` (none: `default`), at `now`.
    pub fn checking(&self, kid: Option<&str>, now: DateTime<Utc>) -> Result<&[u8], KeyRefusal> {
        let kid = kid.unwrap_or(DEFAULT_KID);
        let position = self
            .keys
            .iter()
            .position(|k| k.kid == kid)
            .ok_or(KeyRefusal::Unknown)?;
        if position > 0 && now > self.previous_until {
            return Err(KeyRefusal::Retired);
        }
        Ok(self.keys[position].secret.expose_secret().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn the_first_signs_the_others_check_until_their_grace_ends() {
        let until = Utc::now() + chrono::Duration::seconds(60);
        let keys = JwtKeys::parse(&format!("new={A},old={B}"), until).unwrap();
        assert_eq!(keys.signing(), ("new", A.as_bytes()));
        let now = Utc::now();
        assert_eq!(keys.checking(Some("old"), now), Ok(B.as_bytes()));
        assert_eq!(
            keys.checking(Some("old"), until + chrono::Duration::seconds(1)),
            Err(KeyRefusal::Retired)
        );
        // The signing key never retires.
        assert!(keys
            .checking(Some("new"), until + chrono::Duration::days(9))
            .is_ok());
        assert_eq!(keys.checking(None, now), Err(KeyRefusal::Unknown));
        assert_eq!(keys.checking(Some("x"), now), Err(KeyRefusal::Unknown));
        let debug = format!("{keys:?}");
        assert!(!debug.contains(A) && !debug.contains(B), "{debug}");
    }

    #[test]
    fn entries_are_checked_without_quoting_secrets() {
        let now = Utc::now();
        for (entries, expected) in [
            ("", "no key"),
            ("k", "KID=SECRET"),
            ("k=short", "shorter than 32"),
            (&format!("k={A},k={B}") as &str, "twice"),
            (&format!("bad kid={A}"), "1-64 characters"),
        ] {
            let err = JwtKeys::parse(entries, now).unwrap_err();
            assert!(err.contains(expected), "{entries:?}: {err}");
            assert!(!err.contains(A) && !err.contains("short\""), "{err}");
        }
        assert_eq!(JwtKeys::single(A).unwrap().signing().0, DEFAULT_KID);
    }
}
