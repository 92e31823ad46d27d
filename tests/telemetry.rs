//! Telemetry spans (SPEC §8.1): the line format, batching, the flush timer, shutdown
//! flushing, rotation, and a logs directory that cannot be written.

mod common;

use common::{Backend, Client, daemon, daemon_for, json_lines, raw_lines, wait_until};
use serde_json::{Value, json};
use std::path::PathBuf;

const KEYS: [&str; 7] = [
    "timestamp_ms",
    "tool_name",
    "method",
    "duration_ms",
    "success",
    "error_code",
    "extra",
];

fn spans_file(d: &common::Daemon) -> PathBuf {
    d.dir.path().join("logs/mcp_tool_spans.jsonl")
}

fn healthz(c: &mut Client) {
    let r = c.call_tool("ide_agents_healthz", json!({}));
    assert_eq!(r["isError"], false, "{r}");
}

#[test]
fn every_call_is_one_span_line_in_spec_key_order_flushed_at_sigterm() {
    // No timer flush and no full batch: only the shutdown flush can write these.
    let mut d = daemon()
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut clients: Vec<Client> = (0..3).map(|_| d.client()).collect();
    let n = 37;
    for i in 0..n - 1 {
        healthz(&mut clients[i % 3]);
    }
    // One call carries a traceparent and a tool failure, to see both recorded.
    let r = clients[0].call(
        "tools/call",
        json!({"name": "ide_agents_security_anomalies", "arguments": {"window_seconds": "x"},
               "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                         "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}),
    );
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(
        raw_lines(&spans_file(&d)).is_empty(),
        "written before shutdown"
    );

    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    let lines = raw_lines(&spans_file(&d));
    assert_eq!(lines.len(), n, "one span per call, none lost");
    for line in &lines {
        // Key order is part of the format: check it on the raw text.
        let mut at = 0;
        for key in KEYS {
            let pos = line[at..]
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} missing or out of order in {line}"));
            at += pos;
        }
        assert!(line.starts_with("{\"timestamp_ms\":"), "{line}");
    }
    let spans: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ok = spans
        .iter()
        .find(|s| s["tool_name"] == "ide_agents_healthz")
        .unwrap();
    assert_eq!(ok["success"], true);
    assert_eq!(ok["error_code"], Value::Null);
    assert_eq!(ok["method"], Value::Null);
    assert!(ok["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(ok["timestamp_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(ok["extra"]["protocol_version"], "2026-07-28");
    assert!(ok["extra"]["session"].as_u64().unwrap() >= 1);
    assert!(ok["extra"]["request_id"].is_number());
    let failed = spans
        .iter()
        .find(|s| s["tool_name"] == "ide_agents_security_anomalies")
        .unwrap();
    assert_eq!(failed["success"], false);
    assert_eq!(failed["error_code"], "invalid_arguments");
    assert_eq!(
        failed["extra"]["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    // The audit buffer is flushed by the same stop.
    let audit = json_lines(&d.dir.path().join("logs/security_audit.jsonl"));
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["type"], "tool_failure");
}

#[test]
fn spans_are_written_when_a_batch_fills() {
    // One worker, so "100 buffered" is the whole daemon's count.
    let d = daemon()
        .env("IDE_AGENTS_WORKERS", "1")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut c = d.client();
    for _ in 0..99 {
        healthz(&mut c);
    }
    // Every span is handed to the buffer before its answer is sent, so 99 answered calls
    // mean 99 buffered spans, and none may be on disk yet.
    assert!(raw_lines(&spans_file(&d)).is_empty());
    let (_, status) = d.status_json();
    assert_eq!(status["telemetry"]["buffered"], 99, "{status}");
    healthz(&mut c);
    wait_until("the 100-span batch on disk", || {
        raw_lines(&spans_file(&d)).len() == 100
    });
}

#[test]
fn spread_over_two_workers_a_batch_is_written_before_the_flush_interval() {
    let d = daemon()
        .env("IDE_AGENTS_WORKERS", "2")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    // Two connections opened one after the other land on different workers.
    let (mut a, mut b) = (d.client(), d.client());
    for _ in 0..60 {
        healthz(&mut a);
        healthz(&mut b);
    }
    // 120 spans buffered in all: a batch's worth is on disk, whichever worker holds them.
    wait_until("the workers' shares of a batch on disk", || {
        raw_lines(&spans_file(&d)).len() >= 100
    });
    let (_, status) = d.status_json();
    let t = &status["telemetry"];
    assert_eq!(
        t["written"].as_u64().unwrap() + t["buffered"].as_u64().unwrap(),
        120,
        "{t}"
    );
    assert!(t["buffered"].as_u64().unwrap() < 100, "{t}");
}

#[test]
fn the_flush_timer_writes_spans_without_further_traffic() {
    let d = daemon()
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "0.2")
        .start();
    let mut c = d.client();
    for _ in 0..3 {
        healthz(&mut c);
    }
    wait_until("3 spans written by the timer", || {
        json_lines(&spans_file(&d)).len() == 3
    });
    let (_, status) = d.status_json();
    assert_eq!(status["telemetry"]["written"], 3, "{status}");
    assert_eq!(status["telemetry"]["buffered"], 0, "{status}");
    assert_eq!(status["telemetry"]["writable"], true, "{status}");
    assert!(
        status["telemetry"]["last_flush"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
}

#[test]
fn the_span_file_rotates_at_its_size_bound() {
    let d = daemon()
        .env("IDE_AGENTS_TELEMETRY_BATCH", "1")
        .env("IDE_AGENTS_TELEMETRY_MAX_BYTES", "700")
        .env("IDE_AGENTS_TELEMETRY_KEEP", "2")
        .start();
    let mut c = d.client();
    for _ in 0..20 {
        healthz(&mut c);
    }
    let path = spans_file(&d);
    let rotated = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    // Each span is one batch; wait for all 20 to be counted as written.
    wait_until("20 spans written", || {
        d.status_json().1["telemetry"]["written"] == 20
    });
    assert!(rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists(), "only KEEP rotated files are kept");
    for p in [path.clone(), rotated(1), rotated(2)] {
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len <= 700, "{} is {len} bytes", p.display());
        assert!(!json_lines(&p).is_empty());
    }
}

#[test]
fn an_unwritable_logs_dir_drops_spans_and_the_daemon_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "a regular file").unwrap();
    // A healthy backend, so the logs are the only reason to be degraded.
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .dir(dir)
        .env(
            "MCP_TOOL_SPANS_DIR",
            blocker.join("logs").display().to_string(),
        )
        .env("IDE_AGENTS_TELEMETRY_BATCH", "1")
        .start();
    let mut c = d.client();
    healthz(&mut c);
    wait_until("a dropped span", || {
        d.status_json().1["telemetry"]["dropped"]
            .as_u64()
            .is_some_and(|n| n > 0)
    });
    healthz(&mut c);
    let (code, status) = d.status_json();
    assert_eq!(code, Some(4), "dropping telemetry is degraded: {status}");
    assert_eq!(status["degraded"], true);
    assert_eq!(status["telemetry"]["writable"], false);
    assert_eq!(
        status["degraded_reasons"].as_array().unwrap().len(),
        1,
        "{status}"
    );
    assert!(
        status["degraded_reasons"][0]
            .as_str()
            .unwrap()
            .contains("not writable")
    );
}

