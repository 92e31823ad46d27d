//! Which backend failures are worth another attempt, and how long to wait before it.

use super::Headers;
use std::time::{Duration, SystemTime};

/// Retry policy for idempotent calls: `attempts` in total, exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub factor: f64,
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait before attempt `n + 1` after `n` failed attempts (n ≥ 1), with ±20 % jitter.
    /// `unit` is a uniform sample in [0, 1).
    pub fn delay(&self, failed_attempts: u32, unit: f64) -> Duration {
        let exp = self.factor.powi(failed_attempts.saturating_sub(1) as i32);
        let nominal = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let jitter = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
        Duration::from_secs_f64(nominal * jitter)
    }
}

/// Statuses a retry may fix: request timeout, too early, too many requests, server errors.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..600).contains(&status)
}

/// How long an answer's `Retry-After` asks the client to wait: delta-seconds or an
/// HTTP-date (RFC 9110 §10.2.3), measured from `now`. A date already past asks for no wait;
/// a value that is neither is ignored.
pub fn retry_after(headers: &Headers, now: SystemTime) -> Option<Duration> {
    let value = headers.get("retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A cheap uniform sample in [0, 1) for jitter (not for anything secret).
pub fn jitter_sample() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(crate::clock::epoch_millis());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(250),
            factor: 2.0,
            max: Duration::from_secs(4),
        }
    }

    #[test]
    fn backoff_grows_then_caps_within_jitter() {
        let p = policy();
        assert_eq!(p.delay(1, 0.5), Duration::from_millis(250));
        assert_eq!(p.delay(2, 0.5), Duration::from_millis(500));
        assert_eq!(p.delay(10, 0.5), Duration::from_secs(4));
        assert_eq!(p.delay(1, 0.0), Duration::from_millis(200));
        assert_eq!(p.delay(1, 1.0), Duration::from_millis(300));
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for s in [408, 425, 429, 500, 502, 503, 599] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    fn asking(value: &str) -> Headers {
        Headers(vec![("retry-after", value.to_string())])
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let wait = |v: &str| retry_after(&asking(v), now);
        assert_eq!(wait("120"), Some(Duration::from_secs(120)));
        assert_eq!(wait(" 3 "), Some(Duration::from_secs(3)));
        // 1 445 412 480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            wait("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait("Wed, 21 Oct 2015 07:00:00 GMT"), Some(Duration::ZERO));
        for ignored in ["soon", "-1", "1.5", ""] {
            assert_eq!(wait(ignored), None, "{ignored:?}");
        }
        assert_eq!(retry_after(&Headers::default(), now), None);
    }

    #[test]
    fn jitter_samples_are_in_range() {
        for _ in 0..100 {
            let u = jitter_sample();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
