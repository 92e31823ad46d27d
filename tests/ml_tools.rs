//! The ML group: started lazily (once per worker, observed through `ide_agents_health`),
//! announced with `notifications/tools/list_changed`, and each of its 15 tools against the
//! reference backend.

mod common;

use common::{Backend, Client, Daemon, daemon_for};
use serde_json::{Value, json};
use std::io::Write;

fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "expected success: {result}");
    &result["structuredContent"]
}

fn groups(c: &mut Client) -> Value {
    ok(&c.call_tool("ide_agents_health", json!({})))["groups"].clone()
}

fn ml_daemon(backend: &Backend) -> common::DaemonBuilder {
    daemon_for(backend).env("IDE_AGENTS_ULTRA_ENABLED", "true")
}

/// The tool names a `tools/list` page shows, and its next cursor.
fn list_page(c: &mut Client, cursor: Option<&str>) -> (Vec<String>, Option<String>) {
    let params = match cursor {
        Some(cur) => json!({"cursor": cur}),
        None => json!({}),
    };
    let r = c.call_modern("tools/list", params);
    let names = r["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    (names, r["result"]["nextCursor"].as_str().map(String::from))
}

#[test]
fn ml_group_waits_for_a_listing_page_that_shows_it() {
    let backend = Backend::start();
    // One worker, so every request below reaches the same router.
    let d = ml_daemon(&backend)
        .env("IDE_AGENTS_WORKERS", "1")
        .env("IDE_AGENTS_PAGE_SIZE", "5")
        .start();
    let mut c = d.client();
    let g = groups(&mut c);
    assert_eq!(g["ml"], "not_started", "{g}");
    assert_eq!(g["ml_starts"], 0);
    let mut operator = d.initialized_client();
    let ml_status = |c: &mut Client| {
        c.call("ide-agents/status", json!({}))["result"]["tool_groups"]["ml"].clone()
    };
    assert_eq!(
        ml_status(&mut operator),
        json!({"enabled": true, "loaded": false, "starts": 0})
    );
    // Core and ULTRA calls do not need it.
    ok(&c.call_tool("ide_agents_healthz", json!({})));
    ok(&c.call_tool("ide_agents_ultra_calibrate", json!({"scores": [0.5]})));
    let (first, mut cursor) = list_page(&mut c, None);
    assert!(
        first.iter().all(|n| !n.starts_with("ide_agents_ml_")),
        "{first:?}"
    );
    assert_eq!(groups(&mut c)["ml"], "not_started");
    let mut all = first;
    while let Some(cur) = cursor {
        let (names, next) = list_page(&mut c, Some(&cur));
        all.extend(names);
        cursor = next;
        if all.iter().any(|n| n.starts_with("ide_agents_ml_")) {
            break;
        }
    }
    let g = groups(&mut c);
    assert_eq!(
        (g["ml"].as_str(), g["ml_starts"].as_u64()),
        (Some("started"), Some(1)),
        "{g}"
    );
    assert!(g["ml_start_us"].as_f64().unwrap() > 0.0, "{g}");
    assert_eq!(
        ml_status(&mut operator),
        json!({"enabled": true, "loaded": true, "starts": 1})
    );
}

#[test]
fn without_ultra_the_ml_group_is_not_offered() {
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    let mut c = d.client();
    assert_eq!(groups(&mut c)["ml"], "disabled");
    let r = c.call_tool("ide_agents_ml_get_system_status", json!({}));
    assert_eq!(
        r["structuredContent"]["error"]["code"], "unknown_tool",
        "{r}"
    );
    // The error says how to turn the group on.
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("one of the ML tools"), "{text}");
    assert!(text.contains("IDE_AGENTS_ULTRA_ENABLED=true"), "{text}");
    let (names, _) = list_page(&mut c, None);
    assert!(names.iter().all(|n| !n.starts_with("ide_agents_ml_")));
}

