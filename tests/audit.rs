//! The audit log (SPEC §8.2), rate limiting (§9) and the anomaly report built on them.

mod common;

use common::{Client, daemon, json_lines, wait_until};
use serde_json::{Value, json};
use std::path::PathBuf;

fn audit_file(d: &common::Daemon) -> PathBuf {
    d.dir.path().join("logs/security_audit.jsonl")
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

/// A daemon on `backend` whose audit log is written when it stops (and not before).
fn written_on_stop(backend: &common::Backend) -> common::DaemonBuilder {
    common::daemon_for(backend).env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
}

/// Limits that never refill during a test: 0.01 token/s.
fn limited(burst: &str) -> common::DaemonBuilder {
    daemon()
        .env("IDE_AGENTS_RATE_PER_SEC", "0.01")
        .env("IDE_AGENTS_RATE_BURST", burst)
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "0.05")
}

#[test]
fn a_burst_is_limited_per_connection_with_retry_after_and_an_audit_entry() {
    let d = limited("3").start();
    let mut a = d.client();
    let mut b = d.client();
    for _ in 0..3 {
        assert_eq!(
            a.call_tool("ide_agents_healthz", json!({}))["isError"],
            false
        );
    }
    let r = a.call_tool("ide_agents_healthz", json!({}));
    assert_eq!(r["isError"], true, "{r}");
    let e = &r["structuredContent"]["error"];
    assert_eq!(e["code"], "rate_limited");
    assert!(e["retry_after_ms"].as_u64().unwrap() > 1000, "{e}");
    // The bucket is per (connection, tool): another tool and another client are not limited.
    assert_eq!(
        a.call_tool("ide_agents_health", json!({}))["isError"],
        false
    );
    for _ in 0..3 {
        assert_eq!(
            b.call_tool("ide_agents_healthz", json!({}))["isError"],
            false
        );
    }
    wait_until("the rate_limited audit entry", || {
        !of_type(&json_lines(&audit_file(&d)), "rate_limited").is_empty()
    });
    let lines = json_lines(&audit_file(&d));
    let entry = of_type(&lines, "rate_limited")[0];
    assert_eq!(entry["tool"], "ide_agents_healthz");
    assert!(entry["ts"].as_f64().unwrap() > 1.7e9);
    assert_eq!(of_type(&lines, "rate_limited").len(), 1);
    // A rate-limited call is its own event type, not also a tool failure.
    assert!(of_type(&lines, "tool_failure").is_empty());
    let raw = std::fs::read_to_string(audit_file(&d)).unwrap();
    assert!(raw.starts_with("{\"ts\":"), "{raw}");
}

#[test]
fn failed_tool_calls_are_audited_without_their_arguments() {
    let d = daemon()
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "0.05")
        .start();
    let mut c = d.client();
    let r = c.call_tool("ide_agents_no_such_tool", json!({"secret": "hunter2"}));
    assert_eq!(r["isError"], true);
    let r = c.call_tool("ide_agents_healthz", json!({"unexpected": "hunter2"}));
    assert_eq!(r["structuredContent"]["error"]["code"], "invalid_arguments");
    wait_until("two tool_failure entries", || {
        of_type(&json_lines(&audit_file(&d)), "tool_failure").len() == 2
    });
    let lines = json_lines(&audit_file(&d));
    let codes: Vec<&Value> = lines.iter().map(|l| &l["error_code"]).collect();
    assert_eq!(codes, [&json!("unknown_tool"), &json!("invalid_arguments")]);
    assert_eq!(lines[0]["tool"], "ide_agents_no_such_tool");
    assert_eq!(lines[1]["tool"], "ide_agents_healthz");
    let raw = std::fs::read_to_string(audit_file(&d)).unwrap();
    assert!(!raw.contains("hunter2"), "arguments leaked: {raw}");
}

fn anomalies(c: &mut Client, window: f64) -> Value {
    let r = c.call_tool(
        "ide_agents_security_anomalies",
        json!({"window_seconds": window}),
    );
    assert_eq!(r["isError"], false, "{r}");
    r["structuredContent"].clone()
}

