use liveness_capture::PublicKeyring;
use liveness_pipeline::at_rest::StorageKeys;
use liveness_pipeline::config::{
    env_or, env_required, ConfigError, DatabaseConfig, QueueConfig, StorageConfig,
};
use std::path::PathBuf;
use std::time::Duration;

/// Everything the producer reads from the environment, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// LISTEN_ADDR, default 0.0.0.0:8080 (tests use 127.0.0.1:0)
    pub listen_addr: String,
    pub database: DatabaseConfig,
    pub queue: QueueConfig,
    pub storage: StorageConfig,
    /// JWT_SECRET (required): HMAC key of the access tokens, at least 32 bytes
    pub jwt_secret: String,
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
    /// WEBHOOK_ALLOW_PRIVATE_ADDRESSES, default false: accept webhook URLs that point at
    /// loopback, private or link-local addresses (the dispatcher enforces the same rule)
    pub webhook_allow_private: bool,
    /// WEBHOOK_ROTATION_GRACE_SECS, default 86400: how long the previous secret keeps signing
    /// after a rotation
    pub webhook_rotation_grace: Duration,
    /// LIVENESS_WEB_DIR, default web/dist: the built web capture library and demo page,
    /// served at /demo/ (`scripts/web build`); nothing is served there when it is missing
    pub web_dir: PathBuf,
}

impl ProducerConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let jwt_secret = env_required("JWT_SECRET")?;
        if jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                value: "<hidden>".into(),
                reason: "use at least 32 bytes".into(),
            }
            .into());
        }
        Ok(Self {
            listen_addr: env_or("LISTEN_ADDR", "0.0.0.0:8080".to_string())?,
            database: DatabaseConfig::from_env()?,
            queue: QueueConfig::from_env()?,
            storage: StorageConfig::from_env()?,
            jwt_secret,
            jwt_ttl: Duration::from_secs(env_or("JWT_TTL_SECS", 900)?),
            sync_timeout: Duration::from_millis(env_or("SYNC_TIMEOUT_MS", 30_000)?),
            max_body_bytes: env_or("MAX_BODY_BYTES", 20 * 1024 * 1024)?,
            session_ttl: Duration::from_secs(env_or("SESSION_TTL_SECS", 300)?),
            capture_keys: PublicKeyring::from_env()?,
            storage_keys: StorageKeys::from_env()?,
            webhook_allow_private: env_or("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", false)?,
            webhook_rotation_grace: Duration::from_secs(env_or(
                "WEBHOOK_ROTATION_GRACE_SECS",
                86_400,
            )?),
            web_dir: env_or("LIVENESS_WEB_DIR", PathBuf::from("web/dist"))?,
        })
    }
}