/// Sends `n` ML calls on `c` without waiting, then reads their `n` answers.
fn pipelined_ml_calls(c: &mut Client, n: usize, first_id: usize) -> Vec<Value> {
    let mut batch = String::new();
    for i in 0..n {
        let req = json!({"jsonrpc": "2.0", "id": first_id + i, "method": "tools/call", "params": {
            "name": "ide_agents_ml_adjust_personality", "arguments": {"tone": "calm"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
        batch.push_str(&req.to_string());
        batch.push('\n');
    }
    c.stream.write_all(batch.as_bytes()).unwrap();
    (0..n).map(|_| c.read().expect("an answer")).collect()
}

fn concurrent_first_calls(d: &Daemon) {
    // 100 first calls at once: 10 connections, 10 pipelined calls each, all sent before
    // any answer is read.
    let threads: Vec<_> = (0..10)
        .map(|t| {
            let socket = d.socket.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&socket);
                pipelined_ml_calls(&mut c, 10, t * 100)
            })
        })
        .collect();
    for t in threads {
        for answer in t.join().unwrap() {
            assert_eq!(answer["result"]["isError"], false, "{answer}");
        }
    }
}

#[test]
fn one_hundred_concurrent_first_calls_start_the_group_once_per_worker() {
    let backend = Backend::start();
    let d = ml_daemon(&backend).env("IDE_AGENTS_WORKERS", "1").start();
    concurrent_first_calls(&d);
    let g = groups(&mut d.client());
    assert_eq!(g["ml_starts"], 1, "one worker, one start: {g}");

    // With two workers each starts its own group, at most once.
    let d = ml_daemon(&backend).env("IDE_AGENTS_WORKERS", "2").start();
    concurrent_first_calls(&d);
    let starts = groups(&mut d.client())["ml_starts"].as_u64().unwrap();
    assert!((1..=2).contains(&starts), "{starts} starts for 2 workers");
}

#[test]
fn starting_the_group_tells_handshaken_sessions_the_tool_list_changed() {
    let backend = Backend::start();
    let d = ml_daemon(&backend).env("IDE_AGENTS_WORKERS", "1").start();
    let mut watcher = d.initialized_client();
    let mut caller = d.initialized_client();
    caller.request(
        json!(1),
        "tools/call",
        json!({"name": "ide_agents_ml_get_system_status", "arguments": {}}),
    );
    let mut seen = (false, false);
    while seen != (true, true) {
        let msg = caller.read().expect("daemon closed");
        if msg["method"] == "notifications/tools/list_changed" {
            seen.0 = true;
        } else if msg["id"] == 1 {
            assert_eq!(msg["result"]["isError"], false, "{msg}");
            seen.1 = true;
        }
    }
    let note = watcher.read().expect("a notification");
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    // Only once: a second call announces nothing (the ping answer comes next).
    caller.call_tool("ide_agents_ml_get_system_status", json!({}));
    watcher.request(json!("p"), "ping", json!({}));
    let next = watcher.read().expect("the ping answer");
    assert_eq!(next["id"], "p", "no second notification: {next}");
}

#[test]
fn every_ml_tool_answers_from_the_reference_backend() {
    let backend = Backend::start();
    let d = ml_daemon(&backend).start();
    let mut c = d.client();
    let mut call = |name: &str, args: Value| {
        let r = c.call_tool(&format!("ide_agents_ml_{name}"), args);
        ok(&r).clone()
    };

    let r = call(
        "analyze_emotion",
        json!({"text": "I love this, great work"}),
    );
    assert_eq!(
        r,
        json!({"text": "I love this, great work", "mood": "positive", "confidence": 0.4})
    );

    let r = call("get_predictions", json!({}));
    assert_eq!(r["user_id"], "default_user");
    assert_eq!(r["predictions"][0]["id"], "p1");
    // Ids are one path segment, whatever they hold.
    let r = call("get_predictions", json!({"user_id": "a/b c"}));
    assert_eq!(r["user_id"], "a/b c");
    assert_eq!(
        backend.hits("GET /ai/intelligence/predictions/a%2Fb%20c"),
        1
    );
    let r = call("get_learning_insights", json!({"user_id": ".."}));
    assert_eq!(r["user_id"], "..");
    assert_eq!(r["insights"][0]["id"], "i1");

    let r = call("analyze_reasoning", json!({"command": "git log -n 3"}));
    assert_eq!(r["reasoning"], "'git' is the program; 3 argument(s) follow");
    assert_eq!(r["entities"][0], json!({"type": "program", "value": "git"}));

    let r = call("get_personality_profile", json!({}));
    assert_eq!(
        r,
        json!({"personality_engine": {"type": "balanced", "mood": "neutral", "tone": "professional"}})
    );
    let r = call(
        "adjust_personality",
        json!({"tone": "friendly", "mood": "calm"}),
    );
    assert_eq!(
        r,
        json!({"requested": {"tone": "friendly", "mood": "calm"}, "status": "simulated"})
    );
    let r = call("get_system_status", json!({}));
    assert_eq!(r["models_loaded"], 3);

    let r = call(
        "calibrate_confidence",
        json!({"raw_score": 0.5, "entropy": 0.1, "interaction_count": 4}),
    );
    assert_eq!(r, json!({"calibrated_score": 0.45, "raw_score": 0.5}));
    // A whole-number float is the integer (JSON Schema; Python clients send 4.0).
    let r = call(
        "calibrate_confidence",
        json!({"raw_score": 0.5, "entropy": 0.1, "interaction_count": 4.0}),
    );
    assert_eq!(r, json!({"calibrated_score": 0.45, "raw_score": 0.5}));

    let given = json!([{"id": "x", "confidence": 0.1}, {"id": "y", "confidence": 0.9}]);
    let r = call("rank_predictions_rlhf", json!({"candidates": given}));
    assert_eq!(r["ranked"][0]["id"], "y");
    assert_eq!(r["ranked"][1]["id"], "x");
    let before = backend.hits("GET /ai/intelligence/predictions/u1");
    let r = call("rank_predictions_rlhf", json!({"user_id": "u1"}));
    let ids: Vec<&str> = r["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p1", "p2", "p3"]);
    assert_eq!(
        backend.hits("GET /ai/intelligence/predictions/u1"),
        before + 1
    );

    let r = call(
        "record_prediction_outcome",
        json!({"prediction_id": "p1", "user_accepted": true, "prediction_type": "next_action", "confidence": 0.8}),
    );
    assert_eq!(r, json!({"recorded": true, "prediction_id": "p1"}));
    let r = call("get_rlhf_metrics", json!({}));
    assert_eq!(r, json!({"acceptance_rate": 1.0, "total": 1}));
    let r = call("get_calibration_metrics", json!({}));
    assert_eq!(r, json!({"ece": 0.05, "samples": 1}));
    let r = call("behavioral_baseline_check", json!({"user_id": "u1"}));
    assert_eq!(
        (r["user_id"].as_str(), r["anomaly"].as_bool()),
        (Some("u1"), Some(false))
    );
    let r = call("trigger_auto_adaptation", json!({"reason": "drift"}));
    assert_eq!(r, json!({"triggered": true, "reason": "drift"}));

    let r = call("get_ultra_dashboard", json!({}));
    assert_eq!(r["complete"], true, "{r}");
    assert_eq!(r["errors"], json!([]));
    assert_eq!(r["calibration_metrics"]["samples"], 1);
    assert_eq!(r["rlhf_metrics"]["total"], 1);
    assert_eq!(r["system_status"]["status"], "ok");
}