#[test]
fn status_says_at_once_that_the_logs_dir_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logs"), "in the way").unwrap();
    let backend = Backend::start();
    let d = daemon_for(&backend).dir(dir).start();
    // No span written or failed yet: status agrees with readyz from the start.
    let mut c = d.client();
    let ready = c.call_tool("ide_agents_readyz", json!({}));
    assert_eq!(
        ready["structuredContent"]["telemetry_writable"], false,
        "{ready}"
    );
    let (code, status) = d.status_json();
    assert_eq!(code, Some(4), "{status}");
    assert_eq!(status["telemetry"]["writable"], false, "{status}");
    let reasons = status["degraded_reasons"].to_string();
    assert!(reasons.contains("not writable"), "{reasons}");
}

#[test]
fn disabled_telemetry_writes_no_spans() {
    let mut d = daemon()
        .env("IDE_AGENTS_TELEMETRY_ENABLED", "false")
        .env("IDE_AGENTS_TELEMETRY_BATCH", "1")
        .start();
    let mut c = d.client();
    for _ in 0..5 {
        healthz(&mut c);
    }
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    assert!(raw_lines(&spans_file(&d)).is_empty());
}

/// A daemon (with a healthy backend, kept alive with it) whose logs directory is a regular
/// file, until the test removes the file at the returned path.
fn daemon_with_blocked_logs(setting: (&str, &str)) -> (common::Daemon, PathBuf, Backend) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::write(&logs, "in the way").unwrap();
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .dir(dir)
        .env(setting.0, setting.1)
        .start();
    (d, logs, backend)
}

