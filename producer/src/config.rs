use crate::jwt_keys::JwtKeys;
use liveness_capture::PublicKeyring;
use liveness_pipeline::config::{env_or, ConfigError, DatabaseConfig, QueueConfig, StorageConfig};
use liveness_pipeline::pseudonym::PseudonymKey;
use liveness_pipeline::storage::at_rest::StorageKeys;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Everything the producer reads from the environment, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// LISTEN_ADDR, default 0.0.0.0:8080 (tests use 127.0.0.1:0)
    pub listen_addr: String,
    pub database: DatabaseConfig,
    pub queue: QueueConfig,
    pub storage: StorageConfig,
    /// JWT_KEYS (`KID=SECRET,...`, the signing key first) or JWT_SECRET (one key, id
    /// `default`), each secret at least 32 bytes; JWT_PREVIOUS_KEYS_UNTIL ends the grace of
    /// the previous keys (src/jwt_keys.rs)
    pub jwt_keys: JwtKeys,
    /// JWT_TTL_SECS, default 900
    pub jwt_ttl: Duration,
    /// SYNC_TIMEOUT_MS, default 30000: how long a synchronous request waits for its verdict
    /// before answering 202 with the id
    pub sync_timeout: Duration,
    /// MAX_BODY_BYTES, default 20 MiB (a full packet is at most 16.1 MiB, plus an optional
    /// `selfie` copy of one of its frames)
    pub max_body_bytes: usize,
    /// SESSION_TTL_SECS, default 300: lifetime of a capture nonce
    pub session_ttl: Duration,
    /// LIVENESS_CAPTURE_PUBLIC_KEYS (`KEY_ID:BASE64URL` entries) / LIVENESS_CAPTURE_PUBLIC_KEY_DIR
    /// (`KEY_ID.pub` files with their schedule; `*.key` files there are never read): published
    /// newest first; intake refuses packets sealed to any other key id, or to a retired key
    /// after LIVENESS_CAPTURE_KEY_GRACE_SECS (default 86400). The producer holds no private key.
    pub capture_keys: PublicKeyring,
    /// LIVENESS_STORAGE_KEYS (required): opens the selfie the worker kept, for
    /// `GET .../{id}/selfie` (the same entries as the worker's)
    pub storage_keys: StorageKeys,
    /// LIVENESS_WEBHOOK_KEYS (required): `KEY_ID=BASE64URL` entries, the current first; they
    /// seal the webhook endpoints' signing secrets in the database (the worker's entries)
    pub webhook_keys: StorageKeys,
    /// LIVENESS_PSEUDONYM_KEY (required): `KEY_ID=BASE64URL`; a purge on request replaces
    /// `citizen_id` and `device` with keyed pseudonyms (the worker's entry)
    pub pseudonym_key: PseudonymKey,
    /// WEBHOOK_ALLOW_PRIVATE_ADDRESSES, default false: accept webhook URLs that point at
    /// loopback, private or link-local addresses (the dispatcher enforces the same rule)
    pub webhook_allow_private: bool,
    /// WEBHOOK_ROTATION_GRACE_SECS, default 86400: how long the previous secret keeps signing
    /// after a rotation
    pub webhook_rotation_grace: Duration,
    /// LIVENESS_WEB_DIR, default web/dist: the built web capture library and demo page,
    /// served at /demo/ (`scripts/web build`); nothing is served there when it is missing
    pub web_dir: PathBuf,
    /// How the producer sheds load instead of queueing it without bound.
    pub shedding: SheddingConfig,
}

impl ProducerConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let jwt_ttl = Duration::from_secs(env_or("JWT_TTL_SECS", 900)?);
        let session_ttl = Duration::from_secs(env_or("SESSION_TTL_SECS", 300)?);
        Ok(Self {
            listen_addr: env_or("LISTEN_ADDR", "0.0.0.0:8080".to_string())?,
            database: DatabaseConfig::from_env()?,
            queue: QueueConfig::from_env()?,
            storage: StorageConfig::from_env()?,
            jwt_keys: JwtKeys::from_env(jwt_ttl.max(session_ttl))?,
            jwt_ttl,
            sync_timeout: Duration::from_millis(env_or("SYNC_TIMEOUT_MS", 30_000)?),
            max_body_bytes: env_or("MAX_BODY_BYTES", 20 * 1024 * 1024)?,
            session_ttl,
            capture_keys: PublicKeyring::from_env()?,
            storage_keys: StorageKeys::from_env()?,
            webhook_keys: StorageKeys::from_env_var("LIVENESS_WEBHOOK_KEYS")?,
            pseudonym_key: PseudonymKey::from_env()?,
            webhook_allow_private: env_or("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", false)?,
            webhook_rotation_grace: Duration::from_secs(env_or(
                "WEBHOOK_ROTATION_GRACE_SECS",
                86_400,
            )?),
            web_dir: env_or("LIVENESS_WEB_DIR", PathBuf::from("web/dist"))?,
            shedding: SheddingConfig::from_env()?,
        }
        .checked()?)
    }

    /// Refuses settings under which the bounds contradict each other.
    pub fn checked(self) -> Result<Self, ConfigError> {
        if self.shedding.request_timeout <= self.sync_timeout {
            return Err(ConfigError::Invalid {
                name: "REQUEST_TIMEOUT_MS",
                value: self.shedding.request_timeout.as_millis().to_string(),
                reason: format!(
                    "must exceed SYNC_TIMEOUT_MS ({}), or every synchronous wait would be cut",
                    self.sync_timeout.as_millis()
                ),
            });
        }
        Ok(self)
    }
}

