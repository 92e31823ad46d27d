//! Stopping and reloading: draining on SIGTERM, reload on SIGHUP, the `stop`/`reload`
//! control methods and their CLI subcommands.

mod common;

use common::{BIN, Client, IO_TIMEOUT, daemon};
use serde_json::{Value, json};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Bytes this end wrote that the daemon has not read yet (`SIOCOUTQ`).
fn unread_by_peer(client: &Client) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int for a socket we own.
    let rc = unsafe { libc::ioctl(client.stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    assert_eq!(rc, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
    n
}

/// Waits until the daemon has read everything sent on `client`. With at most 15 lines
/// outstanding, the session handles every line of its last read before it yields (actix
/// handles up to 16 stream items per poll), so they are all dispatched before any stop.
fn wait_until_read(client: &Client) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while unread_by_peer(client) > 0 {
        assert!(Instant::now() < deadline, "the daemon did not read");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until `needle` is in the bytes received on `client`, without consuming them.
fn wait_until_received(client: &Client, needle: &str) {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        // SAFETY: peeking into a buffer we own, of the length given.
        let n = unsafe {
            libc::recv(
                client.stream.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n > 0 && String::from_utf8_lossy(&buf[..n as usize]).contains(needle) {
            return;
        }
        assert!(Instant::now() < deadline, "never received {needle:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn modern(id: Value, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn healthz(id: i64) -> Value {
    modern(
        json!(id),
        "tools/call",
        json!({"name": "ide_agents_healthz", "arguments": {}}),
    )
}

/// Every message until the daemon closes the connection.
fn read_to_end(client: &mut Client) -> Vec<Value> {
    std::iter::from_fn(|| client.read()).collect()
}

/// Every message until the daemon closes the connection, reading with our own buffer. A
/// request left unread by the daemon makes the kernel end the stream with a reset, not EOF.
fn read_until_closed(client: &Client) -> Vec<Value> {
    let mut reader = std::io::BufReader::new(client.stream.try_clone().unwrap());
    let mut out = Vec::new();
    loop {
        let mut line = String::new();
        match std::io::BufRead::read_line(&mut reader, &mut line) {
            Ok(0) => return out,
            Ok(_) => out.push(serde_json::from_str(&line).unwrap()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("read from daemon: {e}"),
        }
    }
}

#[test]
fn sigterm_answers_every_request_read_then_exits_0_and_removes_the_socket() {
    let mut d = daemon().start();
    let mut c = d.client();
    for id in 1..=20 {
        c.send(&healthz(id));
    }
    // The ping is answered when the session reads it, so once its answer arrives all 20
    // requests before it have been read. Their answers are not read by us yet.
    c.request(json!("sync"), "ping", json!({}));
    wait_until_received(&c, "\"sync\"");
    d.signal(libc::SIGTERM);
    let replies = read_to_end(&mut c);
    let mut ids: Vec<i64> = replies.iter().filter_map(|r| r["id"].as_i64()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>(), "{replies:?}");
    assert!(
        replies
            .iter()
            .filter(|r| r["id"].is_i64())
            .all(|r| r["result"]["structuredContent"]["status"] == "live")
    );
    assert_eq!(d.wait_exit().code(), Some(0));
    assert!(!d.socket.exists(), "socket file left behind");
    d.wait_for_log("draining 1 connection");
}

#[test]
fn draining_delivers_unread_answers_and_reads_no_new_requests() {
    let mut d = daemon().start();
    let mut c = d.client();
    // Unknown-tool answers quote the name: three ~300 KB answers are more than the socket
    // buffers hold, so the daemon is still writing them while it drains.
    let name = "x".repeat(300_000);
    for id in 1..=3 {
        c.send(&modern(
            json!(id),
            "tools/call",
            json!({"name": name, "arguments": {}}),
        ));
    }
    wait_until_read(&c);
    d.signal(libc::SIGTERM);
    // Logged once every session has stopped reading.
    d.wait_for_log("draining 1 connection");
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "exited before writing"
    );
    // Not read any more: never answered (the write itself may fail once the daemon closes).
    let _ = c.stream.write_all(format!("{}\n", healthz(4)).as_bytes());
    let replies = read_until_closed(&c);
    let ids: Vec<&Value> = replies.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2), &json!(3)]);
    for r in &replies {
        assert_eq!(r["result"]["isError"], true);
        assert_eq!(
            r["result"]["structuredContent"]["error"]["code"],
            "unknown_tool"
        );
    }
    assert_eq!(d.wait_exit().code(), Some(0));
}

#[test]
fn the_grace_period_bounds_the_drain() {
    let mut d = daemon()
        .env("IDE_AGENTS_SHUTDOWN_GRACE_SECS", "0.2")
        .start();
    let mut c = d.client();
    // Answers the client never reads keep the connection draining.
    let name = "y".repeat(300_000);
    for id in 1..=3 {
        c.send(&modern(
            json!(id),
            "tools/call",
            json!({"name": name, "arguments": {}}),
        ));
    }
    wait_until_read(&c);
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    d.wait_for_log("ended with requests in flight");
    assert!(!d.socket.exists());
}

#[test]
fn a_telemetry_writer_stuck_in_the_filesystem_is_reported_and_does_not_keep_the_daemon_from_exiting()
 {
    // A FIFO nobody reads stands in for a hung filesystem: opening it for writing blocks.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let fifo = std::ffi::CString::new(
        dir.path()
            .join("logs/mcp_tool_spans.jsonl")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let mut d = daemon()
        .dir(dir)
        .env("IDE_AGENTS_TELEMETRY_BATCH", "1")
        .env("IDE_AGENTS_SHUTDOWN_GRACE_SECS", "0.5")
        .start();
    // Requests never wait on the writer.
    let r = d.client().call_tool("ide_agents_healthz", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    // `status` says so once a write has taken 5 s.
    let mut reasons = Value::Null;
    common::wait_until("status names the stuck writer", || {
        let (code, status) = d.status_json();
        reasons = status["degraded_reasons"].clone();
        code == Some(4)
            && reasons
                .to_string()
                .contains("telemetry writer has been in one write")
    });
    assert!(reasons.to_string().contains("span(s) waiting"), "{reasons}");
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    let said = d.wait_for_log("the telemetry writer did not finish within");
    assert!(said.contains("not written"), "{said}");
    assert!(!d.socket.exists());
}

#[test]
fn calls_the_grace_cuts_off_are_answered_with_an_error_and_leave_a_span() {
    let backend = common::Backend::start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut d = common::daemon_for(&backend)
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .env("IDE_AGENTS_SHUTDOWN_GRACE_SECS", "0.3")
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    let mut c = d.client();
    slow_calls_in_flight(&mut c, &backend, 3);
    d.signal(libc::SIGTERM);
    let replies = read_to_end(&mut c);
    assert_eq!(replies.len(), 3, "{replies:?}");
    for r in &replies {
        assert_eq!(r["error"]["code"], -32603, "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("shutdown grace"),
            "{r}"
        );
    }
    assert_eq!(d.wait_exit().code(), Some(0));
    backend.wait_for("the backend to see the calls dropped", |s| {
        s["dropped"].as_u64() == Some(3)
    });
    let spans = common::json_lines(&d.dir.path().join("logs/mcp_tool_spans.jsonl"));
    assert_eq!(spans.len(), 3, "{spans:?}");
    for s in &spans {
        assert_eq!(s["tool_name"], "ide_agents_fetch_doc");
        assert_eq!(s["success"], false);
        assert_eq!(s["error_code"], "cancelled", "{s}");
    }
}

/// Sends `n` `ide_agents_fetch_doc` calls on `c` and waits until all of them are at the
/// (slowed) backend.
fn slow_calls_in_flight(c: &mut Client, backend: &common::Backend, n: u64) {
    for id in 1..=n {
        c.send(&modern(
            json!(id),
            "tools/call",
            json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "getting-started"}}),
        ));
    }
    backend.wait_for(&format!("{n} calls in flight at the backend"), |s| {
        s["in_flight"].as_u64() == Some(n)
    });
}

#[test]
fn sighup_reloads_while_slow_backend_calls_are_in_flight_and_all_of_them_succeed() {
    let backend = common::Backend::start();
    backend.faults(json!({"latency_ms": 300, "paths": ["/documentation"]}));
    let mut d = common::daemon_for(&backend)
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut c = d.client();
    slow_calls_in_flight(&mut c, &backend, 10);
    d.signal(libc::SIGHUP);
    // Right after the signal, racing the reload: a new connection is served.
    let r = d.client().call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    let line = d.wait_for_log("reloaded");
    assert!(line.contains("2 workers"), "{line}");
    let mut ids = Vec::new();
    for _ in 1..=10 {
        let r = c.read().expect("an answer for every call in flight");
        assert_eq!(r["result"]["isError"], false, "{r}");
        assert_eq!(
            r["result"]["structuredContent"]["documentation"]["topic"],
            "getting-started"
        );
        ids.push(r["id"].as_i64().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    assert_eq!(
        backend.hits("GET /documentation"),
        10,
        "none was sent twice"
    );
    // The same connection is served after the reload too.
    let r = c.call_tool("ide_agents_fetch_doc", json!({"topic": "getting-started"}));
    assert_eq!(r["isError"], false, "{r}");
    assert!(d.child.try_wait().unwrap().is_none());
}

#[test]
fn sighup_clears_the_cache() {
    let backend = common::Backend::start();
    let mut d = common::daemon_for(&backend).start();
    let mut c = d.client();
    for _ in 0..2 {
        let r = c.call_tool("ide_agents_list_entities", json!({}));
        assert_eq!(r["isError"], false, "{r}");
    }
    assert_eq!(
        backend.hits("GET /entities/mappings"),
        1,
        "the second was cached"
    );
    d.signal(libc::SIGHUP);
    d.wait_for_log("reloaded");
    // The same connection, and a new one, are served after the reload, from a cleared cache.
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(
        backend.hits("GET /entities/mappings"),
        2,
        "the reload cleared the cache"
    );
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

#[test]
fn control_methods_reload_and_stop() {
    let mut d = daemon().start();
    let mut c = d.client();
    let r = c.call_modern("ide-agents/reload", json!({}));
    assert_eq!(r["result"]["reloaded"], true, "{r}");
    assert_eq!(r["result"]["workers"], 2, "{r}");
    d.wait_for_log("reloaded");
    let r = c.call_modern("ide-agents/stop", json!({}));
    assert_eq!(r["result"]["stopping"], true, "{r}");
    assert_eq!(r["result"]["pid"], d.pid(), "{r}");
    // The stopping daemon closes this connection once its answers are written.
    assert!(c.read().is_none());
    assert_eq!(d.wait_exit().code(), Some(0));
    assert!(!d.socket.exists());
}

#[test]
fn cli_stop_and_reload() {
    let mut d = daemon().start();
    let run = |cmd: &str, socket: &Path| {
        Command::new(BIN)
            .args([cmd, "--socket"])
            .arg(socket)
            .env_remove("IDE_AGENTS_SOCKET")
            .output()
            .unwrap()
    };
    let out = run("reload", &d.socket);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ide-agentsd reloaded (2 workers)"
    );
    let out = run("stop", &d.socket);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // `stop` returns once the daemon has exited (here a zombie until this test reaps it):
    // its socket is gone, so `stop && serve` restarts.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("(pid {}) stopped", d.pid())),
        "{out:?}"
    );
    assert!(!d.socket.exists());
    assert_eq!(d.wait_exit().code(), Some(0));
    for cmd in ["stop", "reload"] {
        let out = run(cmd, &d.socket);
        assert_eq!(out.status.code(), Some(3), "{cmd}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot reach the daemon at"), "{err}");
        assert!(err.contains(&d.socket.display().to_string()), "{err}");
    }
}

#[test]
fn sigint_drains_like_sigterm() {
    let mut d = daemon().start();
    let mut c = d.client();
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
    d.signal(libc::SIGINT);
    assert!(c.read().is_none(), "the idle connection is closed");
    assert_eq!(d.wait_exit().code(), Some(0));
    assert!(!d.socket.exists());
    d.wait_for_log("draining 1 connection");
}

#[test]
fn sigterm_with_20_slow_backend_calls_in_flight_answers_all_and_writes_every_span() {
    let backend = common::Backend::start();
    backend.faults(json!({"latency_ms": 300, "paths": ["/documentation"]}));
    let mut d = common::daemon_for(&backend)
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut c = d.client();
    slow_calls_in_flight(&mut c, &backend, 20);
    d.signal(libc::SIGTERM);
    let replies = read_to_end(&mut c);
    assert_eq!(replies.len(), 20, "{replies:?}");
    for r in &replies {
        assert_eq!(r["result"]["isError"], false, "{r}");
    }
    assert_eq!(d.wait_exit().code(), Some(0));
    let spans = common::json_lines(&d.dir.path().join("logs/mcp_tool_spans.jsonl"));
    assert_eq!(spans.len(), 20);
    assert!(
        spans
            .iter()
            .all(|s| s["tool_name"] == "ide_agents_fetch_doc" && s["success"] == true)
    );
}

/// One client of the stop-under-load test: batches of `batch` pipelined healthz calls in one
/// write each, until the daemon closes. Returns the ids answered with a result and those
/// answered with the stopping error.
fn batches_until_closed(socket: &Path, conn: i64, batch: i64, sent: &AtomicUsize) -> Answered {
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut answered = Answered::default();
    for round in 0.. {
        let first = conn * 1_000_000 + round * batch;
        let lines: String = (first..first + batch)
            .map(|id| format!("{}\n", healthz(id)))
            .collect();
        if stream.write_all(lines.as_bytes()).is_err() {
            return answered;
        }
        sent.fetch_add(1, Ordering::Relaxed);
        for _ in 0..batch {
            let mut line = String::new();
            match std::io::BufRead::read_line(&mut reader, &mut line) {
                Ok(0) => return answered,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return answered,
                Err(e) => panic!("read from daemon: {e}"),
            }
            let r: Value = serde_json::from_str(&line).unwrap();
            let id = r["id"].as_i64().unwrap_or_else(|| panic!("{r}"));
            if r["result"]["structuredContent"]["status"] == "live" {
                answered.results.push(id);
            } else {
                let message = r["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains("reads no new requests"), "{r}");
                answered.refused.push(id);
            }
        }
    }
    unreachable!()
}

#[derive(Default)]
struct Answered {
    results: Vec<i64>,
    refused: Vec<i64>,
}

#[test]
fn sigterm_under_load_leaves_no_call_that_ran_unanswered() {
    // Batches longer than the 16 lines a session handles per poll, so the stop often
    // reaches a session whose reader still holds lines it read.
    const CONNS: i64 = 16;
    const BATCH: i64 = 40;
    let mut d = daemon()
        .env("IDE_AGENTS_RATE_PER_SEC", "0")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let sent = std::sync::Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CONNS)
        .map(|conn| {
            let (socket, sent) = (d.socket.clone(), sent.clone());
            std::thread::spawn(move || batches_until_closed(&socket, conn, BATCH, &sent))
        })
        .collect();
    common::wait_until("a few batches from every client", || {
        sent.load(Ordering::Relaxed) >= 4 * CONNS as usize
    });
    d.signal(libc::SIGTERM);
    let answered: Vec<Answered> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(d.wait_exit().code(), Some(0));

    let results: std::collections::HashSet<i64> = answered
        .iter()
        .flat_map(|a| a.results.iter().copied())
        .collect();
    let refused: std::collections::HashSet<i64> = answered
        .iter()
        .flat_map(|a| a.refused.iter().copied())
        .collect();
    let spans = common::json_lines(&d.dir.path().join("logs/mcp_tool_spans.jsonl"));
    let ran: std::collections::HashSet<i64> = spans
        .iter()
        .map(|s| s["extra"]["request_id"].as_i64().unwrap())
        .collect();
    let unanswered: Vec<&i64> = ran.difference(&results).collect();
    assert!(
        unanswered.is_empty(),
        "ran but never answered: {unanswered:?}"
    );
    assert_eq!(ran.len(), results.len(), "every result has its span");
    assert!(ran.is_disjoint(&refused), "a refused request never runs");
}

#[test]
fn a_stopping_daemon_takes_its_socket_away_at_once_so_new_clients_fail_fast() {
    let backend = common::Backend::start();
    backend.faults(json!({"latency_ms": 3000, "paths": ["/documentation"]}));
    let mut d = common::daemon_for(&backend)
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut c = d.client();
    slow_calls_in_flight(&mut c, &backend, 1);
    d.signal(libc::SIGTERM);
    common::wait_until("the socket file to go", || !d.socket.exists());
    assert_eq!(
        backend.stats()["in_flight"],
        1,
        "the socket went while the call still drains, not at exit"
    );
    // While the call drains, a new client is told there is no daemon, without waiting.
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["status", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "status waited on a stopping daemon"
    );
    // The call that was in flight is still answered.
    let replies = read_to_end(&mut c);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["result"]["isError"], false, "{replies:?}");
    assert_eq!(d.wait_exit().code(), Some(0));
}
