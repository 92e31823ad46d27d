//! Tools that reach the agents backend, against the reference backend on a loopback port:
//! happy paths, argument errors, and every failure the pool must turn into a clear answer.

mod common;

use common::{BIN, Backend, Client, daemon, daemon_for};
use serde_json::{Value, json};
use std::io::BufRead;
use std::process::Command;
use std::time::{Duration, Instant};

fn error_code(result: &Value) -> &str {
    assert_eq!(result["isError"], true, "expected a tool error: {result}");
    result["structuredContent"]["error"]["code"]
        .as_str()
        .unwrap()
}

fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "expected success: {result}");
    &result["structuredContent"]
}

/// Runs an `ide-agentsd` client subcommand against `socket`.
fn cli(socket: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn entities_docs_and_catalog_come_from_the_backend() {
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    let mut c = d.client();
    let entities = c.call_tool("ide_agents_list_entities", json!({}));
    let list = ok(&entities)["entities"].as_array().unwrap().clone();
    assert!(
        !list.is_empty() && list[0]["name"].is_string(),
        "{entities}"
    );

    let doc = c.call_tool("ide_agents_fetch_doc", json!({"topic": "getting-started"}));
    assert_eq!(ok(&doc)["documentation"]["topic"], "getting-started");
    let missing = c.call_tool("ide_agents_fetch_doc", json!({"topic": "no such topic/.."}));
    assert_eq!(error_code(&missing), "not_found");

    let via_catalog = c.call_tool(
        "ide_agents_catalog",
        json!({"method": "get_doc", "query": "getting-started"}),
    );
    assert_eq!(ok(&via_catalog), ok(&doc));
    let listed = c.call_tool("ide_agents_catalog", json!({"method": "list_entities"}));
    assert_eq!(ok(&listed)["entities"].as_array().unwrap(), &list);
    let no_query = c.call_tool("ide_agents_catalog", json!({"method": "get_doc"}));
    assert_eq!(error_code(&no_query), "invalid_arguments");
    let bad = c.call_tool("ide_agents_fetch_doc", json!({"topic": 7}));
    assert_eq!(error_code(&bad), "invalid_arguments");
}

#[test]
fn entities_that_are_not_a_list_are_an_error_and_not_cached() {
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    let mut c = d.client();
    // A 200 whose JSON is an object, not the documented array.
    backend.faults(json!({"status": 200, "paths": ["/entities/mappings"]}));
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "backend_error");
    let message = r["content"][0]["text"].as_str().unwrap();
    assert!(
        message.contains("an object where the list of entities"),
        "{r}"
    );
    // The backend recovers: the next call asks it again and gets the list.
    backend.faults(json!({}));
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert!(ok(&r)["entities"].is_array(), "{r}");
    assert_eq!(backend.hits("GET /entities/mappings"), 2);
}

#[test]
fn a_command_runs_only_once_per_approval() {
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    let mut c = d.client();
    let asked = c.call_tool(
        "ide_agents_run_command",
        json!({"command": "echo approved-once"}),
    );
    assert_eq!(error_code(&asked), "approval_required");
    let action_id = asked["structuredContent"]["error"]["action_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        asked["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("ide-agentsd approve {action_id}"))
    );
    assert_eq!(
        backend.hits("POST /command"),
        0,
        "nothing runs before approval"
    );

    let (code, listed) = cli(&d.socket, &["approvals"]);
    assert_eq!(code, 0);
    assert!(
        listed.contains(&action_id) && listed.contains("echo approved-once"),
        "{listed}"
    );
    let (code, out) = cli(&d.socket, &["approve", &action_id]);
    assert_eq!(code, 0, "{out}");

    let ran = c.call_tool(
        "ide_agents_run_command",
        json!({"command": "echo approved-once"}),
    );
    assert_eq!(ok(&ran)["result"]["stdout"], "approved-once\n");
    assert_eq!(backend.hits("POST /command"), 1);
    let again = c.call_tool(
        "ide_agents_run_command",
        json!({"command": "echo approved-once"}),
    );
    assert_eq!(error_code(&again), "approval_required");
    assert_eq!(backend.hits("POST /command"), 1);
    // An unknown id is an error with a hint.
    let (code, out) = cli(&d.socket, &["approve", "0000000000000000"]);
    assert_eq!(code, 1);
    assert!(out.contains("ide-agentsd approvals"), "{out}");
}

