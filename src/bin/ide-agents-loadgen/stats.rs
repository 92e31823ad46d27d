//! Counters and latency histogram of a run, and the final report.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Why a request did not count as a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidJson,
    UnknownId,
    RpcError,
    MissingResult,
    ToolError,
    /// No response within the drain period after sending stopped.
    Timeout,
    /// The connection failed or the server closed it with requests outstanding.
    Closed,
    /// `http`: a response whose status is not 2xx.
    HttpStatus,
    /// `http`: a response that cannot be framed (the connection is given up).
    BadHttp,
}

impl ErrorKind {
    const ALL: [ErrorKind; 9] = [
        ErrorKind::InvalidJson,
        ErrorKind::UnknownId,
        ErrorKind::RpcError,
        ErrorKind::MissingResult,
        ErrorKind::ToolError,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::HttpStatus,
        ErrorKind::BadHttp,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::InvalidJson => "invalid JSON",
            ErrorKind::UnknownId => "unknown id",
            ErrorKind::RpcError => "JSON-RPC error",
            ErrorKind::MissingResult => "no result",
            ErrorKind::ToolError => "tool error (isError)",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "connection closed",
            ErrorKind::HttpStatus => "HTTP status not 2xx",
            ErrorKind::BadHttp => "malformed HTTP response",
        }
    }
}

/// Highest latency the histogram resolves (60 s, in µs); slower ones are clamped.
const MAX_LATENCY_US: u64 = 60_000_000;
/// How many offending lines are shown, over all connections and threads.
const SHOWN_OFFENDERS: usize = 3;
const SHOWN_CHARS: usize = 300;

static OFFENDERS: AtomicUsize = AtomicUsize::new(0);

/// Prints one of the first few problems of the run to stderr.
pub fn report_problem(kind: ErrorKind, detail: &str) {
    if OFFENDERS.fetch_add(1, Ordering::Relaxed) < SHOWN_OFFENDERS {
        eprintln!("{}: {}", kind.label(), truncate(detail, SHOWN_CHARS));
    }
}

/// Like [`report_problem`], for an offending line as received.
pub fn report_line(kind: ErrorKind, line: &[u8]) {
    // Cheap check first: most runs have no problems, and busy ones must not pay for text.
    if OFFENDERS.load(Ordering::Relaxed) < SHOWN_OFFENDERS {
        let head = &line[..line.len().min(SHOWN_CHARS * 4)];
        let mut text = String::from_utf8_lossy(head).into_owned();
        if head.len() < line.len() {
            text.push('…');
        }
        report_problem(kind, &text);
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Results of one client thread, merged into one for the report.
pub struct Stats {
    pub ok: u64,
    errors: [u64; ErrorKind::ALL.len()],
    latency_us: Histogram<u64>,
    /// When the last counted response arrived: the end of the measured window.
    pub last_ok: Option<Instant>,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            ok: 0,
            errors: [0; ErrorKind::ALL.len()],
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            last_ok: None,
        }
    }

    pub fn record_ok(&mut self, latency: Duration, at: Instant) {
        self.ok += 1;
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(us);
        self.last_ok = self.last_ok.max(Some(at));
    }

    pub fn record_errors(&mut self, kind: ErrorKind, count: u64) {
        self.errors[kind as usize] += count;
    }

    pub fn errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn merge(&mut self, other: &Stats) {
        self.ok += other.ok;
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms share the same bounds");
        self.last_ok = self.last_ok.max(other.last_ok);
    }
}

/// The final numbers of a run, as printed.
pub struct Summary<'a> {
    pub scenario: &'static str,
    pub connections: usize,
    pub window: usize,
    /// Measured window: from the end of warmup to the last counted response.
    pub elapsed: Duration,
    pub stats: &'a Stats,
}

impl Summary<'_> {
    fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.stats.ok as f64 / secs
        } else {
            0.0
        }
    }

    fn percentile(&self, q: f64) -> u64 {
        self.stats.latency_us.value_at_quantile(q)
    }

    /// The `--json` form: one object, fields in a fixed order.
    pub fn to_json(&self) -> JsonSummary {
        JsonSummary {
            scenario: self.scenario,
            connections: self.connections,
            window: self.window,
            duration_s: round3(self.elapsed.as_secs_f64()),
            ok: self.stats.ok,
            errors: self.stats.errors(),
            rps: round3(self.rps()),
            p50_us: self.percentile(0.50),
            p90_us: self.percentile(0.90),
            p99_us: self.percentile(0.99),
            max_us: self.stats.latency_us.max(),
        }
    }
}

#[derive(Serialize)]
pub struct JsonSummary {
    scenario: &'static str,
    connections: usize,
    window: usize,
    duration_s: f64,
    ok: u64,
    errors: u64,
    rps: f64,
    p50_us: u64,
    p90_us: u64,
    p99_us: u64,
    max_us: u64,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let s = self.stats;
        writeln!(f, "scenario     {}", self.scenario)?;
        writeln!(
            f,
            "connections  {} x window {}",
            self.connections, self.window
        )?;
        writeln!(f, "duration     {:.3} s", self.elapsed.as_secs_f64())?;
        writeln!(f, "ok           {}", s.ok)?;
        writeln!(f, "errors       {}", s.errors())?;
        for kind in ErrorKind::ALL {
            let n = s.errors[kind as usize];
            if n > 0 {
                writeln!(f, "  {:<22} {n}", kind.label())?;
            }
        }
        writeln!(f, "requests/s   {:.0}", self.rps())?;
        write!(
            f,
            "latency µs   p50 {}  p90 {}  p99 {}  max {}",
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            s.latency_us.max()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_everything() {
        let t0 = Instant::now();
        let mut a = Stats::new();
        a.record_ok(Duration::from_micros(10), t0);
        a.record_errors(ErrorKind::Timeout, 2);
        let mut b = Stats::new();
        let later = t0 + Duration::from_millis(1);
        b.record_ok(Duration::ZERO, t0);
        b.record_ok(Duration::from_micros(1000), later);
        b.record_errors(ErrorKind::RpcError, 1);
        a.merge(&b);
        assert_eq!(a.ok, 3);
        assert_eq!(a.errors(), 3);
        assert_eq!(a.last_ok, Some(later));
        assert!(a.latency_us.max() >= 1000);
        // Sub-microsecond latencies are recorded as 0 µs, not rejected.
        assert_eq!(a.latency_us.min(), 0);
    }

    #[test]
    fn summary_json_fields() {
        let mut s = Stats::new();
        s.record_ok(Duration::from_micros(50), Instant::now());
        let summary = Summary {
            scenario: "ping",
            connections: 2,
            window: 4,
            elapsed: Duration::from_millis(500),
            stats: &s,
        };
        let text = serde_json::to_string(&summary.to_json()).unwrap();
        assert!(text.starts_with(r#"{"scenario":"ping","connections":2,"window":4,"#));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["rps"], 2.0);
        assert_eq!(v["errors"], 0);
        assert_eq!(v["p50_us"], 50);
        assert_eq!(v["duration_s"], 0.5);
        assert!(summary.to_string().contains("p99 50"));
    }

    #[test]
    fn truncates_by_chars() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }
}
