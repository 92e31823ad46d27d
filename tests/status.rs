//! `ide-agentsd status` and `ide_agents_metrics_snapshot`: what the daemon reports about its
//! own traffic, gathered from every worker.

mod common;

use common::{BIN, Backend, daemon, daemon_for};
use serde_json::{Value, json};
use std::process::Command;

#[test]
fn status_json_counts_the_calls_made_on_every_worker() {
    // A backend that answers: without one the daemon is (rightly) degraded.
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    // Round robin: these connections land on both workers.
    let mut clients: Vec<_> = (0..4).map(|_| d.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        for _ in 0..=i {
            c.call_tool("ide_agents_healthz", json!({}));
        }
    }
    clients[0].call_tool("ide_agents_health", json!({}));
    clients[1].call_tool("ide_agents_nope", json!({}));
    clients[2].call_modern("tools/list", json!({}));

    let out = Command::new(BIN)
        .args(["status", "--json", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["pid"], d.pid());
    assert_eq!(s["workers"], 2);
    assert_eq!(s["socket"], d.socket.display().to_string());
    assert_eq!(s["protocol_versions"]["modern"], json!(["2026-07-28"]));
    assert_eq!(s["connections"]["open"], 5, "4 clients and status itself");
    assert_eq!(s["connections"]["total"], 5);
    assert_eq!(s["tools"]["ide_agents_healthz"]["calls"], 10);
    assert_eq!(s["tools"]["ide_agents_healthz"]["errors"], 0);
    assert_eq!(s["tools"]["ide_agents_health"]["calls"], 1);
    assert!(s["tools"]["ide_agents_healthz"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(s["tools"].get("ide_agents_nope").is_none());
    assert_eq!(
        s["tool_calls"],
        json!({"total": 12, "success": 11, "failure": 1})
    );
    assert_eq!(s["requests"]["tools/call"]["calls"], 12);
    assert_eq!(s["requests"]["tools/list"]["calls"], 1);
    assert_eq!(s["degraded"], false);
    assert_eq!(s["tool_groups"]["ml"]["loaded"], false);
    assert!(
        s["telemetry"]["file"]
            .as_str()
            .unwrap()
            .ends_with("logs/mcp_tool_spans.jsonl")
    );
    assert_eq!(s["backend"]["url"], backend.url);
    assert_eq!(s["breaker"]["state"], "closed");
    assert_eq!(s["pending_approvals"]["count"], 0);
    for (section, key) in [("cache", "hits"), ("pool", "in_flight")] {
        assert!(s[section][key].is_u64(), "{section}.{key}: {s}");
    }

    // The table names the same things for people.
    let out = Command::new(BIN)
        .args(["status", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("state        ok"), "{table}");
    assert!(table.contains("ide_agents_healthz"), "{table}");
    assert!(table.contains("12 total, 11 ok, 1 failed"), "{table}");
}

#[test]
fn metrics_snapshot_reports_all_workers() {
    let d = daemon().start();
    let mut a = d.client();
    let mut b = d.client();
    for _ in 0..3 {
        a.call_tool("ide_agents_healthz", json!({}));
        b.call_tool("ide_agents_healthz", json!({}));
    }
    b.call_tool("ide_agents_healthz", json!({"bad": 1}));
    let r = a.call_tool("ide_agents_metrics_snapshot", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    let m = &r["structuredContent"];
    assert_eq!(m["tool_calls_total"], 7, "{m}");
    assert_eq!(m["tool_calls_success"], 6);
    assert_eq!(m["tool_calls_failure"], 1);
    let h = &m["per_tool"]["ide_agents_healthz"];
    assert_eq!(
        (h["calls"].as_u64(), h["errors"].as_u64()),
        (Some(7), Some(1))
    );
    assert!(h["p50_ms"].as_f64().unwrap() <= h["p99_ms"].as_f64().unwrap());
    assert!((m["success_rate"].as_f64().unwrap() - 6.0 / 7.0).abs() < 1e-9);
    assert!(m["uptime_seconds"].as_f64().unwrap() >= 0.0);
    for section in ["breaker", "cache", "pool"] {
        assert!(m[section].is_object(), "{section}: {m}");
    }
}

#[test]
fn status_without_a_daemon_exits_3_naming_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nobody.sock");
    let out = Command::new(BIN)
        .args(["status", "--socket"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn status_is_degraded_with_exit_4_while_the_backend_is_down() {
    // A loopback port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = daemon()
        .env("IDE_AGENTS_BACKEND_URL", format!("http://127.0.0.1:{port}"))
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "0.1")
        .start();
    let status = || d.status_json();
    common::wait_until("the health probe to find the backend down", || {
        status().1["backend"]["ok"] == false
    });
    let (code, s) = status();
    assert_eq!(code, Some(4), "{s}");
    assert_eq!(s["degraded"], true);
    assert!(
        s["degraded_reasons"][0]
            .as_str()
            .unwrap()
            .contains("is down"),
        "{s}"
    );
}

#[test]
fn status_counts_the_methods_the_session_answers_itself() {
    let d = daemon().start();
    let mut c = d.initialized_client();
    let again = c.call("initialize", json!({"protocolVersion": "2025-06-18"}));
    assert!(again.get("error").is_some(), "{again}");
    for _ in 0..3 {
        c.call("ping", json!({}));
    }
    c.call_modern("server/discover", json!({}));
    c.call("logging/setLevel", json!({"level": "info"}));
    let bad = c.call("logging/setLevel", json!({"level": "loud"}));
    assert!(bad.get("error").is_some(), "{bad}");
    let unknown = c.call("resources/subscribe", json!({"uri": "ide-agents://nope"}));
    assert!(unknown.get("error").is_some(), "{unknown}");

    let (_, s) = d.status_json();
    let r = &s["requests"];
    let count = |m: &str| (r[m]["calls"].as_u64(), r[m]["errors"].as_u64());
    assert_eq!(count("initialize"), (Some(2), Some(1)), "{r}");
    assert_eq!(count("ping"), (Some(3), Some(0)), "{r}");
    assert_eq!(count("server/discover"), (Some(1), Some(0)), "{r}");
    assert_eq!(count("logging/setLevel"), (Some(2), Some(1)), "{r}");
    assert_eq!(count("resources/subscribe"), (Some(1), Some(1)), "{r}");
}
