//! Request metrics: counters and latency histograms per method and per tool.
//!
//! Each worker owns one [`WorkerMetrics`] behind its own mutex, registered once in the
//! [`MetricsRegistry`]. Only that worker writes it, so the lock is uncontended on the request
//! path (tens of ns, no thread wake-up); `status` and `metrics_snapshot` take each lock for
//! the moment it takes to merge a copy.

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
// foldhash: these maps are read on every request, and SipHash was a visible share of it.
use foldhash::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Longest latency a histogram tracks exactly (an hour, in µs); longer ones saturate.
const MAX_MICROS: u64 = 3_600_000_000;

/// Calls, errors and latencies of one method or tool.
#[derive(Clone)]
pub struct Timing {
    pub calls: u64,
    pub errors: u64,
    micros: Histogram<u64>,
}

impl Timing {
    fn new() -> Timing {
        // Two significant figures: ±1 % on a percentile, a few KiB per histogram.
        let micros = Histogram::new_with_bounds(1, MAX_MICROS, 2)
            .unwrap_or_else(|_| Histogram::new(2).expect("2 significant figures are valid"));
        Timing {
            calls: 0,
            errors: 0,
            micros,
        }
    }

    fn record(&mut self, elapsed: Duration, ok: bool) {
        self.calls += 1;
        if !ok {
            self.errors += 1;
        }
        self.micros
            .saturating_record(elapsed.as_micros().max(1) as u64);
    }

    fn merge(&mut self, other: &Timing) {
        self.calls += other.calls;
        self.errors += other.errors;
        // Same bounds everywhere, so adding cannot fail; a failure only loses latencies.
        let _ = self.micros.add(&other.micros);
    }

    /// Latency at quantile `q` in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        self.micros.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn to_json(&self) -> Value {
        json!({
            "calls": self.calls,
            "errors": self.errors,
            "p50_ms": self.quantile_ms(0.5),
            "p99_ms": self.quantile_ms(0.99),
        })
    }
}

/// One worker's metrics (or, merged, the daemon's).
#[derive(Clone, Default)]
pub struct WorkerMetrics {
    /// Keyed by method names the router knows, so clients cannot grow the map.
    pub methods: HashMap<&'static str, Timing>,
    /// Keyed by catalog tool names.
    pub tools: HashMap<&'static str, Timing>,
    pub tool_calls_total: u64,
    pub tool_calls_success: u64,
    pub tool_calls_failure: u64,
}

impl WorkerMetrics {
    pub fn record_method(&mut self, method: &'static str, elapsed: Duration, ok: bool) {
        self.methods
            .entry(method)
            .or_insert_with(Timing::new)
            .record(elapsed, ok);
    }

    /// A finished `tools/call`; `tool` is `None` for names not in the catalog.
    pub fn record_tool(&mut self, tool: Option<&'static str>, elapsed: Duration, ok: bool) {
        self.tool_calls_total += 1;
        if ok {
            self.tool_calls_success += 1;
        } else {
            self.tool_calls_failure += 1;
        }
        if let Some(tool) = tool {
            self.tools
                .entry(tool)
                .or_insert_with(Timing::new)
                .record(elapsed, ok);
        }
    }

    fn merge(&mut self, other: &WorkerMetrics) {
        for (name, t) in &other.methods {
            self.methods
                .entry(name)
                .or_insert_with(Timing::new)
                .merge(t);
        }
        for (name, t) in &other.tools {
            self.tools.entry(name).or_insert_with(Timing::new).merge(t);
        }
        self.tool_calls_total += other.tool_calls_total;
        self.tool_calls_success += other.tool_calls_success;
        self.tool_calls_failure += other.tool_calls_failure;
    }

    /// Successful share of tool calls; 1.0 before the first call (nothing has failed).
    pub fn success_rate(&self) -> f64 {
        if self.tool_calls_total == 0 {
            return 1.0;
        }
        self.tool_calls_success as f64 / self.tool_calls_total as f64
    }

    /// `{name: {calls, errors, p50_ms, p99_ms}}`, sorted by name.
    pub fn per_tool_json(&self) -> Value {
        timings_json(&self.tools)
    }

    pub fn per_method_json(&self) -> Value {
        timings_json(&self.methods)
    }
}

fn timings_json(map: &HashMap<&'static str, Timing>) -> Value {
    let mut names: Vec<&&str> = map.keys().collect();
    names.sort();
    let out: Map<String, Value> = names
        .into_iter()
        .map(|n| (n.to_string(), map[n].to_json()))
        .collect();
    Value::Object(out)
}

/// A worker's handle on its own metrics.
pub type MetricsCell = Arc<Mutex<WorkerMetrics>>;

pub fn lock(cell: &MetricsCell) -> std::sync::MutexGuard<'_, WorkerMetrics> {
    cell.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every worker's metrics, for the readers.
#[derive(Default)]
pub struct MetricsRegistry {
    workers: Mutex<Vec<MetricsCell>>,
}

impl MetricsRegistry {
    /// A fresh cell for one worker, registered for the readers.
    pub fn register(&self) -> MetricsCell {
        let cell = MetricsCell::default();
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cell.clone());
        cell
    }

    /// All workers merged.
    pub fn snapshot(&self) -> WorkerMetrics {
        let cells = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut total = WorkerMetrics::default();
        for cell in &cells {
            total.merge(&lock(cell));
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_merge_into_one_view() {
        let registry = MetricsRegistry::default();
        let (a, b) = (registry.register(), registry.register());
        let ms = Duration::from_millis;
        lock(&a).record_tool(Some("t"), ms(1), true);
        lock(&a).record_tool(Some("t"), ms(100), false);
        lock(&b).record_tool(Some("t"), ms(2), true);
        lock(&b).record_tool(None, ms(2), false);
        lock(&b).record_method("tools/call", ms(3), true);
        let all = registry.snapshot();
        assert_eq!(all.tool_calls_total, 4);
        assert_eq!(all.tool_calls_success, 2);
        assert_eq!(all.tool_calls_failure, 2);
        assert_eq!(all.success_rate(), 0.5);
        let t = &all.tools["t"];
        assert_eq!((t.calls, t.errors), (3, 1));
        assert!(
            (t.quantile_ms(0.5) - 2.0).abs() < 0.1,
            "{}",
            t.quantile_ms(0.5)
        );
        assert!((t.quantile_ms(0.99) - 100.0).abs() < 1.0);
        assert_eq!(all.methods["tools/call"].calls, 1);
    }
}
