//! Token buckets per (client connection, tool), SPEC §9. Owned by the worker's router: a
//! connection lives on one worker, so its buckets need no sharing and no locks.
//!
//! Refusals are audited at most once a second per bucket, each event counting the refusals
//! it stands for: a client hammering past its limit would otherwise write an audit line per
//! call and rotate the approval records out of the log.

// foldhash: these maps are read on every request, and SipHash was a visible share of it.
use foldhash::{HashMap, HashMapExt};
use std::time::{Duration, Instant};

/// At most one `rate_limited` audit event per bucket in this time.
const AUDIT_EVERY: Duration = Duration::from_secs(1);

struct Bucket {
    tokens: f64,
    refilled: Instant,
    /// Refusals no audit event has counted yet.
    unaudited: u64,
    audited_at: Option<Instant>,
    last_retry_after_ms: u64,
}

/// A call the bucket refused.
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub retry_after_ms: u64,
    /// The refusals an audit event is due for now (this one included); `None` while they
    /// are being gathered for the next event.
    pub audit: Option<u64>,
}

/// Refusals of a closed connection's bucket that no event counted yet.
#[derive(Debug, PartialEq)]
pub struct Unaudited {
    pub tool: &'static str,
    pub refused: u64,
    pub retry_after_ms: u64,
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

    /// Takes a token for one call; the refusal when the bucket is empty.
    pub fn check(
        &mut self,
        connection: u64,
        tool: &'static str,
        now: Instant,
    ) -> Result<(), Refused> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let bucket = self.buckets.entry((connection, tool)).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
            unaudited: 0,
            audited_at: None,
            last_retry_after_ms: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_sec).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_secs = (1.0 - bucket.tokens) / self.per_sec;
        let retry_after_ms = (wait_secs * 1000.0).ceil().max(1.0) as u64;
        bucket.unaudited += 1;
        bucket.last_retry_after_ms = retry_after_ms;
        let due = bucket
            .audited_at
            .is_none_or(|at| now.saturating_duration_since(at) >= AUDIT_EVERY);
        let audit = due.then(|| {
            bucket.audited_at = Some(now);
            std::mem::take(&mut bucket.unaudited)
        });
        Err(Refused {
            retry_after_ms,
            audit,
        })
    }

    /// Refusals gathered at least [`AUDIT_EVERY`] ago that no event counted yet, with their
    /// connection: a client that stopped hammering still has them audited within a second.
    pub fn due(&mut self, now: Instant) -> Vec<(u64, Unaudited)> {
        let mut due = Vec::new();
        for ((connection, tool), bucket) in &mut self.buckets {
            let waited = bucket
                .audited_at
                .is_none_or(|at| now.saturating_duration_since(at) >= AUDIT_EVERY);
            if bucket.unaudited > 0 && waited {
                bucket.audited_at = Some(now);
                let refused = std::mem::take(&mut bucket.unaudited);
                due.push((
                    *connection,
                    Unaudited {
                        tool,
                        refused,
                        retry_after_ms: bucket.last_retry_after_ms,
                    },
                ));
            }
        }
        due
    }

    /// Whether limiting is on (a zero rate turns it off).
    pub fn enabled(&self) -> bool {
        self.per_sec > 0.0
    }

    /// Drops a closed connection's buckets; the refusals no event counted yet, to audit.
    pub fn forget(&mut self, connection: u64) -> Vec<Unaudited> {
        let mut unaudited = Vec::new();
        self.buckets.retain(|(c, tool), bucket| {
            if *c != connection {
                return true;
            }
            if bucket.unaudited > 0 {
                unaudited.push(Unaudited {
                    tool,
                    refused: bucket.unaudited,
                    retry_after_ms: bucket.last_retry_after_ms,
                });
            }
            false
        });
        unaudited
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
        assert_eq!(
            l.check(1, "t", t0),
            Err(Refused {
                retry_after_ms: 100,
                audit: Some(1)
            })
        );
        // Another tool and another connection have their own buckets.
        assert_eq!(l.check(1, "u", t0), Ok(()));
        assert_eq!(l.check(2, "t", t0), Ok(()));
        // 10/s: a token back after 100 ms, and no more.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(l.check(1, "t", t1), Ok(()));
        assert!(l.check(1, "t", t1).is_err());
    }

    #[test]
    fn refusals_are_audited_once_a_second_and_the_rest_when_the_connection_goes() {
        let mut l = RateLimiter::new(0.001, 1.0);
        let t0 = Instant::now();
        assert_eq!(l.check(1, "t", t0), Ok(()));
        let audits = |l: &mut RateLimiter, at: Instant, n: usize| -> Vec<Option<u64>> {
            (0..n)
                .map(|_| l.check(1, "t", at).unwrap_err().audit)
                .collect()
        };
        // The first refusal at once, the next 999 gathered.
        let first = audits(&mut l, t0, 1000);
        assert_eq!(first[0], Some(1));
        assert!(first[1..].iter().all(Option::is_none));
        // A second on, one event counts them and itself.
        assert_eq!(audits(&mut l, t0 + AUDIT_EVERY, 1), [Some(1000)]);
        assert_eq!(audits(&mut l, t0 + AUDIT_EVERY, 5), [None; 5]);
        // Not due until a second after the last event; then the sweep takes them.
        assert!(l.due(t0 + AUDIT_EVERY).is_empty());
        assert_eq!(audits(&mut l, t0 + AUDIT_EVERY, 2), [None; 2]);
        let swept = l.due(t0 + AUDIT_EVERY * 2);
        assert_eq!(swept.len(), 1);
        assert_eq!((swept[0].0, swept[0].1.refused), (1, 7));
        assert!(l.due(t0 + AUDIT_EVERY * 3).is_empty());
        assert_eq!(
            audits(&mut l, t0 + AUDIT_EVERY * 3, 5),
            [Some(1), None, None, None, None]
        );
        assert_eq!(
            l.forget(1),
            [Unaudited {
                tool: "t",
                refused: 4,
                retry_after_ms: 997_000
            }]
        );
        assert!(l.forget(1).is_empty());
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
