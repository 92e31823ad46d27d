//! The client subcommands: `connect` (the stdio bridge) and `call`.

mod common;

use common::{BIN, daemon};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn connect_bridges_stdio_byte_exactly_and_drains_after_stdin_eof() {
    let d = daemon().start();
    let mut child = Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(&d.socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    input.push_str(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}).to_string());
    input.push('\n');
    input.push_str("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    for i in 2..22 {
        input.push_str(&json!({"jsonrpc":"2.0","id":i,"method":"tools/call","params":{"name":"ide_agents_healthz"}}).to_string());
        input.push('\n');
    }
    // Everything, then EOF: the bridge half-closes and still delivers every answer.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with('\n'));
    let replies: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replies.len(), 21);
    let mut ids: Vec<i64> = replies.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..22).collect::<Vec<_>>());
}

#[test]
fn connect_without_a_daemon_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.sock");
    let out = Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&path.display().to_string()) && err.contains("ide-agentsd serve"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn call_prints_the_structured_result_and_exits_by_outcome() {
    let d = daemon().start();
    let out = Command::new(BIN)
        .args(["call", "ide_agents_healthz", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "live");

    let out = Command::new(BIN)
        .args(["call", "ide_agents_healthz", "--arg", "bogus=1", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "invalid_arguments");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["call", "ide_agents_healthz", "--socket"])
        .arg(dir.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}