#[test]
fn event_counts_over_their_thresholds_are_anomalies() {
    let d = limited("1")
        .env("ANOMALY_THRESHOLD_RATE_LIMITED", "2")
        .env("ANOMALY_THRESHOLD_TOOL_FAILURE", "3")
        .start();
    // Burst 1 limits the anomalies tool too: each report uses a fresh connection.
    let quiet = anomalies(&mut d.client(), 3600.0);
    let mut c = d.client();
    assert_eq!(quiet["anomalies"], json!([]));
    assert_eq!(quiet["window_seconds"], 3600.0);
    for _ in 0..3 {
        c.call_tool("ide_agents_healthz", json!({})); // 1 ok, 2 limited
        c.call_tool("ide_agents_missing", json!({})); // unknown tool: a failure
    }
    // Other connections (on both workers) see the same daemon-wide counts.
    let r = anomalies(&mut d.client(), 3600.0);
    assert_eq!(r["events"]["rate_limited"], 2, "{r}");
    assert_eq!(r["events"]["tool_failure"], 3, "{r}");
    assert_eq!(r["events"]["approval_requested"], 0, "{r}");
    let mut found: Vec<Value> = r["anomalies"].as_array().unwrap().clone();
    found.sort_by_key(|a| a["type"].as_str().unwrap().to_string());
    assert_eq!(
        found,
        [
            json!({"type": "rate_limited", "count": 2, "threshold": 2}),
            json!({"type": "tool_failure", "count": 3, "threshold": 3}),
        ]
    );
    assert!(r["recent"]["tool_failure"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn anomaly_counts_start_from_the_existing_audit_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut old = String::new();
    for ts in [now - 60.0, now - 30.0, now - 7200.0] {
        old.push_str(&json!({"ts": ts, "type": "approval_denied", "action_id": "a"}).to_string());
        old.push('\n');
    }
    // A rate_limited line counts the refusals it gathered.
    old.push_str(&json!({"ts": now - 10.0, "type": "rate_limited", "refused": 5}).to_string());
    old.push('\n');
    std::fs::write(dir.path().join("logs/security_audit.jsonl"), old).unwrap();
    let d = daemon().dir(dir).start();
    let r = anomalies(&mut d.client(), 3600.0);
    assert_eq!(r["events"]["approval_denied"], 2, "{r}");
    assert_eq!(r["events"]["rate_limited"], 5, "{r}");
    assert_eq!(
        anomalies(&mut d.client(), 86_400.0)["events"]["approval_denied"],
        3
    );
}

#[test]
fn approvals_are_audited_from_request_to_execution() {
    let backend = common::Backend::start();
    let mut d = written_on_stop(&backend).start();
    let mut c = d.client();
    let ask = |c: &mut Client, command: &str| -> String {
        let r = c.call_tool("ide_agents_run_command", json!({ "command": command }));
        assert_eq!(
            r["structuredContent"]["error"]["code"], "approval_required",
            "{r}"
        );
        r["structuredContent"]["error"]["action_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let granted = ask(&mut c, "echo audited");
    // Asking again for the same command reuses its pending action: one request event.
    assert_eq!(ask(&mut c, "echo audited"), granted);
    let approve = c.call_modern(
        "ide-agents/approvals/approve",
        json!({ "action_id": granted }),
    );
    assert_eq!(approve["result"]["approved"], true, "{approve}");
    let ran = c.call_tool("ide_agents_run_command", json!({"command": "echo audited"}));
    assert_eq!(ran["isError"], false, "{ran}");
    let denied = ask(&mut c, "whoami");
    let deny = c.call_modern("ide-agents/approvals/deny", json!({ "action_id": denied }));
    assert_eq!(deny["result"]["denied"], true, "{deny}");

    d.signal(libc::SIGTERM);
    assert!(d.wait_exit().success());
    let lines = json_lines(&audit_file(&d));
    assert_eq!(common::audit_kinds(&lines), common::RAN_ONCE_THEN_DENIED);
    assert_eq!(lines[0]["action_id"], granted.as_str());
    assert_eq!(lines[0]["command"], "echo audited");
    assert_eq!(lines[1]["action_id"], granted.as_str());
    assert_eq!(lines[2]["success"], true);
    // The execution names the approval it used.
    assert_eq!(lines[2]["action_id"], granted.as_str());
    assert_eq!(lines[4]["action_id"], denied.as_str());
}

#[test]
fn an_approved_command_that_never_reaches_the_backend_keeps_its_approval() {
    // Nothing listens at the backend URL: the command cannot be sent.
    let mut d = daemon()
        .env("IDE_AGENTS_BACKEND_URL", "http://127.0.0.1:1")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut c = d.client();
    approve_command(&mut c, "date");
    // Not sent (unreachable, then the breaker): the single use is not spent.
    for _ in 0..6 {
        let r = c.call_tool("ide_agents_run_command", json!({"command": "date"}));
        let code = r["structuredContent"]["error"]["code"].as_str().unwrap();
        assert!(
            code == "backend_unavailable" || code == "circuit_open",
            "{r}"
        );
    }
    d.signal(libc::SIGTERM);
    assert!(d.wait_exit().success());
    let lines = json_lines(&audit_file(&d));
    assert!(
        of_type(&lines, "command_executed").is_empty(),
        "nothing was executed: {lines:?}"
    );
}

/// Runs `command` to have it asked for; its pending action's id.
fn ask_approval(c: &mut Client, command: &str) -> String {
    let asked = c.call_tool("ide_agents_run_command", json!({ "command": command }));
    asked["structuredContent"]["error"]["action_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{asked}"))
        .to_string()
}

/// Stops the daemon and reads its audit log: the one `command_executed` line, for
/// `action_id`, says it is unknown whether the command ran; its note.
fn run_of_unknown_outcome(d: &mut common::Daemon, action_id: &str) -> String {
    d.signal(libc::SIGTERM);
    assert!(d.wait_exit().success());
    let lines = json_lines(&audit_file(d));
    let executed = of_type(&lines, "command_executed");
    assert_eq!(executed.len(), 1, "{lines:?}");
    assert_eq!(executed[0]["action_id"], action_id);
    assert_eq!(executed[0]["success"], Value::Null, "{lines:?}");
    let note = executed[0]["note"].as_str().unwrap_or_default();
    assert!(note.contains("may have run"), "{lines:?}");
    note.to_string()
}

/// Asks for `command`, approves it and returns its action id.
fn approve_command(c: &mut Client, command: &str) -> String {
    let action_id = ask_approval(c, command);
    let approve = c.call_modern(
        "ide-agents/approvals/approve",
        json!({ "action_id": action_id }),
    );
    assert_eq!(approve["result"]["approved"], true, "{approve}");
    action_id
}

#[test]
fn an_approval_pushed_out_by_newer_ones_says_so_when_approved() {
    let mut d = daemon().env("IDE_AGENTS_RATE_PER_SEC", "0").start();
    let mut c = d.client();
    let oldest = ask_approval(&mut c, "echo 0");
    for i in 1..=64 {
        ask_approval(&mut c, &format!("echo {i}"));
    }
    let said = d.wait_for_log("is dropped for a new one");
    assert!(said.contains(&oldest), "{said}");
    let approve = c.call_modern(
        "ide-agents/approvals/approve",
        json!({ "action_id": oldest }),
    );
    let message = approve["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("pushed out by newer ones: at most 64 wait"),
        "{approve}"
    );
}

#[test]
fn a_command_the_backend_took_but_never_answered_spends_its_approval() {
    let backend = common::Backend::start();
    let mut d = written_on_stop(&backend).start();
    let mut c = d.client();
    let action_id = approve_command(&mut c, "echo taken");
    // The backend runs it, then dies before answering.
    backend.faults(json!({"close_without_answer": true, "paths": ["/command"]}));
    let r = c.call_tool("ide_agents_run_command", json!({"command": "echo taken"}));
    assert_eq!(
        r["structuredContent"]["error"]["code"], "backend_error",
        "{r}"
    );
    assert_eq!(backend.hits("POST /command"), 1);
    backend.faults(json!({}));
    // It may have run: the approval is spent, so running it again asks again.
    let again = c.call_tool("ide_agents_run_command", json!({"command": "echo taken"}));
    assert_eq!(
        again["structuredContent"]["error"]["code"], "approval_required",
        "{again}"
    );
    assert_eq!(backend.hits("POST /command"), 1);

    let note = run_of_unknown_outcome(&mut d, &action_id);
    assert!(note.contains("no whole answer came back"), "{note}");
}

#[test]
fn a_cancelled_command_run_is_audited_as_possibly_run() {
    let backend = common::Backend::start();
    let mut d = written_on_stop(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    let mut c = d.client();
    let action_id = approve_command(&mut c, "echo slow");
    backend.faults(json!({"hang": true, "paths": ["/command"]}));
    c.request(
        json!("run"),
        "tools/call",
        json!({"name": "ide_agents_run_command", "arguments": {"command": "echo slow"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    backend.wait_for("the run to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    c.notify("notifications/cancelled", json!({"requestId": "run"}));
    backend.wait_for("the backend to see the run dropped", |s| {
        s["dropped"].as_u64() == Some(1)
    });

    let note = run_of_unknown_outcome(&mut d, &action_id);
    assert!(note.contains("cancelled"), "{note}");
}

#[test]
fn an_approval_longer_than_a_year_is_refused_and_the_daemon_serves_on() {
    let d = common::daemon().env("IDE_AGENTS_WORKERS", "1").start();
    let mut c = d.client();
    let action_id = ask_approval(&mut c, "date");
    for ttl in [1e20, 1e19, 31_536_001.0] {
        let r = c.call_modern(
            "ide-agents/approvals/approve",
            json!({ "action_id": action_id, "ttl_seconds": ttl }),
        );
        assert_eq!(r["error"]["code"], -32602, "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most a year"),
            "{r}"
        );
    }
    // Still pending, and the worker still answers.
    let ok = c.call_modern(
        "ide-agents/approvals/approve",
        json!({ "action_id": action_id, "ttl_seconds": 0.5 }),
    );
    assert_eq!(ok["result"]["approved"], true, "{ok}");
    assert_eq!(ok["result"]["ttl_seconds"], 0.5, "{ok}");
}

#[test]
fn a_flood_of_refused_calls_is_audited_as_counts_not_a_line_each() {
    let d = limited("1").start();
    let mut c = d.client();
    assert_eq!(
        c.call_tool("ide_agents_healthz", json!({}))["isError"],
        false
    );
    let started = std::time::Instant::now();
    for _ in 0..500 {
        let r = c.call_tool("ide_agents_healthz", json!({}));
        assert_eq!(r["structuredContent"]["error"]["code"], "rate_limited");
    }
    let seconds = started.elapsed().as_secs();
    // The first refusal is audited at once.
    wait_until("the first rate_limited entry", || {
        !of_type(&json_lines(&audit_file(&d)), "rate_limited").is_empty()
    });
    assert_eq!(
        of_type(&json_lines(&audit_file(&d)), "rate_limited")[0]["refused"],
        1
    );
    // The rest are counted within a second or so, the connection still open.
    let refused = || -> u64 {
        of_type(&json_lines(&audit_file(&d)), "rate_limited")
            .iter()
            .map(|e| e["refused"].as_u64().unwrap())
            .sum()
    };
    wait_until("every refusal counted", || refused() == 500);
    let events = of_type(&json_lines(&audit_file(&d)), "rate_limited").len() as u64;
    // One at the first refusal, then at most one a second.
    assert!(events <= seconds + 3, "{events} events in {seconds} s");
    drop(c);
}