#[test]
fn ml_arguments_are_checked_against_the_schemas() {
    let backend = Backend::start();
    let d = ml_daemon(&backend).start();
    let mut c = d.client();
    for (name, args) in [
        ("analyze_emotion", json!({})),
        ("analyze_reasoning", json!({"command": ""})),
        ("calibrate_confidence", json!({"raw_score": "high"})),
        ("record_prediction_outcome", json!({"prediction_id": "p1"})),
        ("get_system_status", json!({"verbose": true})),
    ] {
        let r = c.call_tool(&format!("ide_agents_ml_{name}"), args);
        assert_eq!(
            r["structuredContent"]["error"]["code"], "invalid_arguments",
            "{name}: {r}"
        );
    }
    let stats = backend.stats();
    let ml_requests = stats["requests"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.contains("/health"))
        .count();
    assert_eq!(ml_requests, 0, "nothing reached the backend: {stats}");
}

#[test]
fn recording_calls_are_sent_once_even_when_the_backend_fails() {
    let backend = Backend::start();
    let d = ml_daemon(&backend).start();
    backend.faults(json!({"status": 503, "paths": ["/api/v1/ml/"]}));
    let mut c = d.client();
    let r = c.call_tool(
        "ide_agents_ml_record_prediction_outcome",
        json!({"prediction_id": 7, "user_accepted": false}),
    );
    assert_eq!(
        r["structuredContent"]["error"]["code"], "backend_error",
        "{r}"
    );
    let r = c.call_tool("ide_agents_ml_trigger_auto_adaptation", json!({}));
    assert_eq!(
        r["structuredContent"]["error"]["code"], "backend_error",
        "{r}"
    );
    assert_eq!(
        backend.hits("POST /api/v1/ml/predictions/record_outcome"),
        1
    );
    assert_eq!(backend.hits("POST /api/v1/ml/adaptation/trigger"), 1);
    // A read is retried (three attempts by default).
    let r = c.call_tool("ide_agents_ml_get_rlhf_metrics", json!({}));
    assert_eq!(r["isError"], true);
    assert_eq!(backend.hits("GET /api/v1/ml/predictions/metrics"), 3);
}

