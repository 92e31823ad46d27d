//! The core tools that need no backend, and the tools/call contract they share.

mod common;

use common::daemon;
use serde_json::{Value, json};

#[test]
fn healthz_reports_live_with_a_utc_time() {
    let d = daemon().start();
    let r = d.client().call_tool("ide_agents_healthz", json!({}));
    assert_eq!(r["isError"], false);
    let s = &r["structuredContent"];
    assert_eq!(s["status"], "live");
    let time = s["time"].as_str().unwrap();
    assert!(
        time.ends_with('Z') && time.len() == 24 && &time[10..11] == "T",
        "{time}"
    );
    // The text content is the compact JSON of the structured result.
    let text: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(&text, s);
}

#[test]
fn health_and_server_instructions_describe_the_daemon() {
    let d = daemon().start();
    let mut c = d.client();
    let h = c.call_tool("ide_agents_health", json!({}));
    let h = &h["structuredContent"];
    // No backend runs here: its state is unknown until probed, then down; never "up".
    assert_ne!(h["backend_ok"], true);
    assert_eq!(h["ok"], !h["backend_ok"].is_boolean());
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(h["ultra_enabled"], false);
    assert_eq!(h["ml_loaded"], false);
    let i = c.call_tool("ide_agents_server_instructions", json!({}));
    let i = &i["structuredContent"];
    let tools: Vec<&str> = i["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"ide_agents_healthz") && tools.contains(&"ide_agents_server_instructions")
    );
    assert!(i["summary"].as_str().unwrap().len() > 40);
}

#[test]
fn tools_list_is_deterministic_with_real_schemas_and_annotations() {
    let d = daemon().start();
    let mut c = d.client();
    let a = c.call_modern("tools/list", json!({}));
    let b = c.call_modern("tools/list", json!({}));
    assert_eq!(a["result"], b["result"]);
    let tools = a["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        assert_eq!(t["inputSchema"]["additionalProperties"], false, "{t}");
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(t["annotations"][hint].is_boolean(), "{hint} in {t}");
        }
    }
}

#[test]
fn every_argument_envelope_is_unwrapped_before_validation() {
    let d = daemon().start();
    let mut c = d.client();
    // An argument the schema refuses shows whether the envelope was unwrapped: the error
    // must name `stray`, not the wrapper key.
    for envelope in [
        json!({"stray": 1}),
        json!({"arguments": {"stray": 1}}),
        json!({"arguments": "{\"stray\": 1}"}),
        json!({"kwargs": {"stray": 1}}),
    ] {
        let r = c.call_tool("ide_agents_healthz", envelope.clone());
        assert_eq!(r["isError"], true, "{envelope}");
        assert_eq!(r["structuredContent"]["error"]["code"], "invalid_arguments");
        let msg = r["structuredContent"]["error"]["message"].as_str().unwrap();
        assert!(msg.contains("`stray`"), "{envelope}: {msg}");
    }
    for envelope in [
        json!({}),
        json!({"arguments": {}}),
        json!({"arguments": "{}"}),
        json!({"kwargs": {}}),
    ] {
        let r = c.call_tool("ide_agents_healthz", envelope.clone());
        assert_eq!(r["isError"], false, "{envelope}: {r}");
    }
    let r = c.call_tool("ide_agents_healthz", json!({"arguments": "{broken"}));
    assert_eq!(r["structuredContent"]["error"]["code"], "invalid_arguments");
}

#[test]
fn an_unknown_tool_is_a_tool_error_not_a_protocol_error() {
    let d = daemon().start();
    let r = d.client().call_tool("ide_agents_nope", json!({}));
    assert_eq!(r["isError"], true);
    assert_eq!(r["structuredContent"]["error"]["code"], "unknown_tool");
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("ide_agents_nope")
    );
}
