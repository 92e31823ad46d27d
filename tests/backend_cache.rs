//! Backend lookups (`ide_agents_list_entities`, `ide_agents_fetch_doc`) go through the
//! shared cache: counted at the reference backend, and reported in each call's span.

mod common;

use common::{Backend, daemon_for, json_lines};
use serde_json::{Value, json};

fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "expected success: {result}");
    &result["structuredContent"]
}

#[test]
fn repeated_lookups_are_answered_from_the_cache_and_spans_say_so() {
    let backend = Backend::start();
    let mut d = daemon_for(&backend)
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut c = d.client();
    let first = ok(&c.call_tool("ide_agents_list_entities", json!({}))).clone();
    for _ in 0..4 {
        let again = c.call_tool("ide_agents_list_entities", json!({}));
        assert_eq!(ok(&again), &first, "a hit answers what the miss loaded");
    }
    for topic in [
        "getting-started",
        "getting-started",
        "commands",
        "getting-started",
    ] {
        ok(&c.call_tool("ide_agents_fetch_doc", json!({ "topic": topic })));
    }
    // A backend that answers with an error status is named in the span too.
    let missing = c.call_tool("ide_agents_fetch_doc", json!({"topic": "no such topic"}));
    assert_eq!(missing["isError"], true, "{missing}");
    // The catalog form shares the entry of the tool it stands for.
    ok(&c.call_tool("ide_agents_catalog", json!({"method": "list_entities"})));
    assert_eq!(backend.hits("GET /entities/mappings"), 1);
    assert_eq!(backend.hits("GET /documentation"), 3, "one per topic");

    d.signal(libc::SIGTERM);
    assert!(d.wait_exit().success());
    let spans = json_lines(&d.dir.path().join("logs/mcp_tool_spans.jsonl"));
    let cache_of = |tool: &str| -> Vec<(String, Value)> {
        spans
            .iter()
            .filter(|s| s["tool_name"] == tool)
            .map(|s| {
                let extra = &s["extra"];
                (
                    extra["cache"].as_str().unwrap_or("-").to_string(),
                    extra["backend_status"].clone(),
                )
            })
            .collect()
    };
    let hit = || ("hit".to_string(), Value::Null);
    assert_eq!(
        cache_of("ide_agents_list_entities"),
        vec![("miss".to_string(), json!(200)), hit(), hit(), hit(), hit()]
    );
    let docs: Vec<String> = cache_of("ide_agents_fetch_doc")
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(docs, ["miss", "hit", "miss", "hit", "-"]);
    let statuses: Vec<Value> = cache_of("ide_agents_fetch_doc")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(statuses.last(), Some(&json!(404)), "{statuses:?}");
    assert_eq!(cache_of("ide_agents_catalog"), vec![hit()]);
}

#[test]
fn with_caching_off_every_lookup_reaches_the_backend() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut c = d.client();
    for _ in 0..3 {
        ok(&c.call_tool("ide_agents_list_entities", json!({})));
        ok(&c.call_tool("ide_agents_fetch_doc", json!({"topic": "getting-started"})));
    }
    assert_eq!(backend.hits("GET /entities/mappings"), 3);
    assert_eq!(backend.hits("GET /documentation"), 3);
}

#[test]
fn a_failed_lookup_is_not_cached() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_RETRY_ATTEMPTS", "1")
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "100")
        .start();
    backend.faults(json!({"status": 503, "paths": ["/entities/mappings"]}));
    let mut c = d.client();
    let failed = c.call_tool("ide_agents_list_entities", json!({}));
    assert_eq!(failed["isError"], true, "{failed}");
    backend.faults(json!({}));
    ok(&c.call_tool("ide_agents_list_entities", json!({})));
    ok(&c.call_tool("ide_agents_list_entities", json!({})));
    assert_eq!(
        backend.hits("GET /entities/mappings"),
        2,
        "the failure was not kept; the success was"
    );
}

#[test]
fn fifty_concurrent_misses_from_two_workers_make_one_backend_request() {
    let backend = Backend::start();
    // Slow enough that every call arrives while the first load is still at the backend.
    backend.faults(json!({"latency_ms": 300, "paths": ["/documentation"]}));
    let d = daemon_for(&backend).env("IDE_AGENTS_WORKERS", "2").start();
    // Ten connections, spread over both workers, five calls pipelined on each.
    let mut clients: Vec<_> = (0..10).map(|_| d.client()).collect();
    let call = |id: usize| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "ide_agents_fetch_doc", "arguments": {"topic": "getting-started"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
    };
    for (n, c) in clients.iter_mut().enumerate() {
        for k in 0..5 {
            c.send(&call(n * 5 + k));
        }
    }
    let mut answers = Vec::new();
    for c in &mut clients {
        for _ in 0..5 {
            answers.push(c.read().expect("an answer"));
        }
    }
    let first = ok(&answers[0]["result"]).clone();
    for a in &answers {
        assert_eq!(
            ok(&a["result"]),
            &first,
            "every waiter gets the one load's result"
        );
    }
    assert_eq!(answers.len(), 50);
    assert_eq!(backend.hits("GET /documentation"), 1);
}