#[test]
fn the_operator_sees_the_whole_command_with_its_hidden_characters_escaped() {
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    let mut c = d.client();
    // Padded past the 200 characters the audit log keeps, with a carriage return and an
    // escape sequence that would make a terminal show only `pwd`.
    let command = format!("echo {} hidden-tail\r\u{1b}[18Cpwd", "A".repeat(250));
    let asked = c.call_tool("ide_agents_run_command", json!({ "command": command }));
    assert_eq!(error_code(&asked), "approval_required");
    let action_id = asked["structuredContent"]["error"]["action_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, listed) = cli(&d.socket, &["approvals"]);
    assert_eq!(code, 0);
    assert!(listed.contains("hidden-tail\\r\\u{1b}[18Cpwd"), "{listed}");
    assert!(
        !listed.contains('\r') && !listed.contains('\u{1b}'),
        "{listed:?}"
    );
    let (_, status) = d.status_json();
    assert_eq!(
        status["pending_approvals"]["pending"][0]["command"],
        command
    );
    let (code, out) = cli(&d.socket, &["approve", &action_id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hidden-tail\\r"), "{out}");
}

#[test]
fn deny_refuses_and_a_grant_expires() {
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    let mut c = d.client();
    let asked = c.call_tool(
        "ide_agents_command",
        json!({"method": "run", "command": "pwd"}),
    );
    assert_eq!(error_code(&asked), "approval_required");
    let denied = asked["structuredContent"]["error"]["action_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(cli(&d.socket, &["deny", &denied]).0, 0);
    let (_, listed) = cli(&d.socket, &["approvals"]);
    assert!(!listed.contains(&denied), "{listed}");
    // A denied action is gone: it cannot be approved afterwards.
    let (code, out) = cli(&d.socket, &["approve", &denied]);
    assert_ne!(code, 0, "approving a denied action succeeded: {out}");
    let asked = c.call_tool(
        "ide_agents_command",
        json!({"method": "run", "command": "pwd"}),
    );
    assert_eq!(error_code(&asked), "approval_required");
    assert_eq!(
        backend.hits("POST /command"),
        0,
        "a denied command never runs"
    );
    let id = asked["structuredContent"]["error"]["action_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(id, denied, "asking again after a deny is a new action");
    assert_eq!(cli(&d.socket, &["approve", &id, "--ttl", "0.2s"]).0, 0);
    // Let the grant's lifetime pass: this waits on the clock, not on the daemon.
    std::thread::sleep(Duration::from_millis(400));
    let expired = c.call_tool(
        "ide_agents_command",
        json!({"method": "run", "command": "pwd"}),
    );
    assert_eq!(error_code(&expired), "approval_required");
    assert_eq!(backend.hits("POST /command"), 0);
}

#[test]
fn malformed_arguments_are_refused_before_anything_reaches_the_backend() {
    let backend = Backend::start();
    // Auto-approved and ULTRA on: only the schema stands between these calls and the backend.
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_ULTRA_ENABLED", "true")
        .env("IDE_AGENTS_AUTO_APPROVE", "echo")
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut c = d.client();
    let cases = [
        ("ide_agents_run_command", json!({})),
        ("ide_agents_run_command", json!({"command": 5})),
        ("ide_agents_ultra_calibrate", json!({})),
        ("ide_agents_ultra_calibrate", json!({"scores": ["a"]})),
        ("ide_agents_list_entities", json!({"verbose": true})),
    ];
    for (tool, arguments) in cases {
        let r = c.call_tool(tool, arguments.clone());
        assert_eq!(
            error_code(&r),
            "invalid_arguments",
            "{tool} {arguments}: {r}"
        );
    }
    let requests = backend.stats()["requests"].clone();
    assert!(
        requests
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k == "GET /health"),
        "only health probes reached the backend: {requests}"
    );
}

#[test]
fn command_dry_run_and_explain_stay_local_and_auto_approve_skips_asking() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_AUTO_APPROVE", "echo ")
        .start();
    let mut c = d.client();
    let dry = c.call_tool(
        "ide_agents_command",
        json!({"method": "dry_run", "command": "ls -l", "cwd": "/tmp"}),
    );
    assert_eq!(
        ok(&dry),
        &json!({"dry_run": true, "command": "ls -l", "payload": {"cwd": "/tmp"}})
    );
    let explain = c.call_tool(
        "ide_agents_command",
        json!({"method": "explain", "command": "ls -l"}),
    );
    assert!(
        ok(&explain)["explanation"]
            .as_str()
            .unwrap()
            .contains("`ls`")
    );
    assert_eq!(backend.hits("POST /command"), 0);
    let ran = c.call_tool(
        "ide_agents_command",
        json!({"method": "run", "command": "echo auto", "timeout": 5}),
    );
    assert_eq!(ok(&ran)["result"]["stdout"], "auto\n");
    let bad = c.call_tool(
        "ide_agents_command",
        json!({"method": "rm", "command": "x"}),
    );
    assert_eq!(error_code(&bad), "invalid_arguments");
}

#[test]
fn a_backend_that_is_down_is_reported_fast_with_what_to_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let d = daemon()
        .env("IDE_AGENTS_BACKEND_URL", url.clone())
        .env("IDE_AGENTS_RETRY_BACKOFF_BASE", "0.01")
        .start();
    let mut c = d.client();
    let started = Instant::now();
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(error_code(&r), "backend_unavailable");
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains(&url) && text.contains("ide-agents-backend"),
        "{text}"
    );
    // Core tools that need no backend still work, and health reports the backend down.
    assert_eq!(
        c.call_tool("ide_agents_healthz", json!({}))["isError"],
        false
    );
    let ready = c.call_tool("ide_agents_readyz", json!({}));
    assert_eq!(ok(&ready)["status"], "degraded");
    assert_eq!(ok(&ready)["backend_ok"], false);
    let health = c.call_tool("ide_agents_health", json!({}));
    assert_eq!(ok(&health)["backend_ok"], false);
}

#[test]
fn a_backend_that_answers_its_health_check_without_ok_is_reported_as_saying_so() {
    let backend = Backend::start();
    backend.faults(json!({"garbage": true, "paths": ["/health"]}));
    let d = daemon_for(&backend).start();
    let ready = d.client().call_tool("ide_agents_readyz", json!({}));
    assert_eq!(ok(&ready)["backend_ok"], false, "{ready}");
    let said = ok(&ready)["backend_error"].as_str().unwrap().to_string();
    // Not "answered 200", which reads as if nothing were wrong.
    assert!(said.contains("answered 200 without \"ok\": true"), "{said}");
}

#[test]
fn server_errors_are_retried_for_reads_but_a_command_is_sent_exactly_once() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_RETRY_BACKOFF_BASE", "0.01")
        .env("IDE_AGENTS_AUTO_APPROVE", "echo")
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "100")
        .start();
    backend.faults(json!({"status": 503}));
    let mut c = d.client();
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "backend_error");
    assert_eq!(r["structuredContent"]["error"]["backend_status"], 503);
    assert_eq!(
        backend.hits("GET /entities/mappings"),
        3,
        "three attempts for an idempotent GET"
    );
    let r = c.call_tool("ide_agents_run_command", json!({"command": "echo once"}));
    assert_eq!(error_code(&r), "backend_error");
    assert_eq!(
        backend.hits("POST /command"),
        1,
        "a command is never retried"
    );
    // A transient failure is absorbed by the retry.
    backend.faults(json!({"error_rate": 0.5, "status": 503}));
    let r = c.call_tool("ide_agents_fetch_doc", json!({"topic": "getting-started"}));
    assert_eq!(r["isError"], false, "{r}");
}

