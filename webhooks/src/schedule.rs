//! When to try a failed delivery again: the configured schedule with ±20% jitter (so that a
//! receiver coming back is not hit by every queued message in the same second), stretched to
//! honour a `Retry-After`, and never beyond the message's maximum age.

use crate::config::DispatcherConfig;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::Duration;

/// The wait before the next attempt, or `None` when the message has had all its tries.
/// `attempts_done` counts the attempt that just failed.
pub fn next_delay(
    config: &DispatcherConfig,
    attempts_done: u32,
    retry_after: Option<Duration>,
    retry_from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let base = *config
        .schedule
        .get(attempts_done.checked_sub(1)? as usize)?;
    let jittered = base.mul_f64(rand::rng().random_range(0.8..=1.2));
    let delay = match retry_after {
        Some(asked) => jittered.max(asked.min(config.retry_after_max)),
        None => jittered,
    };
    let due = now + chrono::Duration::from_std(delay).ok()?;
    let deadline = retry_from + chrono::Duration::from_std(config.max_age).ok()?;
    (due <= deadline).then_some(delay)
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DispatcherConfig {
        DispatcherConfig {
            schedule: vec![Duration::from_secs(10), Duration::from_secs(100)],
            max_age: Duration::from_secs(1000),
            retry_after_max: Duration::from_secs(500),
            ..DispatcherConfig::default()
        }
    }

    #[test]
    fn follows_the_schedule_with_jitter_then_stops() {
        let now = Utc::now();
        for _ in 0..50 {
            let first = next_delay(&config(), 1, None, now, now).unwrap();
            assert!((8.0..=12.0).contains(&first.as_secs_f64()), "{first:?}");
            let second = next_delay(&config(), 2, None, now, now).unwrap();
            assert!((80.0..=120.0).contains(&second.as_secs_f64()), "{second:?}");
        }
        assert_eq!(next_delay(&config(), 3, None, now, now), None);
        assert_eq!(next_delay(&config(), 0, None, now, now), None);
    }

    #[test]
    fn retry_after_stretches_the_wait_up_to_a_cap_and_age_ends_it() {
        let now = Utc::now();
        let asked = next_delay(&config(), 1, Some(Duration::from_secs(300)), now, now).unwrap();
        assert_eq!(asked, Duration::from_secs(300));
        let capped = next_delay(&config(), 1, Some(Duration::from_secs(9999)), now, now).unwrap();
        assert_eq!(capped, Duration::from_secs(500));
        let old = now - chrono::Duration::seconds(995);
        assert_eq!(next_delay(&config(), 1, None, old, now), None);
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
