//! Dispatcher settings from the environment (README.md, "Configuration").

use liveness_pipeline::config::{env_or, ConfigError};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// WEBHOOK_RETRY_SCHEDULE, default `5s,5m,30m,2h,5h,10h,10h`: the wait before each retry
    /// (each ±20% jitter); after the last one the message is failed.
    pub schedule: Vec<Duration>,
    /// WEBHOOK_MAX_AGE, default `3days`: no retry is scheduled later than this after the event
    /// (or after a redelivery on demand).
    pub max_age: Duration,
    /// WEBHOOK_CONNECT_TIMEOUT, default `5s`.
    pub connect_timeout: Duration,
    /// WEBHOOK_TIMEOUT, default `15s`: the whole request, connection included.
    pub timeout: Duration,
    /// WEBHOOK_RETRY_AFTER_MAX, default `1h`: the longest `Retry-After` honoured.
    pub retry_after_max: Duration,
    /// WEBHOOK_BATCH, default 16: the most messages one claim (one statement) takes.
    pub batch: i64,
    /// WEBHOOK_CONCURRENCY, default 64: deliveries one dispatcher has in flight at most.
    pub concurrency: usize,
    /// WEBHOOK_ENDPOINT_CONCURRENCY, default 4: deliveries in flight to one receiver URL at
    /// most, counted over all dispatchers, so a slow receiver holds this many slots and no
    /// more.
    pub endpoint_concurrency: u32,
    /// WEBHOOK_POLL_INTERVAL, default `1s`: how often due retries are looked for (new events
    /// wake the dispatcher at once).
    pub poll_interval: Duration,
    /// WEBHOOK_ALLOW_PRIVATE_ADDRESSES, default false: deliver to loopback, private and
    /// link-local addresses (tests, or receivers inside the same private network).
    pub allow_private: bool,
}

fn duration(name: &'static str, default: &str) -> Result<Duration, ConfigError> {
    let text: String = env_or(name, default.to_string())?;
    humantime::parse_duration(text.trim()).map_err(|e| ConfigError::Invalid {
        name,
        value: text.clone(),
        reason: e.to_string(),
    })
}

/// A count that must be positive: zero would stop deliveries without saying why.
fn at_least_one<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + From<u8> + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let value = env_or(name, default)?;
    if value < T::from(1) {
        return Err(ConfigError::Invalid {
            name,
            value: value.to_string(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(value)
}

pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, humantime::DurationError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(humantime::parse_duration)
        .collect()
}

impl DispatcherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let schedule_text: String = env_or(
            "WEBHOOK_RETRY_SCHEDULE",
            "5s,5m,30m,2h,5h,10h,10h".to_string(),
        )?;
        let schedule = parse_schedule(&schedule_text).map_err(|e| ConfigError::Invalid {
            name: "WEBHOOK_RETRY_SCHEDULE",
            value: schedule_text.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            schedule,
            max_age: duration("WEBHOOK_MAX_AGE", "3days")?,
            connect_timeout: duration("WEBHOOK_CONNECT_TIMEOUT", "5s")?,
            timeout: duration("WEBHOOK_TIMEOUT", "15s")?,
            retry_after_max: duration("WEBHOOK_RETRY_AFTER_MAX", "1h")?,
            batch: at_least_one("WEBHOOK_BATCH", 16)?,
            concurrency: at_least_one("WEBHOOK_CONCURRENCY", 64)?,
            endpoint_concurrency: at_least_one("WEBHOOK_ENDPOINT_CONCURRENCY", 4)?,
            poll_interval: duration("WEBHOOK_POLL_INTERVAL", "1s")?,
            allow_private: env_or("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", false)?,
        })
    }

    /// How long a claimed message stays invisible to other dispatchers: longer than any
    /// request can take, so normally only a dispatcher that died lets it come back. An attempt
    /// that outlasts it anyway (a slow name lookup, a stalled database) loses its say over the
    /// message once another claim has taken it (`outbox::record`).
    pub fn lease(&self) -> Duration {
        self.timeout + self.connect_timeout + Duration::from_secs(5)
    }
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            schedule: parse_schedule("5s,5m,30m,2h,5h,10h,10h").expect("valid default"),
            max_age: Duration::from_secs(3 * 24 * 3600),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            retry_after_max: Duration::from_secs(3600),
            batch: 16,
            concurrency: 64,
            endpoint_concurrency: 4,
            poll_interval: Duration::from_secs(1),
            allow_private: false,
        }
    }
}