#[test]
fn a_call_whose_own_retries_open_the_breaker_reports_the_failure() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_RETRY_BACKOFF_BASE", "0.01")
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "2")
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    let mut c = d.client();
    // A 404 is an answer, not a failure of the pool.
    let r = c.call_tool("ide_agents_fetch_doc", json!({"topic": "no-such-topic"}));
    assert_eq!(error_code(&r), "not_found", "{r}");
    backend.faults(json!({"status": 500}));
    // Attempt 1 and 2 fail and open the breaker; attempt 3 is held back by it.
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "backend_error", "{r}");
    assert_eq!(r["structuredContent"]["error"]["backend_status"], 500);
    assert_eq!(backend.hits("GET /entities/mappings"), 2);
    let (_, status) = d.status_json();
    let pool = &status["pool"];
    assert_eq!(pool["retries"], 1, "one retry sent, one held back: {pool}");
    assert_eq!(pool["failures"], 1, "{pool}");
    // The next call finds the breaker open.
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "circuit_open", "{r}");
}

#[test]
fn the_breaker_opens_fails_fast_then_half_opens_and_closes() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_RETRY_ATTEMPTS", "1")
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "3")
        .env("IDE_AGENTS_BREAKER_RESET_TIMEOUT", "0.5")
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"status": 500}));
    let mut c = d.client();
    for _ in 0..3 {
        assert_eq!(
            error_code(&c.call_tool("ide_agents_list_entities", json!({}))),
            "backend_error"
        );
    }
    let hits = backend.hits("GET /entities/mappings");
    let started = Instant::now();
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "circuit_open");
    assert!(
        r["structuredContent"]["error"]["retry_after_s"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(
        backend.hits("GET /entities/mappings"),
        hits,
        "no call goes out while open"
    );

    backend.faults(json!({}));
    // Wait out the reset timeout (the clock, not the daemon, is what we wait on).
    std::thread::sleep(Duration::from_millis(600));
    let probe = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(
        probe["isError"], false,
        "the half-open probe succeeds: {probe}"
    );
    for _ in 0..3 {
        assert_eq!(
            c.call_tool("ide_agents_list_entities", json!({}))["isError"],
            false
        );
    }
}

#[test]
fn a_slow_backend_times_out_within_the_bound_and_garbage_is_an_error() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_REQUEST_TIMEOUT", "0.3")
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "100")
        .start();
    let mut c = d.client();
    backend.faults(json!({"latency_ms": 3000, "paths": ["/documentation"]}));
    let started = Instant::now();
    let r = c.call_tool("ide_agents_fetch_doc", json!({"topic": "getting-started"}));
    assert_eq!(error_code(&r), "timeout");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    backend.faults(json!({"garbage": true}));
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "backend_error");
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not JSON"),
        "{r}"
    );
    backend.faults(json!({"close_after_headers": true}));
    let r = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(error_code(&r), "backend_error");
}

