//! A circuit breaker per backend host, shared by every worker.
//!
//! Consecutive failures (transport errors, timeouts, 5xx; never 4xx) open it for the reset
//! timeout; then it lets a few probe calls through (half-open): a success closes it, a
//! failure opens it again. The lock is held for a few instructions and never across I/O,
//! so no worker ever waits on another.

use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { probes_in_flight: u32 },
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive_failures: u32,
    opened_total: u64,
}

#[derive(Debug)]
pub struct Breaker {
    fail_threshold: u32,
    reset_timeout: Duration,
    half_open_max_calls: u32,
    inner: Mutex<Inner>,
}

/// Why a call may not go out now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejected {
    pub retry_after: Duration,
}

/// Permission to make one call; report how it went with [`Breaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    probe: bool,
}

impl Breaker {
    pub fn new(fail_threshold: u32, reset_timeout: Duration, half_open_max_calls: u32) -> Self {
        Breaker {
            fail_threshold: fail_threshold.max(1),
            reset_timeout,
            half_open_max_calls: half_open_max_calls.max(1),
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive_failures: 0,
                opened_total: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the state inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn acquire(&self, now: Instant) -> Result<Permit, Rejected> {
        let mut inner = self.lock();
        match inner.state {
            State::Closed => Ok(Permit { probe: false }),
            State::Open { until } if now < until => Err(Rejected {
                retry_after: until - now,
            }),
            State::Open { .. } => {
                inner.state = State::HalfOpen {
                    probes_in_flight: 1,
                };
                Ok(Permit { probe: true })
            }
            State::HalfOpen { probes_in_flight } if probes_in_flight < self.half_open_max_calls => {
                inner.state = State::HalfOpen {
                    probes_in_flight: probes_in_flight + 1,
                };
                Ok(Permit { probe: true })
            }
            // Probes are out; their outcome decides. Callers retry after a short while.
            State::HalfOpen { .. } => Err(Rejected {
                retry_after: Duration::from_secs(1).min(self.reset_timeout),
            }),
        }
    }

    /// Records the outcome of a permitted call (`failure` = transport error, timeout, 5xx).
    pub fn record(&self, permit: Permit, failure: bool, now: Instant) {
        let mut inner = self.lock();
        if failure {
            inner.consecutive_failures += 1;
            let trip = permit.probe
                || matches!(inner.state, State::HalfOpen { .. })
                || inner.consecutive_failures >= self.fail_threshold;
            if trip && !matches!(inner.state, State::Open { .. }) {
                inner.state = State::Open {
                    until: now + self.reset_timeout,
                };
                inner.opened_total += 1;
            }
        } else {
            inner.consecutive_failures = 0;
            inner.state = State::Closed;
        }
    }

    /// A call that got a permit but was abandoned (cancelled): frees its probe slot.
    pub fn release(&self, permit: Permit) {
        if !permit.probe {
            return;
        }
        let mut inner = self.lock();
        if let State::HalfOpen { probes_in_flight } = inner.state {
            inner.state = State::HalfOpen {
                probes_in_flight: probes_in_flight.saturating_sub(1),
            };
        }
    }

    pub fn snapshot(&self, now: Instant) -> Value {
        let inner = self.lock();
        let (state, open_for) = match inner.state {
            State::Closed => ("closed", None),
            State::Open { until } if now < until => ("open", Some((until - now).as_secs_f64())),
            State::Open { .. } => ("half_open", None),
            State::HalfOpen { .. } => ("half_open", None),
        };
        json!({
            "state": state,
            "consecutive_failures": inner.consecutive_failures,
            "fail_threshold": self.fail_threshold,
            "reset_timeout_s": self.reset_timeout.as_secs_f64(),
            "open_remaining_s": open_for,
            "opened_total": inner.opened_total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(3, Duration::from_secs(20), 1)
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..2 {
            let p = b.acquire(t).unwrap();
            b.record(p, true, t);
        }
        // A success in between resets the count.
        let p = b.acquire(t).unwrap();
        b.record(p, false, t);
        for _ in 0..3 {
            let p = b.acquire(t).unwrap();
            b.record(p, true, t);
        }
        let rejected = b.acquire(t + Duration::from_secs(5)).unwrap_err();
        assert_eq!(rejected.retry_after, Duration::from_secs(15));
        assert_eq!(b.snapshot(t)["state"], "open");
    }

    #[test]
    fn half_opens_with_one_probe_then_closes_on_success() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            let p = b.acquire(t).unwrap();
            b.record(p, true, t);
        }
        let later = t + Duration::from_secs(21);
        let probe = b.acquire(later).unwrap();
        assert!(b.acquire(later).is_err(), "only one probe while half-open");
        b.record(probe, false, later);
        assert!(b.acquire(later).is_ok());
        assert_eq!(b.snapshot(later)["state"], "closed");
    }

    #[test]
    fn a_failed_probe_opens_again_and_an_abandoned_one_frees_its_slot() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            let p = b.acquire(t).unwrap();
            b.record(p, true, t);
        }
        let later = t + Duration::from_secs(21);
        let probe = b.acquire(later).unwrap();
        b.release(probe);
        let probe = b.acquire(later).unwrap();
        b.record(probe, true, later);
        assert!(b.acquire(later + Duration::from_secs(1)).is_err());
        assert_eq!(b.snapshot(later)["opened_total"], 2);
    }
}
