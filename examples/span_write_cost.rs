//! What the telemetry writer thread spends per span: serialize, append, rotate, fsync at
//! close. Sends `BATCHES` batches of `BATCH` realistic spans through the real writer and
//! times it end to end (from the first send to the joined thread).
//!
//! `cargo run --release --example span_write_cost [-- BATCHES BATCH]`

use crossbeam_channel::bounded;
use ide_agentsd::protocol::jsonrpc::RequestId;
use ide_agentsd::telemetry::span::{Span, SpanExtra};
use ide_agentsd::telemetry::stats::TelemetryStats;
use ide_agentsd::telemetry::writer::{self, WriterFiles, WriterMsg};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

fn span(i: u64) -> Span {
    Span {
        timestamp_ms: 1_795_542_865_123 + i,
        tool_name: Cow::Borrowed("ide_agents_healthz"),
        method: None,
        duration_ms: 0.042,
        success: true,
        error_code: None,
        extra: Some(SpanExtra {
            request_id: Some(RequestId::Number(i as i64)),
            session: 7,
            protocol_version: "2026-07-28",
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            ..SpanExtra::default()
        }),
    }
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let batches = args.next().unwrap_or(Ok(2000)).map_err(|e| e.to_string())?;
    let batch = args.next().unwrap_or(Ok(100)).map_err(|e| e.to_string())?;
    let dir = tempfile_dir()?;
    let files = WriterFiles {
        spans: dir.join("mcp_tool_spans.jsonl"),
        audit: dir.join("security_audit.jsonl"),
        max_bytes: 64 * 1024 * 1024,
        keep: 5,
    };
    // Spans are built up front so only the writer's work is timed.
    let prepared: Vec<Vec<Span>> = (0..batches)
        .map(|b| (0..batch).map(|i| span(b * batch + i)).collect())
        .collect();
    let stats = Arc::new(TelemetryStats::default());
    let (tx, rx) = bounded(writer::QUEUE_BATCHES);
    let start = Instant::now();
    // Its end of `ended` goes with the thread; joining tells the same here.
    let (ended, _) = bounded(0);
    let thread = writer::spawn(files, rx, stats.clone(), ended).map_err(|e| e.to_string())?;
    for b in prepared {
        tx.send(WriterMsg::Spans(b)).map_err(|e| e.to_string())?;
    }
    tx.send(WriterMsg::Close).map_err(|e| e.to_string())?;
    thread.join().map_err(|_| "writer panicked".to_string())?;
    let elapsed = start.elapsed();
    let n = stats.spans_written.load(Relaxed);
    let bytes: u64 = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{n} spans in {batches} batches of {batch}: {:.1} ms, {:.0} ns/span, {:.0} bytes/span, {:.2} M spans/s (dropped {})",
        elapsed.as_secs_f64() * 1000.0,
        elapsed.as_nanos() as f64 / n.max(1) as f64,
        bytes as f64 / n.max(1) as f64,
        n as f64 / elapsed.as_secs_f64() / 1e6,
        stats.spans_dropped.load(Relaxed),
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("span-write-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}
