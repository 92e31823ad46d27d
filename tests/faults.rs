//! The fault matrix: each way the agents backend can fail, injected with the reference
//! backend's fault switches. For every fault: the tool error a client gets, how many requests
//! reached the backend, that another connection is served while the faulty calls are in
//! flight, and that backend tools work again once the fault is cleared.
//!
//! The daemon runs one worker, so the other connection shares the worker thread, its backend
//! pool and its tool-group actors with the faulty calls: nothing can hide behind a second
//! thread. Caching is off so every call reaches the backend.

mod common;

use common::{Backend, Client, Daemon, daemon};
use serde_json::{Value, json};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const ENTITIES: &str = "GET /entities/mappings";
const COMMAND: &str = "POST /command";
/// Calls the other connection makes while the faulty ones are in flight.
const OTHER_CALLS: usize = 50;
const BUILD_LOG: &str = "fault matrix build log\n";

/// A one-worker daemon for `url` with short timeouts and backoff, caching off, a build log
/// to read, and `extra` settings on top.
fn matrix_daemon(url: &str, extra: &[(&str, &str)]) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("build.log"), BUILD_LOG).unwrap();
    daemon()
        .dir(dir)
        .env("IDE_AGENTS_BACKEND_URL", url)
        .env("IDE_AGENTS_WORKERS", "1")
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .env("IDE_AGENTS_REQUEST_TIMEOUT", "1")
        .env("IDE_AGENTS_RETRY_BACKOFF_BASE", "0.01")
        // Only the start-up probe: later ones would add requests and breaker noise.
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .env("IDE_AGENTS_AUTO_APPROVE", "echo ")
        .env("IDE_AGENTS_BUILD_LOG", "build.log")
        .envs(extra)
        .start()
}

fn error_code(result: &Value) -> &str {
    assert_eq!(result["isError"], true, "expected a tool error: {result}");
    result["structuredContent"]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {result}"))
}

fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "expected success: {result}");
    &result["structuredContent"]
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// Sends a stateless `tools/call` without waiting for its answer.
fn send_tool(c: &mut Client, id: i64, name: &str, arguments: Value) {
    c.request(
        json!(id),
        "tools/call",
        json!({"name": name, "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
}

/// The results of requests `1..=n`, indexed by id - 1, whatever order they are answered in.
fn results(c: &mut Client, n: usize) -> Vec<Value> {
    let mut out = vec![Value::Null; n];
    for _ in 0..n {
        let msg = c.read().expect("daemon closed the connection");
        let id = msg["id"].as_u64().unwrap_or_else(|| panic!("no id: {msg}")) as usize;
        assert!((1..=n).contains(&id) && out[id - 1].is_null(), "{msg}");
        out[id - 1] = msg["result"].clone();
    }
    out
}

/// True when the daemon has sent nothing on `c` that we have not read: its calls are
/// still in flight.
fn unanswered(c: &Client) -> bool {
    let mut byte = 0u8;
    // SAFETY: peeks at most one byte into a buffer we own, without blocking.
    let n = unsafe {
        libc::recv(
            c.stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    let would_block =
        n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
    c.reader.buffer().is_empty() && would_block
}

/// The daemon's own report (`ide-agents/status`), asked on `c`.
fn status(c: &mut Client) -> Value {
    let r = c.call_modern("ide-agents/status", json!({}));
    r.get("result").cloned().unwrap_or_else(|| panic!("{r}"))
}

/// A second connection gets every answer right: `OTHER_CALLS` liveness calls, a resource
/// read and a ping. Returns how long that took.
fn other_connection_is_served(d: &Daemon) -> Duration {
    let started = Instant::now();
    let mut b = d.client();
    for _ in 0..OTHER_CALLS {
        let r = b.call_tool("ide_agents_healthz", json!({}));
        assert_eq!(ok(&r)["status"], "live", "{r}");
    }
    let r = b.call_modern("resources/read", json!({"uri": "ide-agents://build.logs"}));
    assert_eq!(r["result"]["contents"][0]["text"], BUILD_LOG, "{r}");
    assert_eq!(b.call("ping", json!({}))["result"], json!({}));
    started.elapsed()
}

/// While `a`'s calls are in flight, another connection is served, and `a` is still waiting
/// once it has been: the faulty calls held up nobody but their own caller.
fn served_while_in_flight(d: &Daemon, a: &Client) {
    let took = other_connection_is_served(d);
    assert!(
        unanswered(a),
        "the faulty calls were answered before the other connection was served ({took:?})"
    );
}

/// After the fault is cleared, a backend tool on `c` reaches the backend and succeeds.
fn backend_tools_work_again(c: &mut Client, backend: &Backend) {
    let before = backend.hits(ENTITIES);
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert!(
        ok(&r)["entities"].as_array().is_some_and(|e| !e.is_empty()),
        "{r}"
    );
    assert_eq!(backend.hits(ENTITIES), before + 1);
}

/// A loopback URL with nothing listening on it (the port was free a moment ago).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn backend_down_retries_reads_then_answers_backend_unavailable_and_recovers_when_it_starts() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    // Backoff long enough (≥ 0.6 s over two retries) that the call is still retrying while
    // the other connection is served; the breaker stays out of the way.
    let d = matrix_daemon(
        &url,
        &[
            ("IDE_AGENTS_RETRY_BACKOFF_BASE", "0.25"),
            ("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "100"),
        ],
    );
    let mut a = d.client();
    let mut control = d.client();
    let started = Instant::now();
    send_tool(&mut a, 1, "ide_agents_list_entities", json!({}));
    common::wait_until("the call to be in the backend pool", || {
        status(&mut control)["pool"]["in_flight"] == 1
    });
    served_while_in_flight(&d, &a);

    let r = results(&mut a, 1).remove(0);
    assert_eq!(error_code(&r), "backend_unavailable");
    assert!(
        text(&r).contains(&url) && text(&r).contains("ide-agents-backend"),
        "{r}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let pool = &status(&mut control)["pool"];
    assert_eq!(pool["retries"], 2, "three attempts for a read: {pool}");
    assert_eq!(pool["in_flight"], 0, "{pool}");

    let backend = Backend::start_with(&["--port", &port.to_string()]);
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn a_slow_backend_below_the_timeout_answers_correctly_just_later() {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[("IDE_AGENTS_REQUEST_TIMEOUT", "3")]);
    let mut a = d.client();
    let expected = ok(&a.call_tool("ide_agents_list_entities", json!({}))).clone();
    let latency = Duration::from_millis(500);
    backend.faults(json!({"latency_ms": latency.as_millis() as u64, "paths": ["/entities"]}));

    let started = Instant::now();
    for id in 1..=3 {
        send_tool(&mut a, id, "ide_agents_list_entities", json!({}));
    }
    backend.wait_for("three slow calls in flight", |s| s["in_flight"] == 3);
    served_while_in_flight(&d, &a);

    for r in results(&mut a, 3) {
        assert_eq!(ok(&r), &expected);
    }
    let took = started.elapsed();
    assert!(
        took >= latency && took < Duration::from_secs(3),
        "took {took:?}"
    );
    assert_eq!(backend.hits(ENTITIES), 1 + 3, "each slow call sent once");

    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn a_hanging_backend_times_out_within_the_request_timeout_and_is_never_retried() {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[]);
    backend.faults(json!({"hang": true, "paths": ["/entities", "/command"]}));
    let mut a = d.client();
    let started = Instant::now();
    send_tool(&mut a, 1, "ide_agents_list_entities", json!({}));
    send_tool(
        &mut a,
        2,
        "ide_agents_run_command",
        json!({"command": "echo hung"}),
    );
    backend.wait_for("both calls hanging at the backend", |s| s["in_flight"] == 2);
    served_while_in_flight(&d, &a);

    let answers = results(&mut a, 2);
    let took = started.elapsed();
    for r in &answers {
        assert_eq!(error_code(r), "timeout");
        assert_eq!(r["structuredContent"]["error"]["timeout_s"], 1.0, "{r}");
        assert!(text(r).contains("IDE_AGENTS_REQUEST_TIMEOUT"), "{r}");
    }
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(1800),
        "IDE_AGENTS_REQUEST_TIMEOUT=1 but the calls took {took:?}"
    );
    // The daemon closes what it gave up on, and sends neither again.
    let stats = backend.wait_for("the backend to see both requests dropped", |s| {
        s["dropped"] == 2 && s["in_flight"] == 0
    });
    assert_eq!(
        stats["requests"][ENTITIES], 1,
        "a timed-out read is not retried"
    );
    assert_eq!(stats["requests"][COMMAND], 1, "a command is sent once");

    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn a_5xx_burst_shorter_than_the_retry_attempts_is_absorbed_by_retries() {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[("IDE_AGENTS_RETRY_ATTEMPTS", "3")]);
    let mut a = d.client();
    let expected = ok(&a.call_tool("ide_agents_list_entities", json!({}))).clone();
    // Rate 2/3 fails the 2nd and 3rd of every three requests: the first call below passes
    // at once, the second meets a burst of two 503s, one less than its three attempts. The
    // latency keeps the second call in flight (≥ 0.75 s) while the other connection is served.
    backend.faults(
        json!({"error_rate": 2.0 / 3.0, "status": 503, "latency_ms": 250,
        "paths": ["/entities"]}),
    );
    let first = a.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(ok(&first), &expected);
    let hits = backend.hits(ENTITIES);

    send_tool(&mut a, 1, "ide_agents_list_entities", json!({}));
    backend.wait_for("the call's first attempt at the backend", |s| {
        s["in_flight"] == 1 && s["requests"][ENTITIES] == hits + 1
    });
    served_while_in_flight(&d, &a);

    let r = results(&mut a, 1).remove(0);
    assert_eq!(ok(&r), &expected, "the retries hid the burst");
    assert_eq!(
        backend.hits(ENTITIES),
        hits + 3,
        "two failed attempts, then one answer"
    );
    let pool = &status(&mut a)["pool"];
    assert_eq!(pool["retries"], 2, "{pool}");
    assert_eq!(pool["failures"], 0, "{pool}");

    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn sustained_5xx_are_retried_until_the_breaker_opens_then_calls_fail_fast_with_circuit_open() {
    let backend = Backend::start();
    let d = matrix_daemon(
        &backend.url,
        &[
            ("IDE_AGENTS_RETRY_ATTEMPTS", "3"),
            ("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "5"),
            ("IDE_AGENTS_BREAKER_RESET_TIMEOUT", "0.8"),
        ],
    );
    let mut a = d.client();
    backend.faults(json!({"status": 503, "latency_ms": 200, "paths": ["/entities", "/command"]}));

    // Failure 1: a command is never retried, even on a 503.
    let r = a.call_tool("ide_agents_run_command", json!({"command": "echo once"}));
    assert_eq!(error_code(&r), "backend_error");
    assert_eq!(backend.hits(COMMAND), 1);

    // Failures 2-4: a read's three attempts, in flight (≥ 0.6 s) while others are served.
    send_tool(&mut a, 1, "ide_agents_list_entities", json!({}));
    backend.wait_for("the read's first attempt at the backend", |s| {
        s["in_flight"] == 1
    });
    served_while_in_flight(&d, &a);
    let r = results(&mut a, 1).remove(0);
    assert_eq!(error_code(&r), "backend_error");
    assert_eq!(r["structuredContent"]["error"]["backend_status"], 503);
    assert_eq!(backend.hits(ENTITIES), 3);

    // Failure 5 opens the breaker: the retry after it is refused without being sent, and
    // the call reports the failure it met, not the breaker it opened.
    let r = a.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "backend_error", "{r}");
    assert_eq!(r["structuredContent"]["error"]["backend_status"], 503);
    assert_eq!(
        backend.hits(ENTITIES),
        4,
        "no attempt after the breaker opened"
    );
    let breaker = status(&mut a)["breaker"].clone();
    assert_eq!(breaker["state"], "open", "{breaker}");
    assert_eq!(breaker["consecutive_failures"], 5, "{breaker}");

    // While open: at once, nothing sent, and the daemon serves everyone else as before.
    let started = Instant::now();
    let r = a.call_tool("ide_agents_list_entities", json!({}));
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error_code(&r), "circuit_open");
    assert!(
        r["structuredContent"]["error"]["retry_after_s"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{r}"
    );
    assert_eq!(backend.hits(ENTITIES), 4);
    other_connection_is_served(&d);

    // Cleared: once the reset timeout passes, the half-open probe goes out and succeeds.
    backend.faults(json!({}));
    let mut probe = Value::Null;
    common::wait_until("the breaker to let a call through", || {
        probe = a.call_tool("ide_agents_list_entities", json!({}));
        probe["structuredContent"]["error"]["code"] != "circuit_open"
    });
    ok(&probe);
    assert_eq!(
        backend.hits(ENTITIES),
        5,
        "one probe, and only once the fault was cleared"
    );
    assert_eq!(status(&mut a)["breaker"]["state"], "closed");
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn a_429_with_retry_after_is_retried_no_sooner_than_the_backend_asked() {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[("IDE_AGENTS_REQUEST_TIMEOUT", "10")]);
    let mut a = d.client();
    let expected = ok(&a.call_tool("ide_agents_list_entities", json!({}))).clone();
    // Rate 1/2 fails every second request: the first call below passes, the second meets
    // one 429 asking for 1 s, where the backoff alone would have waited 10 ms.
    backend.faults(json!({"error_rate": 0.5, "status": 429, "retry_after": "1",
        "paths": ["/entities"]}));
    assert_eq!(
        ok(&a.call_tool("ide_agents_list_entities", json!({}))),
        &expected
    );
    let hits = backend.hits(ENTITIES);
    let started = Instant::now();
    let r = a.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(ok(&r), &expected, "the retry got the answer");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried sooner than asked"
    );
    assert_eq!(backend.hits(ENTITIES), hits + 2, "one 429, then the answer");

    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn a_retry_after_beyond_the_deadline_is_answered_at_once_with_the_wait() {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[]);
    backend.faults(json!({"status": 503, "retry_after": "3600", "paths": ["/entities"]}));
    let mut a = d.client();
    let r = a.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "backend_error", "{r}");
    assert_eq!(
        r["structuredContent"]["error"]["retry_after_s"], 3600,
        "{r}"
    );
    assert!(text(&r).contains("It asks for 3600 s"), "{r}");
    assert_eq!(
        backend.hits(ENTITIES),
        1,
        "no retry the backend asked not to get"
    );

    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

/// One `list_entities` call on connection A against a backend with `fault` on
/// `/entities`, slowed so it is in flight while another connection is served; returns the
/// backend, the daemon, A and the call's result.
fn one_slow_faulty_call(fault: Value) -> (Backend, Daemon, Client, Value) {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[]);
    let mut faults = json!({"latency_ms": 400, "paths": ["/entities"]});
    faults
        .as_object_mut()
        .unwrap()
        .extend(fault.as_object().unwrap().clone());
    backend.faults(faults);
    let mut a = d.client();
    send_tool(&mut a, 1, "ide_agents_list_entities", json!({}));
    backend.wait_for("the call at the backend", |s| s["in_flight"] == 1);
    served_while_in_flight(&d, &a);
    let r = results(&mut a, 1).remove(0);
    (backend, d, a, r)
}

#[test]
fn a_garbage_body_is_a_backend_error_and_is_not_retried() {
    let (backend, _d, mut a, r) = one_slow_faulty_call(json!({"garbage": true}));
    assert_eq!(error_code(&r), "backend_error");
    assert!(text(&r).contains("not JSON"), "{r}");
    assert_eq!(r["structuredContent"]["error"]["backend_status"], 200);
    assert_eq!(
        backend.hits(ENTITIES),
        1,
        "a 200 that is not JSON is not retried"
    );

    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn a_body_cut_off_after_the_headers_is_a_backend_error_and_the_pool_recovers() {
    let (backend, _d, mut a, r) = one_slow_faulty_call(json!({"close_after_headers": true}));
    // A body shorter than its Content-Length is a broken answer, never parsed as one.
    assert_eq!(error_code(&r), "backend_error");
    assert!(text(&r).contains("/entities/mappings"), "{r}");
    assert!(text(&r).contains("broke off"), "{r}");
    assert_eq!(
        backend.hits(ENTITIES),
        1,
        "an answer cut off mid-body is not retried"
    );

    // The broken connection is not reused: the next call gets a fresh one and succeeds.
    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

#[test]
fn the_request_timeout_bounds_a_read_with_its_retries_not_each_attempt() {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[]);
    // Slow 503s: each attempt is within the 1 s timeout, three of them are not.
    backend.faults(json!({"status": 503, "latency_ms": 600, "paths": ["/entities"]}));
    let mut a = d.client();
    let started = Instant::now();
    let r = a.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "timeout", "{r}");
    assert!(
        backend.hits(ENTITIES) <= 2,
        "no attempt starts after the deadline"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "{r}");
    backend.faults(json!({}));
    backend_tools_work_again(&mut a, &backend);
}

/// An answer larger than the daemon reads is said to be so; the backend answered, so it is
/// not a failure that opens the breaker for everyone.
#[test]
fn an_answer_too_large_to_read_is_a_backend_error_that_leaves_the_breaker_closed() {
    let backend = Backend::start();
    let d = matrix_daemon(&backend.url, &[("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "2")]);
    backend.faults(json!({"huge_body_mib": 9, "paths": ["/entities"]}));
    let mut c = d.client();
    for _ in 0..3 {
        let r = c.call_tool("ide_agents_list_entities", json!({}));
        assert_eq!(error_code(&r), "backend_error", "{r}");
        assert!(text(&r).contains("larger than the 8 MiB"), "{r}");
    }
    backend.faults(json!({}));
    backend_tools_work_again(&mut c, &backend);
}
