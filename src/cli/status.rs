//! `ide-agentsd status [--json]`: the daemon's state through the `ide-agents/status` control
//! method, as a table for people or one JSON object for scripts.
//! Exit codes: 0 ok, 1 error, 3 not reachable, 4 reachable but degraded.

use super::client::{
    CONTROL_TIMEOUT, Client, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, timeout_or, unreachable_message,
};
use super::terminal::outln;
use serde_json::{Value, json};
use std::fmt::Write;
use std::path::Path;

pub const EXIT_DEGRADED: i32 = 4;

pub fn run(path: &Path, as_json: bool) -> i32 {
    let mut client = match Client::connect(path, timeout_or(CONTROL_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", unreachable_message(path, &e));
            return EXIT_UNREACHABLE;
        }
    };
    let status = match client.request("ide-agents/status", json!({})) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ide-agentsd status: {e}");
            return EXIT_ERROR;
        }
    };
    if as_json {
        outln!("{status}");
    } else {
        // Names and commands in the report come from clients.
        super::terminal::write_out(format_args!(
            "{}",
            crate::visible::visible(&render(&status))
        ));
    }
    if status["degraded"] == json!(true) {
        EXIT_DEGRADED
    } else {
        EXIT_OK
    }
}

fn duration(secs: f64) -> String {
    let s = secs as u64;
    match (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60) {
        (0, 0, 0, sec) => format!("{sec}s"),
        (0, 0, m, sec) => format!("{m}m{sec:02}s"),
        (0, h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
        (d, h, m, _) => format!("{d}d{h:02}h{m:02}m"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A component section as `key value, …`; "not available" until its component fills it.
fn section(v: &Value) -> String {
    match v.as_object() {
        Some(map) if map.get("available") == Some(&Value::Bool(false)) => "not available".into(),
        Some(map) if map.is_empty() => "-".into(),
        // Nested sections (another service's breaker) get lines of their own.
        Some(map) => map
            .iter()
            .filter(|(_, v)| !v.is_object())
            .map(|(k, v)| format!("{k} {}", text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        None => text(v),
    }
}

/// A `{name: {calls, errors, p50_ms, p99_ms}}` table.
fn timings(out: &mut String, title: &str, v: &Value) {
    let Some(map) = v.as_object() else { return };
    let width = map
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(title.len());
    let _ = writeln!(
        out,
        "{title:<width$}  {:>8}  {:>6}  {:>9}  {:>9}",
        "calls", "errors", "p50 ms", "p99 ms"
    );
    if map.is_empty() {
        let _ = writeln!(out, "  (none yet)");
    }
    for (name, t) in map {
        let _ = writeln!(
            out,
            "{name:<width$}  {:>8}  {:>6}  {:>9.3}  {:>9.3}",
            t["calls"].as_u64().unwrap_or(0),
            t["errors"].as_u64().unwrap_or(0),
            t["p50_ms"].as_f64().unwrap_or(0.0),
            t["p99_ms"].as_f64().unwrap_or(0.0),
        );
    }
}

/// The human-readable report.
pub fn render(s: &Value) -> String {
    let mut out = String::new();
    let state = if s["degraded"] == json!(true) {
        let reasons: Vec<String> = s["degraded_reasons"]
            .as_array()
            .map(|r| r.iter().map(text).collect())
            .unwrap_or_default();
        format!("DEGRADED: {}", reasons.join("; "))
    } else {
        "ok".into()
    };
    let versions: Vec<String> = ["legacy", "modern"]
        .iter()
        .flat_map(|k| {
            s["protocol_versions"][k]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|v| text(&v))
        .collect();
    let t = &s["telemetry"];
    let groups = &s["tool_groups"];
    let onoff = |v: &Value| if v == &json!(true) { "on" } else { "off" };
    let ml = if groups["ml"]["loaded"] == json!(true) {
        "loaded"
    } else {
        "not loaded"
    };
    let mut rows = vec![
        ("state", state),
        (
            "daemon",
            format!(
                "ide-agentsd {}, pid {}, up {}, {} workers",
                text(&s["version"]),
                text(&s["pid"]),
                duration(s["uptime_seconds"].as_f64().unwrap_or(0.0)),
                text(&s["workers"])
            ),
        ),
        ("socket", text(&s["socket"])),
        ("protocols", versions.join(", ")),
        (
            "connections",
            format!(
                "{} open, {} total",
                text(&s["connections"]["open"]),
                text(&s["connections"]["total"])
            ),
        ),
        (
            "tool calls",
            format!(
                "{} total, {} ok, {} failed",
                text(&s["tool_calls"]["total"]),
                text(&s["tool_calls"]["success"]),
                text(&s["tool_calls"]["failure"])
            ),
        ),
        (
            "tool groups",
            format!(
                "core on, github on, ultra {}, ml {ml}",
                onoff(&groups["ultra"])
            ),
        ),
        (
            "telemetry",
            format!(
                "spans {}: {} written, {} buffered, {} queued, {} dropped; audit {} written, {} dropped; last flush {}",
                if t["enabled"] == json!(true) {
                    "on"
                } else {
                    "off"
                },
                text(&t["written"]),
                text(&t["buffered"]),
                text(&t["queued"]),
                text(&t["dropped"]),
                text(&t["audit_written"]),
                text(&t["audit_dropped"]),
                text(&t["last_flush"]),
            ),
        ),
        ("span file", text(&t["file"])),
        ("backend", section(&s["backend"])),
        ("breaker", section(&s["breaker"])),
        ("pool", section(&s["pool"])),
        ("cache", section(&s["cache"])),
        ("approvals", section(&s["pending_approvals"])),
    ];
    // The breakers of GitHub and of the ULTRA URL, each on a line under the backend's.
    if let Some(at) = rows.iter().position(|(k, _)| *k == "breaker") {
        for (label, name) in [("  ultra", "ultra"), ("  github", "github")] {
            if let Some(b) = s["breaker"].get(name) {
                rows.insert(at + 1, (label, section(b)));
            }
        }
    }
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<12} {v}");
    }
    out.push('\n');
    timings(&mut out, "method", &s["requests"]);
    out.push('\n');
    timings(&mut out, "tool", &s["tools"]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_part_readably() {
        let s = json!({
            "version": "0.1.0", "pid": 42, "uptime_seconds": 3723.5, "workers": 2,
            "socket": "/run/x.sock",
            "protocol_versions": {"legacy": ["2025-06-18"], "modern": ["2026-07-28"]},
            "connections": {"open": 1, "total": 9},
            "tool_calls": {"total": 3, "success": 2, "failure": 1},
            "requests": {"tools/call": {"calls": 3, "errors": 0, "p50_ms": 0.05, "p99_ms": 1.5}},
            "tools": {"ide_agents_healthz": {"calls": 3, "errors": 1, "p50_ms": 0.05, "p99_ms": 1.5}},
            "telemetry": {"enabled": true, "written": 0, "buffered": 3, "dropped": 2,
                          "audit_written": 0, "audit_dropped": 0, "last_flush": null,
                          "file": "/l/mcp_tool_spans.jsonl"},
            "tool_groups": {"core": true, "github": true, "ultra": false,
                            "ml": {"enabled": false, "loaded": false}},
            "backend": {"available": false},
            "breaker": {"state": "closed", "github": {"state": "open", "open_remaining_s": 3.5}},
            "pool": {"available": false}, "cache": {"available": false},
            "pending_approvals": {"available": false},
            "degraded": true, "degraded_reasons": ["2 telemetry span(s) dropped"],
        });
        let out = render(&s);
        assert!(
            out.contains("DEGRADED: 2 telemetry span(s) dropped"),
            "{out}"
        );
        assert!(out.contains("up 1h02m03s, 2 workers"), "{out}");
        assert!(out.contains("2025-06-18, 2026-07-28"), "{out}");
        assert!(out.contains("1 open, 9 total"), "{out}");
        assert!(out.contains("breaker      state closed\n"), "{out}");
        assert!(
            out.contains("  github     open_remaining_s 3.5, state open"),
            "{out}"
        );
        assert!(out.contains("cache        not available"), "{out}");
        assert!(
            out.contains("ide_agents_healthz         3       1      0.050      1.500"),
            "{out}"
        );
    }
}