#[test]
fn cancelling_a_call_drops_its_backend_request_and_sends_no_answer() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut c = d.client();
    c.request(
        json!("slow"),
        "tools/call",
        json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    backend.wait_for("the request to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    c.notify(
        "notifications/cancelled",
        json!({"requestId": "slow", "reason": "user"}),
    );
    backend.wait_for("the backend to see the request dropped", |s| {
        s["dropped"].as_u64() == Some(1)
    });
    // A ping (answered by the session) and a tool call (through the same router and
    // tool-group actor as the cancelled call): anything the cancelled call could still send
    // would be written before the tool call's answer.
    c.request(json!("ping"), "ping", json!({}));
    c.request(
        json!("after"),
        "tools/call",
        json!({"name": "ide_agents_healthz", "arguments": {},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &Value| l["id"] == "after") {
        let mut line = String::new();
        let n = c.reader.read_line(&mut line).expect("read from daemon");
        assert!(n > 0, "the daemon closed the connection after {lines:?}");
        lines.push(serde_json::from_str(&line).unwrap());
    }
    assert!(
        lines.iter().all(|l| l["id"] != "slow"),
        "the cancelled request was answered: {lines:?}"
    );
    let pong = lines
        .iter()
        .find(|l| l["id"] == "ping")
        .expect("ping answered");
    assert_eq!(pong["result"], json!({}));
}

#[test]
fn a_client_that_vanishes_mid_call_drops_its_backend_request() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut c = Client::connect(&d.socket);
    c.request(
        json!(1),
        "tools/call",
        json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    backend.wait_for("the request to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    drop(c);
    backend.wait_for("the backend to see the request dropped", |s| {
        s["dropped"].as_u64() == Some(1)
    });
    // The daemon serves others as before.
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

#[test]
fn sequential_calls_reuse_kept_alive_connections() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    let mut c = d.client();
    for _ in 0..50 {
        assert_eq!(
            c.call_tool("ide_agents_list_entities", json!({}))["isError"],
            false
        );
    }
    let stats = backend.stats();
    assert_eq!(stats["requests"]["GET /entities/mappings"], 50);
    // Minus the connection this stats request itself opened.
    let opened = stats["connections_opened"].as_u64().unwrap() - 1;
    // One connection for the calls, one for the start-up health probe, at most.
    assert!(opened <= 2, "{opened} TCP connections for 50 calls");
}

#[test]
fn concurrent_readiness_checks_share_one_probe() {
    let backend = Backend::start_with(&["--latency-ms", "200"]);
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    // Wait for the start-up probe so it is not counted below.
    backend.wait_for("the start-up health probe to finish", |s| {
        s["requests"]["GET /health"].as_u64() == Some(1) && s["in_flight"].as_u64() == Some(0)
    });
    // Health answers from the probe's result without probing again.
    let first = d.client().call_tool("ide_agents_health", json!({}));
    assert_eq!(first["structuredContent"]["ok"], true, "{first}");
    assert_eq!(first["structuredContent"]["backend_ok"], true);
    assert!(
        first["structuredContent"]["backend_latency_ms"]
            .as_f64()
            .unwrap()
            >= 200.0
    );
    let before = backend.hits("GET /health");
    let mut clients: Vec<Client> = (0..8).map(|_| d.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.request(
            json!(i),
            "tools/call",
            json!({"name": "ide_agents_readyz",
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
        );
    }
    for c in &mut clients {
        let r = c.read().unwrap();
        assert_eq!(r["result"]["structuredContent"]["backend_ok"], true, "{r}");
        assert_eq!(r["result"]["structuredContent"]["status"], "ready");
    }
    assert_eq!(
        backend.hits("GET /health") - before,
        1,
        "one probe for eight concurrent checks"
    );
    assert!(first["structuredContent"]["models"].is_object());
}

#[test]
fn ultra_tools_rank_and_calibrate_when_enabled() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_ULTRA_ENABLED", "true")
        .start();
    let mut c = d.client();
    let r = c.call_tool(
        "ide_agents_ultra_rank",
        json!({"query": "rust async runtime", "candidates": ["python web", "rust async executor", "async rust runtime"]}),
    );
    let ranked = ok(&r)["ranked"].as_array().unwrap().clone();
    assert_eq!(ranked[0]["text"], "async rust runtime");
    assert_eq!(ranked[2]["text"], "python web");
    assert_eq!(ranked[2]["score"], 0.0, "a zero score is kept");
    let r = c.call_tool("ide_agents_ultra_calibrate", json!({"scores": [1.0, 0.5]}));
    assert_eq!(ok(&r)["calibration"]["calibrated"], json!([0.9, 0.45]));
    let r = c.call_tool(
        "ide_agents_ultra_rank",
        json!({"query": "q", "candidates": []}),
    );
    assert_eq!(error_code(&r), "invalid_arguments");
    // Without ULTRA the group is not offered.
    let plain = daemon_for(&backend).start();
    let r = plain.client().call_tool(
        "ide_agents_ultra_rank",
        json!({"query": "q", "candidates": ["a"]}),
    );
    assert_eq!(error_code(&r), "unknown_tool");
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("one of the ULTRA tools"), "{text}");
    assert!(text.contains("IDE_AGENTS_ULTRA_ENABLED=true"), "{text}");
}

#[test]
fn ultra_url_sends_ranking_to_its_own_host() {
    let backend = Backend::start();
    let ultra = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_ULTRA_ENABLED", "1")
        .env("IDE_AGENTS_ULTRA_URL", ultra.url.clone())
        .start();
    let r = d.client().call_tool(
        "ide_agents_ultra_rank",
        json!({"query": "a", "candidates": ["a"]}),
    );
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(ultra.hits("POST /ai/intelligence/rank"), 1);
    assert_eq!(backend.hits("POST /ai/intelligence/rank"), 0);
}

#[test]
fn with_no_idle_connections_kept_every_call_opens_its_own() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_POOL_MAX_IDLE", "0")
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.wait_for("the start-up health probe to finish", |s| {
        s["requests"]["GET /health"].as_u64() == Some(1) && s["in_flight"].as_u64() == Some(0)
    });
    let mut c = d.client();
    let before = backend.stats()["connections_opened"].as_u64().unwrap();
    for _ in 0..10 {
        assert_eq!(
            c.call_tool("ide_agents_list_entities", json!({}))["isError"],
            false
        );
    }
    // Ten calls, plus the connection of this stats request.
    let opened = backend.stats()["connections_opened"].as_u64().unwrap() - before - 1;
    assert_eq!(opened, 10);
}
