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

/// The 34 tool names the existing users call, exactly, in listing order (SPEC §3; the ML
/// tools carry the `ide_agents_ml_` prefix).
const SPEC_TOOLS: [&str; 34] = [
    "ide_agents_catalog",
    "ide_agents_command",
    "ide_agents_fetch_doc",
    "ide_agents_github_rank_all",
    "ide_agents_github_rank_repos",
    "ide_agents_github_repos",
    "ide_agents_health",
    "ide_agents_healthz",
    "ide_agents_list_entities",
    "ide_agents_metrics_snapshot",
    "ide_agents_ml_adjust_personality",
    "ide_agents_ml_analyze_emotion",
    "ide_agents_ml_analyze_reasoning",
    "ide_agents_ml_behavioral_baseline_check",
    "ide_agents_ml_calibrate_confidence",
    "ide_agents_ml_get_calibration_metrics",
    "ide_agents_ml_get_learning_insights",
    "ide_agents_ml_get_personality_profile",
    "ide_agents_ml_get_predictions",
    "ide_agents_ml_get_rlhf_metrics",
    "ide_agents_ml_get_system_status",
    "ide_agents_ml_get_ultra_dashboard",
    "ide_agents_ml_rank_predictions_rlhf",
    "ide_agents_ml_record_prediction_outcome",
    "ide_agents_ml_trigger_auto_adaptation",
    "ide_agents_prompt",
    "ide_agents_readyz",
    "ide_agents_reload",
    "ide_agents_resource",
    "ide_agents_run_command",
    "ide_agents_security_anomalies",
    "ide_agents_server_instructions",
    "ide_agents_ultra_calibrate",
    "ide_agents_ultra_rank",
];

fn listed_names(c: &mut common::Client) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let r = c.call_modern("tools/list", json!({ "cursor": cursor }));
        for t in r["result"]["tools"].as_array().unwrap() {
            names.push(t["name"].as_str().unwrap().to_string());
        }
        cursor = r["result"]["nextCursor"].clone();
        if cursor.is_null() {
            return names;
        }
    }
}

#[test]
fn with_ultra_enabled_all_34_tools_are_listed_by_their_existing_names() {
    let d = daemon().env("IDE_AGENTS_ULTRA_ENABLED", "true").start();
    assert_eq!(listed_names(&mut d.client()), SPEC_TOOLS);
    // Without ULTRA its two tools and the 15 ML tools are not offered.
    let d = daemon().env("IDE_AGENTS_ULTRA_ENABLED", "false").start();
    let names = listed_names(&mut d.client());
    assert_eq!(names.len(), 34 - 17, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("ide_agents_ml_") && !n.contains("ultra"))
    );
}
