//! Backend pool counters, summed over every worker's pool. awc does not expose how many
//! connections it holds open or idle, so the pool reports what passes through it.

use serde_json::{Value, json};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

#[derive(Debug, Default)]
pub struct PoolStats {
    /// Calls handed to a pool (a retried call counts once).
    pub requests: AtomicU64,
    /// Calls not answered yet.
    pub in_flight: AtomicU64,
    /// Extra attempts sent by retries.
    pub retries: AtomicU64,
    /// Calls that failed on the way or at the backend: no answer, a 5xx, garbage, an open
    /// breaker. A 4xx answer (`not_found`) or a request refused before it was sent is not one.
    pub failures: AtomicU64,
}

impl PoolStats {
    /// Counts a call until the guard is dropped.
    pub fn start(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    pub fn to_json(&self, max_connections: usize, max_idle: usize) -> Value {
        json!({
            "requests": self.requests.load(Relaxed),
            "in_flight": self.in_flight.load(Relaxed),
            "retries": self.retries.load(Relaxed),
            "failures": self.failures.load(Relaxed),
            "max_connections_per_worker": max_connections,
            "keep_alive": max_idle > 0,
        })
    }
}

pub struct InFlight<'a>(&'a PoolStats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_until_the_guard_drops() {
        let stats = PoolStats::default();
        let guard = stats.start();
        assert_eq!(stats.to_json(4, 1)["in_flight"], 1);
        drop(guard);
        let json = stats.to_json(4, 1);
        assert_eq!(
            (json["in_flight"].as_u64(), json["requests"].as_u64()),
            (Some(0), Some(1))
        );
    }
}
