//! Counts of audit events over a time window, kept incrementally for
//! `ide_agents_security_anomalies` so a call never re-reads the audit file.
//!
//! Per event type, a bounded ring of event times (epoch ms). It is seeded once from the
//! existing audit file at start and fed by every event emitted since. Events are rare
//! (failures, approvals, rate limiting), so one mutex taken per event is cheap.

use super::audit::{self, EVENT_TYPES};
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// Event times remembered per type; counts above this in one window saturate.
pub const RING_CAPACITY: usize = 10_000;

pub struct Thresholds {
    pub rate_limited: u64,
    pub approval_requested: u64,
    pub tool_failure: u64,
}

#[derive(Default)]
pub struct AnomalyTracker {
    /// Indexed like [`EVENT_TYPES`].
    rings: Mutex<[VecDeque<u64>; EVENT_TYPES.len()]>,
}

fn index(kind: &str) -> Option<usize> {
    EVENT_TYPES.iter().position(|t| *t == kind)
}

impl AnomalyTracker {
    pub fn record(&self, kind: &str, ts_ms: u64) {
        self.record_n(kind, ts_ms, 1);
    }

    /// `count` events at `ts_ms` (an audit line that counts several, like `rate_limited`).
    pub fn record_n(&self, kind: &str, ts_ms: u64, count: u64) {
        let Some(i) = index(kind) else { return };
        let mut rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
        let ring = &mut rings[i];
        for _ in 0..count.min(RING_CAPACITY as u64) {
            if ring.len() == RING_CAPACITY {
                ring.pop_front();
            }
            // Keep each ring sorted even if clocks or the seeded file disagree slightly.
            let at = ring.partition_point(|t| *t <= ts_ms);
            ring.insert(at, ts_ms);
        }
    }

    /// Reads an audit file once (start-up); returns how many events it found.
    pub fn seed_from(&self, path: &Path) -> std::io::Result<usize> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for line in std::io::BufReader::new(file).lines() {
            // A torn last line (crash mid-write) is skipped, not fatal.
            let Ok(line) = line else { continue };
            if let Some((ts, kind, count)) = audit::parse_line(&line) {
                self.record_n(kind, ts, count);
                n += 1;
            }
        }
        Ok(n)
    }

    /// `{events, recent, anomalies, window_seconds}` for the window ending at `now_ms`.
    pub fn report(&self, now_ms: u64, window_seconds: f64, thresholds: &Thresholds) -> Value {
        let cutoff = now_ms.saturating_sub((window_seconds * 1000.0) as u64);
        let rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
        let mut events = Map::new();
        let mut recent = Map::new();
        let mut anomalies = Vec::new();
        for (kind, ring) in EVENT_TYPES.iter().zip(rings.iter()) {
            let count = (ring.len() - ring.partition_point(|t| *t < cutoff)) as u64;
            events.insert(kind.to_string(), count.into());
            if count > 0
                && let Some(last) = ring.back()
            {
                recent.insert(kind.to_string(), crate::clock::rfc3339_utc(*last).into());
            }
            let threshold = match *kind {
                "rate_limited" => Some(thresholds.rate_limited),
                "approval_requested" => Some(thresholds.approval_requested),
                "tool_failure" => Some(thresholds.tool_failure),
                _ => None,
            };
            if let Some(threshold) = threshold
                && count >= threshold
            {
                anomalies.push(json!({"type": kind, "count": count, "threshold": threshold}));
            }
        }
        json!({
            "events": events,
            "recent": recent,
            "anomalies": anomalies,
            "window_seconds": window_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        rate_limited: 3,
        approval_requested: 20,
        tool_failure: 2,
    };

    #[test]
    fn counts_only_the_window_and_flags_thresholds() {
        let t = AnomalyTracker::default();
        for ts in [1_000, 50_000, 60_000, 61_000] {
            t.record("rate_limited", ts);
        }
        t.record("tool_failure", 61_500);
        t.record("nonsense", 61_500);
        let r = t.report(62_000, 30.0, &T);
        assert_eq!(r["events"]["rate_limited"], 3);
        assert_eq!(r["events"]["tool_failure"], 1);
        assert_eq!(r["events"]["approval_denied"], 0);
        assert_eq!(
            r["anomalies"],
            json!([{"type": "rate_limited", "count": 3, "threshold": 3}])
        );
        assert!(r["recent"]["rate_limited"].as_str().unwrap().ends_with('Z'));
        assert!(r["recent"].get("approval_denied").is_none());
        assert_eq!(t.report(62_000, 3600.0, &T)["events"]["rate_limited"], 4);
    }

    #[test]
    fn seeds_from_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(
            &path,
            "{\"ts\":10.0,\"type\":\"tool_failure\"}\ngarbage\n{\"ts\":11.5,\"type\":\"tool_failure\"}\n{\"ts\":12",
        )
        .unwrap();
        let t = AnomalyTracker::default();
        assert_eq!(t.seed_from(&path).unwrap(), 2);
        assert_eq!(t.seed_from(&dir.path().join("missing")).unwrap(), 0);
        let r = t.report(12_000, 60.0, &T);
        assert_eq!(r["events"]["tool_failure"], 2);
        assert_eq!(r["anomalies"][0]["type"], "tool_failure");
    }
}
