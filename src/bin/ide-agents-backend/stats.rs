//! Counters exposed by `GET /_control/stats`, which tests use to prove keep-alive, cancellation and
//! exactly-once delivery.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

/// A poisoned lock only means another handler panicked mid-update; counters stay usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
pub struct Stats {
    /// "<METHOD> <path>" → count, for non-control requests.
    requests: Mutex<HashMap<String, u64>>,
    connections_opened: AtomicU64,
    in_flight: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Serialize)]
pub struct Snapshot {
    /// BTreeMap so the JSON is ordered and diffs in test output are readable.
    requests: BTreeMap<String, u64>,
    connections_opened: u64,
    in_flight: u64,
    dropped: u64,
}

impl Stats {
    /// Called from `HttpServer::on_connect`, once per accepted TCP connection.
    pub fn connection_opened(&self) {
        self.connections_opened.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request at arrival; the guard tells apart completion and cancellation.
    pub fn begin(self: &Arc<Self>, key: String) -> RequestGuard {
        *lock(&self.requests).entry(key).or_insert(0) += 1;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard {
            stats: Arc::clone(self),
            finished: false,
        }
    }

    /// Clears counters; `in_flight` is a gauge of live requests, so it is left alone.
    pub fn reset(&self) {
        lock(&self.requests).clear();
        self.connections_opened.store(0, Ordering::Relaxed);
        self.dropped.store(0, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let requests = lock(&self.requests)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        Snapshot {
            requests,
            connections_opened: self.connections_opened.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Lives inside the request's future: actix drops that future when the client goes away, so a
/// guard dropped without `finish()` is exactly a cancelled request.
pub struct RequestGuard {
    stats: Arc<Stats>,
    finished: bool,
}

impl RequestGuard {
    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.finished {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_counts_drop_without_finish_as_dropped() {
        let stats = Arc::new(Stats::default());
        stats.begin("GET /a".into()).finish();
        let g = stats.begin("GET /a".into());
        assert_eq!(stats.snapshot().in_flight, 1);
        drop(g);
        let s = stats.snapshot();
        assert_eq!(s.requests.get("GET /a"), Some(&2));
        assert_eq!((s.in_flight, s.dropped), (0, 1));
    }
}
