//! Token buckets per (client connection, tool), SPEC §9. Owned by the worker's router: a
//! connection lives on one worker, so its buckets need no sharing and no locks.

// foldhash: these maps are read on every request, and SipHash was a visible share of it.
use foldhash::{HashMap, HashMapExt};
use std::time::Instant;

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: HashMap<(u64, &'static str), Bucket>,
}

impl RateLimiter {
    /// `per_sec` 0 turns limiting off (benchmarks, trusted single-user setups).
    pub fn new(per_sec: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            per_sec,
            burst,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for one call; `Err(retry_after_ms)` when the bucket is empty.
    pub fn check(&mut self, connection: u64, tool: &'static str, now: Instant) -> Result<(), u64> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let bucket = self.buckets.entry((connection, tool)).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_sec).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_secs = (1.0 - bucket.tokens) / self.per_sec;
        Err((wait_secs * 1000.0).ceil().max(1.0) as u64)
    }

    /// Drops a closed connection's buckets.
    pub fn forget(&mut self, connection: u64) {
        self.buckets.retain(|(c, _), _| *c != connection);
    }

    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let mut l = RateLimiter::new(10.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check(1, "t", t0), Ok(()));
        }
        assert_eq!(l.check(1, "t", t0), Err(100));
        // Another tool and another connection have their own buckets.
        assert_eq!(l.check(1, "u", t0), Ok(()));
        assert_eq!(l.check(2, "t", t0), Ok(()));
        // 10/s: a token back after 100 ms, and no more.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(l.check(1, "t", t1), Ok(()));
        assert!(l.check(1, "t", t1).is_err());
    }

    #[test]
    fn forgetting_a_connection_drops_its_buckets_only() {
        let mut l = RateLimiter::new(1.0, 1.0);
        let t0 = Instant::now();
        let _ = l.check(1, "t", t0);
        let _ = l.check(1, "u", t0);
        let _ = l.check(2, "t", t0);
        l.forget(1);
        assert_eq!(l.buckets(), 1);
        assert_eq!(l.check(1, "t", t0), Ok(()));
    }

    #[test]
    fn a_zero_rate_turns_limiting_off() {
        let mut l = RateLimiter::new(0.0, 0.0);
        for _ in 0..1000 {
            assert_eq!(l.check(1, "t", Instant::now()), Ok(()));
        }
    }
}