/// Bounds on what one producer instance takes on; each is per instance, so a fleet of N
/// producers admits N times the rates.
#[derive(Debug, Clone)]
pub struct SheddingConfig {
    /// HEADER_READ_TIMEOUT_MS, default 10000: a connection that has not sent a whole request
    /// header by then is closed (slow-header clients hold a socket and a task each)
    pub header_read_timeout: Duration,
    /// REQUEST_TIMEOUT_MS, default 60000: a whole request, upload included, or 408
    /// `request_timeout`; must exceed SYNC_TIMEOUT_MS
    pub request_timeout: Duration,
    /// MAX_IN_FLIGHT, default 256 (0: unlimited): API requests served at once; past it, 503
    /// `overloaded` at once (`/healthz`, `/readyz`, `/metrics` are not counted)
    pub max_in_flight: usize,
    /// BROKER_TIMEOUT_MS, default 1500: connecting to RabbitMQ and the confirm of one publish,
    /// together; a broker that blocks publishers (memory or disk alarm) gets 503 by then
    pub broker_timeout: Duration,
    /// STORAGE_TIMEOUT_MS, default 10000: storing one capture in S3 (a stopped server is
    /// refused at once; this bounds one that accepts and then hangs)
    pub storage_timeout: Duration,
    /// SUBMIT_RATE_LIMIT, default 50/100: submissions per second per tenant / burst
    pub submit_rate: RateLimit,
    /// TOKEN_RATE_LIMIT, default 5/20: token requests per second per client id / burst
    pub token_rate: RateLimit,
    /// TOKEN_IP_RATE_LIMIT, default 20/40: token requests per second per peer address / burst
    /// (0 behind a proxy that hides the clients' addresses)
    pub token_ip_rate: RateLimit,
    /// AUTH_HASH_CONCURRENCY, default 0 (the number of cores): Argon2 verifications at once
    pub hash_concurrency: usize,
    /// AUTH_HASH_WAIT_MS, default 1000: how long a token request waits for a verification
    /// slot before 503 `overloaded`
    pub hash_wait: Duration,
}

impl Default for SheddingConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_in_flight: 256,
            broker_timeout: Duration::from_millis(1500),
            storage_timeout: Duration::from_secs(10),
            submit_rate: RateLimit {
                per_second: 50,
                burst: 100,
            },
            token_rate: RateLimit {
                per_second: 5,
                burst: 20,
            },
            token_ip_rate: RateLimit {
                per_second: 20,
                burst: 40,
            },
            hash_concurrency: 0,
            hash_wait: Duration::from_secs(1),
        }
    }
}

impl SheddingConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let ms = |name, default: Duration| -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(env_or(
                name,
                default.as_millis() as u64,
            )?))
        };
        Ok(Self {
            header_read_timeout: ms("HEADER_READ_TIMEOUT_MS", d.header_read_timeout)?,
            request_timeout: ms("REQUEST_TIMEOUT_MS", d.request_timeout)?,
            max_in_flight: env_or("MAX_IN_FLIGHT", d.max_in_flight)?,
            broker_timeout: ms("BROKER_TIMEOUT_MS", d.broker_timeout)?,
            storage_timeout: ms("STORAGE_TIMEOUT_MS", d.storage_timeout)?,
            submit_rate: env_or("SUBMIT_RATE_LIMIT", d.submit_rate)?,
            token_rate: env_or("TOKEN_RATE_LIMIT", d.token_rate)?,
            token_ip_rate: env_or("TOKEN_IP_RATE_LIMIT", d.token_ip_rate)?,
            hash_concurrency: env_or("AUTH_HASH_CONCURRENCY", d.hash_concurrency)?,
            hash_wait: ms("AUTH_HASH_WAIT_MS", d.hash_wait)?,
        })
    }

    /// Argon2 verifications at once: the configured number, or one per core.
    pub fn hash_slots(&self) -> usize {
        match self.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// `RATE[/BURST]`: requests per second and how many may come at once; `0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    pub const OFF: Self = Self {
        per_second: 0,
        burst: 0,
    };
}

impl FromStr for RateLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |n: &str| {
            n.trim()
                .parse::<u32>()
                .map_err(|_| "expected RATE or RATE/BURST, whole numbers (0: off)".to_string())
        };
        let (per_second, burst) = match s.split_once('/') {
            Some((rate, burst)) => (number(rate)?, number(burst)?),
            None => (number(s)?, number(s)?),
        };
        if per_second > 0 && burst == 0 {
            return Err("a burst of 0 would refuse everything; use 0 to turn the limit off".into());
        }
        Ok(Self { per_second, burst })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!("0".parse(), Ok(RateLimit::OFF));
        assert_eq!(
            "50/100".parse(),
            Ok(RateLimit {
                per_second: 50,
                burst: 100
            })
        );
        assert_eq!(
            "7".parse(),
            Ok(RateLimit {
                per_second: 7,
                burst: 7
            })
        );
        assert!("5/0".parse::<RateLimit>().is_err());
        assert!("fast".parse::<RateLimit>().is_err());
    }
}