#[test]
fn span_writing_resumes_once_the_logs_dir_is_writable_again() {
    let (d, logs, _backend) = daemon_with_blocked_logs(("IDE_AGENTS_TELEMETRY_BATCH", "1"));
    let mut c = d.client();
    healthz(&mut c);
    wait_until("the failing write", || d.status_json().0 == Some(4));
    std::fs::remove_file(&logs).unwrap();
    healthz(&mut c);
    wait_until("writing again", || d.status_json().0 == Some(0));
    assert!(!raw_lines(&spans_file(&d)).is_empty());
    let (_, status) = d.status_json();
    assert_eq!(status["telemetry"]["writable"], true);
    assert!(status["telemetry"]["dropped"].as_u64().unwrap() >= 1);
}

/// The audit file failed with the last event it was given; once the directory is fixed,
/// the daemon says so without waiting for another audit event, which can be hours away.
#[test]
fn a_fixed_audit_file_stops_the_degraded_state_without_a_new_event() {
    let (d, logs, _backend) = daemon_with_blocked_logs(("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "0.05"));
    let mut c = d.client();
    // A failed call is an audit event (tool_failure).
    let r = c.call_tool("ide_agents_no_such_tool", json!({}));
    assert_eq!(r["isError"], true, "{r}");
    wait_until("the audit event dropped", || {
        d.status_json().1["telemetry"]["audit_dropped"] == 1
    });
    std::fs::remove_file(&logs).unwrap();
    healthz(&mut c);
    wait_until("not degraded", || d.status_json().0 == Some(0));
    let (_, status) = d.status_json();
    assert_eq!(status["telemetry"]["writable"], true, "{status}");
    assert_eq!(status["telemetry"]["audit_written"], 0, "{status}");
}

#[test]
fn resource_reads_and_prompt_gets_are_spans_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("build.log"), "line one\nline two\n").unwrap();
    let mut d = daemon()
        .dir(dir)
        .env("IDE_AGENTS_BUILD_LOG", "build.log")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut c = d.client();
    for _ in 0..2 {
        let r = c.call_modern("resources/read", json!({"uri": "ide-agents://build.logs"}));
        assert!(r["result"]["contents"][0]["text"].is_string(), "{r}");
    }
    let r = c.call_modern("resources/read", json!({"uri": "ide-agents://nope"}));
    assert!(r["error"].is_object(), "{r}");
    let r = c.call_modern("prompts/get", json!({"name": "rank_top_bug_prs"}));
    assert!(r["result"]["messages"].is_array(), "{r}");
    // Listing is not a span.
    c.call_modern("resources/list", json!({}));

    d.signal(libc::SIGTERM);
    assert!(d.wait_exit().success());
    let spans = json_lines(&spans_file(&d));
    let seen: Vec<(&str, &Value, &Value)> = spans
        .iter()
        .map(|s| {
            (
                s["tool_name"].as_str().unwrap(),
                &s["error_code"],
                &s["extra"]["cache"],
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("resources/read", &Value::Null, &json!("miss")),
            ("resources/read", &Value::Null, &json!("hit")),
            // Recorded as the tool form names it, whatever code the era answers.
            ("resources/read", &json!("not_found"), &Value::Null),
            ("prompts/get", &Value::Null, &Value::Null),
        ]
    );
    assert!(
        spans
            .iter()
            .all(|s| s["extra"]["protocol_version"] == "2026-07-28")
    );
    // Each says what it read or got.
    let subjects: Vec<&Value> = spans.iter().map(|s| &s["extra"]["subject"]).collect();
    assert_eq!(
        subjects,
        [
            &json!("ide-agents://build.logs"),
            &json!("ide-agents://build.logs"),
            &json!("ide-agents://nope"),
            &json!("rank_top_bug_prs"),
        ]
    );
}

/// What a client sends lands in a span cut to 200 characters: a tool's `method` argument
/// and the traceparent can be any length.
#[test]
fn client_supplied_span_fields_are_cut() {
    let mut d = daemon()
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut c = d.client();
    let long = "x".repeat(100_000);
    let r = c.call(
        "tools/call",
        json!({"name": "ide_agents_command", "arguments": {"method": long},
               "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                         "traceparent": long}}),
    );
    assert_eq!(r["result"]["isError"], true, "{r}");
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    let spans = json_lines(&spans_file(&d));
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span["method"].as_str().unwrap().len(), 200, "{span}");
    assert_eq!(span["extra"]["traceparent"].as_str().unwrap().len(), 200);
}