#[test]
fn a_failed_part_of_the_dashboard_is_reported_inside_it() {
    let backend = Backend::start();
    let d = ml_daemon(&backend)
        .env("IDE_AGENTS_RETRY_ATTEMPTS", "1")
        .start();
    backend.faults(json!({"status": 500, "paths": ["/api/v1/ml/predictions/metrics"]}));
    let r = d
        .client()
        .call_tool("ide_agents_ml_get_ultra_dashboard", json!({}));
    let r = ok(&r);
    assert_eq!(r["complete"], false, "{r}");
    assert_eq!(r["errors"], json!(["rlhf_metrics"]));
    assert_eq!(r["rlhf_metrics"]["error"]["code"], "backend_error");
    assert!(
        r["rlhf_metrics"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{r}"
    );
    assert_eq!(r["calibration_metrics"]["ece"], 0.05);
    assert_eq!(r["system_status"]["status"], "ok");
}

#[test]
fn an_answer_without_the_result_it_is_read_for_is_a_backend_error() {
    let backend = Backend::start();
    let d = ml_daemon(&backend).start();
    let mut c = d.client();
    // 200 with `{"error":"injected"}`: neither a mood nor a personality engine.
    backend.faults(json!({"status": 200, "paths": ["/ai/intelligence/"]}));
    let cases = [
        (
            "ide_agents_ml_analyze_emotion",
            json!({"text": "great"}),
            "`mood`",
        ),
        (
            "ide_agents_ml_get_personality_profile",
            json!({}),
            "`personality_engine`",
        ),
    ];
    for (tool, args, missing) in cases {
        let r = c.call_tool(tool, args);
        assert_eq!(r["isError"], true, "{tool}: {r}");
        let e = &r["structuredContent"]["error"];
        assert_eq!(e["code"], "backend_error", "{tool}: {r}");
        assert!(
            e["message"].as_str().unwrap().contains(missing),
            "{tool}: {r}"
        );
    }
}

/// A `command` too long for the URL it goes into is the caller's mistake, answered as one:
/// nothing reaches the backend, and repeating it does not open the breaker for the backend
/// tools every other connection uses.
#[test]
fn an_argument_too_long_for_a_url_leaves_the_breaker_closed() {
    let backend = Backend::start();
    let d = ml_daemon(&backend)
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "2")
        .start();
    let mut c = d.client();
    // Past the daemon's 16 KiB, short of the HTTP client's own 64 KiB limit.
    let long = "x".repeat(20_000);
    for _ in 0..4 {
        let r = c.call_tool("ide_agents_ml_analyze_reasoning", json!({"command": long}));
        let e = &r["structuredContent"]["error"];
        assert_eq!(e["code"], "invalid_arguments", "{e}");
        assert!(e["message"].as_str().unwrap().len() < 1000, "{e}");
    }
    let requests = backend.stats()["requests"].clone();
    assert!(
        !requests.to_string().contains("/entities/test/"),
        "{requests}"
    );
    let r = d.client().call_tool("ide_agents_list_entities", json!({}));
    ok(&r);
}

/// An ML call the backend answered has the backend's status in its span, as core tools do.
#[test]
fn ml_spans_name_the_backends_status() {
    let backend = Backend::start();
    let mut d = ml_daemon(&backend)
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let r = d
        .client()
        .call_tool("ide_agents_ml_get_predictions", json!({}));
    ok(&r);
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    let spans = common::json_lines(&d.dir.path().join("logs/mcp_tool_spans.jsonl"));
    let span = spans
        .iter()
        .find(|s| s["tool_name"] == "ide_agents_ml_get_predictions")
        .unwrap();
    assert_eq!(span["extra"]["backend_status"], 200, "{span}");
}
