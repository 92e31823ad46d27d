//! The client subcommands: `connect` (the stdio bridge) and `call`.

mod common;

use common::{BIN, Backend, daemon, daemon_for};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

/// `ide-agentsd connect` on `socket`, its stdio piped to the test.
fn spawn_connect(socket: &std::path::Path) -> std::process::Child {
    Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn connect_bridges_stdio_byte_exactly_and_drains_after_stdin_eof() {
    let d = daemon().start();
    let mut child = spawn_connect(&d.socket);
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
fn connect_reports_a_daemon_that_goes_away_while_the_ide_is_still_talking() {
    use std::io::BufRead;
    let mut d = daemon().start();
    let mut child = spawn_connect(&d.socket);
    let mut stdin = child.stdin.take().unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    writeln!(stdin, "{ping}").unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap()["id"],
        1,
        "{line}"
    );
    // The daemon stops while stdin is still open.
    d.signal(libc::SIGTERM);
    d.wait_exit();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("closed the connection"), "{err}");
    drop(stdin);
}

#[test]
fn connect_hangs_up_for_an_ide_that_went_away_so_its_calls_are_dropped() {
    use std::io::BufRead;
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut child = spawn_connect(&d.socket);
    let mut stdin = child.stdin.take().unwrap();
    let slow = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
    writeln!(stdin, "{slow}").unwrap();
    backend.wait_for("the call to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    // The IDE dies: both its ends close. A half-close alone would keep the call running
    // until the backend answered, for nobody.
    drop(std::io::BufReader::new(child.stdout.take().unwrap()).lines());
    drop(stdin);
    backend.wait_for("the backend to see the call dropped", |s| {
        s["dropped"].as_u64() == Some(1)
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("nothing reads stdout"), "{err}");
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

#[test]
fn client_commands_give_up_on_a_daemon_that_does_not_answer() {
    let d = daemon().start();
    d.signal(libc::SIGSTOP);
    for args in [vec!["status"], vec!["call", "ide_agents_healthz"]] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--socket")
            .arg(&d.socket)
            .env("IDE_AGENTS_CLIENT_TIMEOUT_SECS", "0.3")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("did not answer within 0.3 s"),
            "{args:?}: {err}"
        );
    }
    d.signal(libc::SIGCONT);
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

#[test]
fn connect_says_so_when_reading_stdin_fails() {
    let d = daemon().start();
    // Reading a directory fails (EISDIR): stdin breaks while the daemon is fine.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(&d.socket)
        .stdin(std::fs::File::open(dir.path()).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("reading stdin failed"), "{err}");
    assert!(!err.contains("closed the connection"), "{err}");
}

#[test]
fn client_settings_from_the_environment_are_checked_or_fall_back_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    // A malformed client timeout is a usage error naming the variable, not a silent 10 s.
    for bad in ["abc", "-1", "0", "2s", "1e300"] {
        let out = Command::new(BIN)
            .args(["status", "--socket"])
            .arg(dir.path().join("none.sock"))
            .env("IDE_AGENTS_CLIENT_TIMEOUT_SECS", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("IDE_AGENTS_CLIENT_TIMEOUT_SECS"),
            "{bad:?}: {err}"
        );
    }
    // An empty IDE_AGENTS_SOCKET is unset, as for `serve`: the default path is tried.
    let out = Command::new(BIN)
        .arg("status")
        .env("IDE_AGENTS_SOCKET", "")
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let default = dir.path().join("ide-agents/mcp.sock");
    assert!(err.contains(&*default.to_string_lossy()), "{err}");
}
