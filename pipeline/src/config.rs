//! Settings read once from environment variables into typed structs; every variable has a
//! documented default (README.md, "Configuration") except secrets.

use secrecy::SecretString;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0} must be set")]
    Missing(&'static str),
}

/// The variable parsed as `T`, or `default` when unset.
pub fn env_or<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            value,
            reason: e.to_string(),
        }),
        Err(_) => Ok(default),
    }
}

pub fn env_required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// A connection URL with its password replaced, for `Debug` and logs.
pub fn redacted_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("<redacted>"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable URL, redacted>".into(),
    }
}

#[derive(Clone)]
pub struct DatabaseConfig {
    /// DATABASE_URL, default postgres://postgres:postgres@127.0.0.1:5432/liveness
    pub url: String,
    /// DATABASE_MAX_CONNECTIONS, default 10
    pub max_connections: u32,
    /// DATABASE_ACQUIRE_TIMEOUT_MS, default 1000: how long a request or a job waits for a
    /// connection before it fails (the producer then answers 503, within 2 s of an outage;
    /// the worker retries the job)
    pub acquire_timeout: std::time::Duration,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redacted_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

impl DatabaseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: env_or(
                "DATABASE_URL",
                "postgres://postgres:postgres@127.0.0.1:5432/liveness".to_string(),
            )?,
            max_connections: env_or("DATABASE_MAX_CONNECTIONS", 10)?,
            acquire_timeout: std::time::Duration::from_millis(env_or(
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                1000,
            )?),
        })
    }
}

#[derive(Clone)]
pub struct QueueConfig {
    /// AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/%2f
    pub url: String,
    /// LIVENESS_QUEUE, default liveness.jobs (its dead letters go to `<name>.dead`)
    pub queue: String,
    /// LIVENESS_DELIVERY_LIMIT, default 5: deliveries without an answer (a worker that died
    /// or gave the job back) before a job is dead-lettered as poison
    pub delivery_limit: u32,
    /// LIVENESS_RETRY_DELAYS, default 1s,5s,15s,30s,60s: how long a job that failed
    /// transiently waits in a delay queue before its next attempt (the n-th retry waits the
    /// n-th delay, the last one repeating). One queue per distinct delay, `<name>.retry.<ms>`.
    pub retry_delays: Vec<std::time::Duration>,
}

/// `1s,5s,...`: a comma-separated list of durations (humantime syntax).
pub fn parse_durations(text: &str) -> Result<Vec<std::time::Duration>, String> {
    let delays: Vec<_> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|d| humantime::parse_duration(d).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    if delays.is_empty() || delays.iter().any(|d| d.is_zero()) {
        return Err("expected at least one non-zero duration".into());
    }
    Ok(delays)
}

impl fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueConfig")
            .field("url", &redacted_url(&self.url))
            .field("queue", &self.queue)
            .field("delivery_limit", &self.delivery_limit)
            .field("retry_delays", &self.retry_delays)
            .finish()
    }
}

impl QueueConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: env_or(
                "AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f".to_string(),
            )?,
            queue: env_or("LIVENESS_QUEUE", "liveness.jobs".to_string())?,
            delivery_limit: env_or("LIVENESS_DELIVERY_LIMIT", 5)?,
            retry_delays: {
                let text = env_or("LIVENESS_RETRY_DELAYS", "1s,5s,15s,30s,60s".to_string())?;
                parse_durations(&text).map_err(|reason| ConfigError::Invalid {
                    name: "LIVENESS_RETRY_DELAYS",
                    value: text,
                    reason,
                })?
            },
        })
    }
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// S3_ENDPOINT, default http://127.0.0.1:8014 (where scripts/stack starts its S3 server)
    pub endpoint: String,
    /// S3_REGION, default us-east-1
    pub region: String,
    /// S3_ACCESS_KEY / S3_SECRET_KEY, default liveness / liveness-secret (the local stack's)
    pub access_key: String,
    /// Never printed: `Debug` shows it redacted.
    pub secret_key: SecretString,
    /// S3_BUCKET, default liveness-captures; objects are keyed `tenant-<id>/...`
    pub bucket: String,
    /// S3_SIGN_PAYLOAD, default false: sign a SHA-256 of each body (for servers that refuse
    /// `UNSIGNED-PAYLOAD`); the headers are signed either way.
    pub sign_payload: bool,
    /// S3_CHECKSUMS, default when_supported: the SDK adds a CRC to each upload (as an
    /// aws-chunked trailer) and checks the CRC of downloads; when_required, for servers that
    /// refuse aws-chunked bodies. The worker checks every packet against the SHA-256 the
    /// producer recorded either way.
    pub checksums: Checksums,
}

/// When the S3 client computes and checks the flexible checksums of S3 requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksums {
    WhenSupported,
    WhenRequired,
}

impl FromStr for Checksums {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "when_supported" => Ok(Self::WhenSupported),
            "when_required" => Ok(Self::WhenRequired),
            _ => Err("expected when_supported or when_required".into()),
        }
    }
}

impl StorageConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            endpoint: env_or("S3_ENDPOINT", "http://127.0.0.1:8014".to_string())?,
            region: env_or("S3_REGION", "us-east-1".to_string())?,
            access_key: env_or("S3_ACCESS_KEY", "liveness".to_string())?,
            secret_key: env_or("S3_SECRET_KEY", "liveness-secret".to_string())?.into(),
            bucket: env_or("S3_BUCKET", "liveness-captures".to_string())?,
            sign_payload: env_or("S3_SIGN_PAYLOAD", false)?,
            checksums: env_or("S3_CHECKSUMS", Checksums::WhenSupported)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_passwords() {
        let database = DatabaseConfig {
            url: "postgres://app:hunter2-db@db:5432/liveness".into(),
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(1),
        };
        let queue = QueueConfig {
            url: "amqp://app:hunter2-mq@mq:5672/%2f".into(),
            queue: "q".into(),
            delivery_limit: 5,
            retry_delays: vec![std::time::Duration::from_secs(1)],
        };
        let storage = StorageConfig {
            endpoint: "http://s3".into(),
            region: "r".into(),
            access_key: "id".into(),
            secret_key: "hunter2-s3".to_string().into(),
            bucket: "b".into(),
            sign_payload: false,
            checksums: Checksums::WhenSupported,
        };
        let printed = format!("{database:?} {queue:?} {storage:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("app:%3Credacted%3E@db") || printed.contains("redacted"));
    }
}
