//! `notifications/progress` for long calls that asked for them with `_meta.progressToken`.

mod common;

use common::{Backend, daemon_for};
use serde_json::{Value, json};

#[test]
fn a_long_call_with_a_progress_token_reports_progress_until_it_answers() {
    let backend = Backend::start();
    backend.faults(json!({"latency_ms": 800, "paths": ["/documentation"]}));
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_PROGRESS_INTERVAL_SECS", "0.1")
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut c = d.initialized_client();
    c.request(
        json!("slow"),
        "tools/call",
        json!({
            "name": "ide_agents_fetch_doc",
            "arguments": {"topic": "getting-started"},
            "_meta": {"progressToken": "tok-7"},
        }),
    );
    let mut progress = Vec::new();
    let answer = loop {
        let msg = c.read().expect("an answer");
        if msg["method"] == "notifications/progress" {
            assert_eq!(msg["params"]["progressToken"], "tok-7", "{msg}");
            assert!(msg["params"]["message"].is_string(), "{msg}");
            progress.push(msg["params"]["progress"].as_u64().unwrap());
        } else {
            break msg;
        }
    };
    assert_eq!(answer["id"], "slow");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");

    // Once answered it stops; a quick call with a token and one without get none.
    c.request(
        json!("quick"),
        "tools/call",
        json!({"name": "ide_agents_healthz", "arguments": {}, "_meta": {"progressToken": 9}}),
    );
    c.request(json!("last"), "ping", json!({}));
    let mut rest: Vec<Value> = Vec::new();
    while rest.last().is_none_or(|m| m["id"] != "last") {
        rest.push(c.read().expect("answers"));
    }
    assert!(
        rest.iter().all(|m| m["method"] != "notifications/progress"),
        "{rest:?}"
    );
}
