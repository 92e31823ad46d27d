//! The MCP protocol over the socket: versions, lifecycle, framing faults, concurrency.

mod common;

use common::{Backend, Client, daemon, daemon_for};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, Write};

#[test]
fn every_legacy_version_is_negotiated_and_an_unknown_one_gets_the_newest() {
    let d = daemon().start();
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
    ] {
        let mut c = d.client();
        let r = c.call("initialize", json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}));
        let result = &r["result"];
        assert_eq!(result["protocolVersion"], answered, "asked {asked}");
        assert_eq!(result["serverInfo"]["name"], "ide-agentsd");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(
            result["instructions"]
                .as_str()
                .unwrap()
                .contains("ide-agentsd")
        );
        assert_eq!(result["capabilities"]["tools"]["listChanged"], true);
        // The session now serves requests.
        let list = c.call("tools/list", json!({}));
        assert!(
            list["result"]["tools"].as_array().unwrap().len() >= 3,
            "{list}"
        );
    }
}

#[test]
fn server_discover_answers_before_any_handshake() {
    let d = daemon().start();
    let mut c = d.client();
    let r = c.call("server/discover", json!({}));
    let result = &r["result"];
    assert_eq!(
        result["supportedVersions"],
        json!([
            "2026-07-28",
            "2025-11-25",
            "2025-06-18",
            "2025-03-26",
            "2024-11-05"
        ])
    );
    assert_eq!(result["serverInfo"]["name"], "ide-agentsd");
    assert_eq!(result["cacheScope"], "private");
    assert!(result["ttlMs"].as_u64().unwrap() > 0);
    assert!(result["capabilities"]["tools"].is_object());
    // A client that probes first and then falls back to initialize is served at once.
    let init = c.call("initialize", json!({"protocolVersion": "2025-03-26"}));
    assert_eq!(init["result"]["protocolVersion"], "2025-03-26");
}

#[test]
fn requests_before_initialize_are_refused_except_ping() {
    let d = daemon().start();
    let mut c = d.client();
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
    let r = c.call("tools/list", json!({}));
    assert_eq!(r["error"]["code"], -32600);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not initialized"),
        "{r}"
    );
    let r = c.call("tools/call", json!({"name": "ide_agents_healthz"}));
    assert_eq!(r["error"]["code"], -32600);
    // A second initialize is refused; the first one still holds.
    assert!(c.call("initialize", json!({"protocolVersion": "2025-06-18"}))["result"].is_object());
    assert_eq!(c.call("initialize", json!({}))["error"]["code"], -32600);
    assert!(c.call("tools/list", json!({}))["result"]["tools"].is_array());
}

#[test]
fn modern_requests_need_no_handshake_and_unsupported_versions_get_32022() {
    let d = daemon().start();
    let mut c = d.client();
    let r = c.call_modern("tools/list", json!({}));
    assert_eq!(r["result"]["cacheScope"], "private");
    assert!(r["result"]["ttlMs"].as_u64().unwrap() > 0);
    assert_eq!(r["result"]["resultType"], "complete");
    let r = c.call(
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2030-01-01"}}),
    );
    assert_eq!(r["error"]["code"], -32022);
    assert_eq!(r["error"]["data"]["requested"], "2030-01-01");
    assert_eq!(r["error"]["data"]["supported"][0], "2026-07-28");
    // A version that is not a string is a malformed request, not a version to negotiate.
    for version in [json!(5), json!(null), json!(["2026-07-28"])] {
        let r = c.call(
            "tools/list",
            json!({"_meta": {"io.modelcontextprotocol/protocolVersion": version}}),
        );
        assert_eq!(r["error"]["code"], -32602, "{r}");
    }
    // The connection stays usable and still unininitialized for legacy requests.
    assert_eq!(c.call("tools/list", json!({}))["error"]["code"], -32600);
}

#[test]
fn initialize_without_a_version_string_is_refused_and_the_session_can_still_start() {
    let d = daemon().start();
    let mut c = d.client();
    for params in [json!({}), json!({"protocolVersion": 5}), json!(null)] {
        let r = c.call("initialize", params);
        assert_eq!(r["error"]["code"], -32602, "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("protocolVersion"),
            "{r}"
        );
    }
    assert_eq!(c.call("tools/list", json!({}))["error"]["code"], -32600);
    let r = c.call("initialize", json!({"protocolVersion": "2025-06-18"}));
    assert_eq!(r["result"]["protocolVersion"], "2025-06-18", "{r}");
}

#[test]
fn a_client_that_writes_its_whole_oversized_line_before_reading_still_gets_the_error() {
    let d = daemon()
        .env("IDE_AGENTS_MAX_MESSAGE_BYTES", "65536")
        .start();
    let mut c = d.initialized_client();
    // Far more than the socket buffers hold: the write finishes only if the daemon keeps
    // reading after it refused the line.
    let mut line = vec![b'x'; 4 << 20];
    line.push(b'\n');
    c.stream
        .write_all(&line)
        .expect("the daemon reads the rest of the line");
    let r = c.read().expect("the error, not a reset");
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("65536"),
        "{r}"
    );
    assert_eq!(c.read(), None, "closed after the error");
}

#[test]
fn json_the_parser_cannot_hold_is_read_as_meant_or_answered_to_its_id() {
    let d = daemon().start();
    let mut c = d.initialized_client();
    // Editor text cut inside an emoji, as JavaScript's JSON.stringify writes it.
    c.send_raw(
        r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"ide_agents_command","arguments":{"method":"explain","command":"review \ud83d"}}}"#,
    );
    let r = c.read().unwrap();
    assert_eq!(r["id"], 42, "{r}");
    assert_eq!(r["result"]["isError"], false, "{r}");
    c.send_raw("\u{feff}{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":\"ping\"}");
    assert_eq!(
        c.read().unwrap(),
        json!({"jsonrpc": "2.0", "id": 43, "result": {}})
    );
    // Valid JSON beyond f64: refused, but to the request that sent it.
    c.send_raw(r#"{"jsonrpc":"2.0","id":44,"method":"tools/list","params":{"n":1e400}}"#);
    let r = c.read().unwrap();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(44), json!(-32700)),
        "{r}"
    );
}

#[test]
fn requests_served_in_any_state_check_the_meta_version_too() {
    let d = daemon().start();
    let mut c = d.client();
    let unsupported = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2030-01-01"}});
    for method in ["ping", "initialize", "server/discover"] {
        let r = c.call(method, unsupported.clone());
        assert_eq!(r["error"]["code"], -32022, "{method}: {r}");
        assert_eq!(r["error"]["data"]["requested"], "2030-01-01");
        // The refusal still tells the client what it can speak.
        assert_eq!(r["error"]["data"]["supported"][0], "2026-07-28", "{r}");
    }
    // Discovery without a version, or naming a legacy one, answers.
    for params in [
        json!({}),
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2025-06-18"}}),
    ] {
        let r = c.call("server/discover", params);
        assert_eq!(r["result"]["supportedVersions"][0], "2026-07-28", "{r}");
    }
    // The refused initialize left the session uninitialized; a supported version is served.
    let modern = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
    assert_eq!(c.call("ping", modern)["result"], json!({}));
    let r = c.call("initialize", json!({"protocolVersion": "2025-06-18"}));
    assert_eq!(r["result"]["protocolVersion"], "2025-06-18");
}

#[test]
fn an_id_in_flight_is_refused_whichever_method_reuses_it() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut c = d.initialized_client();
    c.request(
        json!(7),
        "tools/call",
        json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"}}),
    );
    backend.wait_for("the call to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    for (method, params) in [
        ("ping", json!({})),
        ("server/discover", json!({})),
        ("initialize", json!({"protocolVersion": "2025-06-18"})),
        ("logging/setLevel", json!({"level": "info"})),
        (
            "resources/subscribe",
            json!({"uri": "ide-agents://build.logs"}),
        ),
        ("tools/list", json!({})),
    ] {
        c.request(json!(7), method, params);
        let r = c.read().unwrap();
        assert_eq!(r["id"], 7, "{method}: {r}");
        assert_eq!(r["error"]["code"], -32600, "{method}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already in flight"),
            "{method}: {r}"
        );
    }
    // Other ids are served as usual while 7 is in flight.
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
}

#[test]
fn malformed_input_gets_errors_and_the_connection_survives() {
    let d = daemon().start();
    let mut c = d.initialized_client();
    c.send_raw("{not json");
    let r = c.read().unwrap();
    assert_eq!(r["error"]["code"], -32700);
    assert_eq!(r["id"], Value::Null);
    c.send_raw("[1,2,3]");
    assert_eq!(c.read().unwrap()["error"]["code"], -32600);
    c.send_raw(r#"{"jsonrpc":"2.0","id":5}"#);
    let r = c.read().unwrap();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(5), json!(-32600))
    );
    c.send_raw(r#"{"jsonrpc":"2.0","id":6,"method":"no/such/method"}"#);
    assert_eq!(c.read().unwrap()["error"]["code"], -32601);
    let r = c.call("tools/list", json!({"cursor": "not-a-cursor"}));
    assert_eq!(r["error"]["code"], -32602);
    let r = c.call("tools/call", json!({"arguments": {}}));
    assert_eq!(r["error"]["code"], -32602);
    let r = c.call("logging/setLevel", json!({"level": "loud"}));
    assert_eq!(r["error"]["code"], -32602);
    assert_eq!(
        c.call("logging/setLevel", json!({"level": "debug"}))["result"],
        json!({})
    );
    // Still served after all of that.
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
}

#[test]
fn an_oversized_line_gets_an_error_then_a_close_and_memory_stays_flat() {
    let d = daemon()
        .env("IDE_AGENTS_MAX_MESSAGE_BYTES", "1048576")
        .start();
    // Warm up so the baseline includes the connection machinery.
    let mut warm = d.initialized_client();
    assert!(warm.call("tools/list", json!({}))["result"].is_object());
    let before = d.peak_rss_kib();

    let mut c = d.client();
    let mut writer = c.stream.try_clone().unwrap();
    // 64 MiB without a newline, written from another thread while we read the answer.
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            if writer.write_all(&chunk).is_err() {
                return; // the daemon closed the connection, as it should
            }
        }
    });
    let r = c.read().expect("an error before the close");
    assert_eq!(r["error"]["code"], -32600);
    assert_eq!(r["id"], Value::Null);
    assert!(
        r["error"]["message"].as_str().unwrap().contains("1048576"),
        "{r}"
    );
    // Closed: EOF, or a reset because the sender's unread bytes were discarded.
    let mut rest = String::new();
    match c.reader.read_line(&mut rest) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection must be closed after the error: {other:?} {rest:?}"),
    }
    sender.join().unwrap();

    let growth = d.peak_rss_kib().saturating_sub(before);
    assert!(
        growth < 8 * 1024,
        "peak RSS grew by {growth} KiB for a 64 MiB line"
    );
    // Other clients are still served.
    assert_eq!(warm.call("ping", json!({}))["result"], json!({}));
}

#[test]
fn a_hundred_pipelined_requests_are_all_answered_with_matching_ids() {
    let d = daemon().start();
    let mut c = d.initialized_client();
    let mut batch = String::new();
    for i in 0..100 {
        let (method, params) = match i % 3 {
            0 => (
                "tools/call",
                json!({"name": "ide_agents_healthz", "arguments": {}}),
            ),
            1 => ("ping", json!({})),
            _ => ("tools/list", json!({})),
        };
        batch.push_str(
            &json!({"jsonrpc": "2.0", "id": format!("r{i}"), "method": method, "params": params})
                .to_string(),
        );
        batch.push('\n');
    }
    c.stream.write_all(batch.as_bytes()).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let r = c.read().unwrap();
        let id = r["id"].as_str().unwrap().to_string();
        let i: usize = id[1..].parse().unwrap();
        assert!(r.get("result").is_some(), "{r}");
        if i.is_multiple_of(3) {
            assert_eq!(r["result"]["structuredContent"]["status"], "live");
        }
        assert!(seen.insert(id), "duplicate answer");
    }
    assert_eq!(seen.len(), 100);
}

#[test]
fn half_close_still_answers_every_request_in_flight() {
    let d = daemon().start();
    let mut c = d.client();
    let mut batch = String::new();
    for i in 0..50 {
        let req = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "ide_agents_healthz", "arguments": {},
                       "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
        batch.push_str(&req.to_string());
        batch.push('\n');
    }
    // Requests and EOF arrive together: the daemon sees EOF with all of them in flight.
    c.stream.write_all(batch.as_bytes()).unwrap();
    c.shutdown_write();
    let mut ids = HashSet::new();
    while let Some(r) = c.read() {
        assert_eq!(r["result"]["isError"], false, "{r}");
        ids.insert(r["id"].as_i64().unwrap());
    }
    assert_eq!(ids, (0..50).collect::<HashSet<i64>>());
}

#[test]
fn two_clients_are_served_at_once() {
    let d = daemon().start();
    let mut a = d.initialized_client();
    let mut b = Client::connect(&d.socket);
    // b uses the stateless era while a holds a legacy session open.
    let rb = b.call_tool("ide_agents_healthz", json!({}));
    let ra = a.call("tools/call", json!({"name": "ide_agents_healthz"}));
    assert_eq!(rb["structuredContent"]["status"], "live");
    assert_eq!(ra["result"]["structuredContent"]["status"], "live");
    // a's session state is its own: b is still uninitialized for legacy requests.
    assert_eq!(b.call("tools/list", json!({}))["error"]["code"], -32600);
}

#[test]
fn an_id_used_again_after_a_cancel_gets_the_answer_of_its_new_request() {
    let d = daemon().start();
    let mut c = d.initialized_client();
    let call = |id: &str, tool: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": tool, "arguments": {}}})
        .to_string()
    };
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": "x"}});
    // One write, so the session reads all four before the router answers any: the first
    // call's answer is already on its way when its id names the second call.
    let batch = [
        call("x", "ide_agents_healthz"),
        cancel.to_string(),
        call("x", "ide_agents_server_instructions"),
        call("after", "ide_agents_healthz"),
    ]
    .join("\n");
    c.stream.write_all(format!("{batch}\n").as_bytes()).unwrap();
    let mut answers = Vec::new();
    while let Some(r) = c.read() {
        let last = r["id"] == "after";
        answers.push(r);
        if last {
            break;
        }
    }
    let for_x: Vec<&Value> = answers.iter().filter(|r| r["id"] == "x").collect();
    assert_eq!(for_x.len(), 1, "{answers:?}");
    let content = &for_x[0]["result"]["structuredContent"];
    assert!(
        content.get("status").is_none() && content.get("tools").is_some(),
        "x was answered with the cancelled call's result: {content}"
    );
}

// ---- JSON-RPC batches (protocol 2025-03-26 only) ----

fn message(id: Value, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A client whose session negotiated `version`.
fn client_of(d: &common::Daemon, version: &str) -> Client {
    let mut c = d.client();
    let r = c.call(
        "initialize",
        json!({"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert_eq!(r["result"]["protocolVersion"], version, "{r}");
    c.notify("notifications/initialized", json!({}));
    c
}

/// The answers of an array line, by id.
fn by_id(line: &Value) -> std::collections::HashMap<String, Value> {
    let answers = line
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {line}"));
    let map: std::collections::HashMap<String, Value> = answers
        .iter()
        .map(|a| (a["id"].to_string(), a.clone()))
        .collect();
    assert_eq!(map.len(), answers.len(), "two answers under one id: {line}");
    map
}

/// Proves nothing was written before: the next line is the answer to this ping.
fn next_line_answers_a_ping(c: &mut Client) {
    c.request(json!("probe"), "ping", json!({}));
    let r = c.read().unwrap();
    assert_eq!(r, json!({"jsonrpc": "2.0", "id": "probe", "result": {}}));
}

#[test]
fn a_2025_03_26_batch_is_answered_with_one_array_of_its_responses() {
    let (_d, mut c) = batching();
    c.send(&json!([
        message(json!(1), "ping", json!({})),
        message(json!("list"), "tools/list", json!({})),
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
    ]));
    let answers = by_id(&c.read().unwrap());
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers["1"]["result"], json!({}));
    assert_eq!(answers["1"]["jsonrpc"], "2.0");
    let tools = answers["\"list\""]["result"]["tools"].as_array().unwrap();
    assert!(tools.len() >= 3, "{tools:?}");
    next_line_answers_a_ping(&mut c);
}

#[test]
fn a_batch_waits_for_its_slow_request_while_progress_and_half_close_go_on() {
    let backend = Backend::start();
    backend.faults(json!({"latency_ms": 700, "paths": ["/documentation"]}));
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_PROGRESS_INTERVAL_SECS", "0.1")
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut c = client_of(&d, "2025-03-26");
    c.send(&json!([
        message(
            json!("slow"),
            "tools/call",
            json!({
                "name": "ide_agents_fetch_doc",
                "arguments": {"topic": "getting-started"},
                "_meta": {"progressToken": "tok"},
            })
        ),
        message(
            json!("fast"),
            "tools/call",
            json!({"name": "ide_agents_healthz", "arguments": {}})
        ),
    ]));
    // No more requests: the session still owes the batch and answers it before closing.
    c.shutdown_write();
    let mut progress = 0;
    let array = loop {
        let line = c.read().expect("the batch's answers before EOF");
        if line["method"] == "notifications/progress" {
            assert_eq!(line["params"]["progressToken"], "tok", "{line}");
            progress += 1;
        } else {
            break line;
        }
    };
    assert!(
        progress >= 2,
        "progress is written on its own lines meanwhile"
    );
    let answers = by_id(&array);
    assert_eq!(answers.len(), 2, "{array}");
    assert_eq!(
        answers["\"fast\""]["result"]["structuredContent"]["status"],
        "live"
    );
    let slow = &answers["\"slow\""]["result"];
    assert_eq!(slow["isError"], false, "{slow}");
    assert_eq!(
        slow["structuredContent"]["documentation"]["topic"],
        "getting-started"
    );
    assert_eq!(c.read(), None, "closed once the batch was answered");
}

#[test]
fn a_cancelled_request_leaves_its_batch_which_is_written_without_it() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut c = client_of(&d, "2025-03-26");
    let hung = |id: &str| {
        message(
            json!(id),
            "tools/call",
            json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"}}),
        )
    };
    let cancel = |id: &str| json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id}});
    c.send(&json!([hung("a"), message(json!("p"), "ping", json!({}))]));
    backend.wait_for("the call to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    c.send(&cancel("a"));
    let answers = by_id(&c.read().unwrap());
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers["\"p\""]["result"], json!({}));
    // A batch whose only request is cancelled, inside the batch itself, is never answered.
    c.send(&json!([hung("b"), cancel("b")]));
    next_line_answers_a_ping(&mut c);
}

#[test]
fn ids_in_a_batch_follow_the_in_flight_rule() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut c = client_of(&d, "2025-03-26");
    c.request(
        json!(7),
        "tools/call",
        json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"}}),
    );
    backend.wait_for("the call to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    // 7 is in flight; 8's answer waits in the array when the second 8 comes.
    c.send(&json!([
        message(json!(7), "ping", json!({})),
        message(json!(8), "ping", json!({})),
        message(json!(8), "tools/list", json!({})),
    ]));
    let array = c.read().unwrap();
    let answers = array.as_array().unwrap();
    assert_eq!(answers.len(), 3, "{array}");
    let in_flight = |a: &&Value| {
        a["error"]["code"] == -32600
            && a["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already in flight")
    };
    let refused: Vec<&Value> = answers.iter().filter(in_flight).collect();
    assert_eq!(refused.len(), 2, "{array}");
    assert!(refused.iter().any(|a| a["id"] == 7) && refused.iter().any(|a| a["id"] == 8));
    assert!(answered_empty(answers, 8), "{array}");
}

#[test]
fn a_batch_of_notifications_only_gets_no_answer() {
    let (_d, mut c) = batching();
    c.send(&json!([
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
    ]));
    next_line_answers_a_ping(&mut c);
}

#[test]
fn an_empty_batch_gets_one_invalid_request_error() {
    let (_d, mut c) = batching();
    c.send_raw(" [ ] ");
    let r = c.read().unwrap();
    assert_eq!(r["jsonrpc"], "2.0", "{r}");
    assert_eq!(r["id"], Value::Null, "{r}");
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("empty batch"),
        "{r}"
    );
    // A batch that is not JSON is one parse error too.
    c.send_raw(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},"#);
    let r = c.read().unwrap();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (Value::Null, json!(-32700))
    );
    next_line_answers_a_ping(&mut c);
}

#[test]
fn an_invalid_element_of_a_batch_gets_its_own_error_inside_the_array() {
    let (_d, mut c) = batching();
    c.send_raw(r#"[1, {"jsonrpc":"2.0","id":5}, {"jsonrpc":"2.0","id":6,"method":"ping"}]"#);
    let array = c.read().unwrap();
    let answers = array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"));
    assert_eq!(answers.len(), 3, "{array}");
    let errors: Vec<(Value, Value)> = answers
        .iter()
        .filter(|a| a.get("error").is_some())
        .map(|a| (a["id"].clone(), a["error"]["code"].clone()))
        .collect();
    assert_eq!(errors.len(), 2, "{array}");
    assert!(errors.contains(&(Value::Null, json!(-32600))), "{array}");
    assert!(errors.contains(&(json!(5), json!(-32600))), "{array}");
    assert!(answered_empty(answers, 6), "{array}");
}

#[test]
fn initialize_inside_a_batch_is_refused_inside_the_array() {
    let (_d, mut c) = batching();
    c.send(&json!([
        message(
            json!(1),
            "initialize",
            json!({"protocolVersion": "2025-03-26"})
        ),
        message(json!(2), "ping", json!({})),
    ]));
    let answers = by_id(&c.read().unwrap());
    assert_eq!(answers["1"]["error"]["code"], -32600, "{answers:?}");
    let why = answers["1"]["error"]["message"].as_str().unwrap();
    assert!(
        why.contains("initialize must not be part of a JSON-RPC batch"),
        "{why}"
    );
    assert_eq!(answers["2"]["result"], json!({}));
}

#[test]
fn a_batch_in_any_other_version_or_before_the_handshake_gets_one_error_naming_2025_03_26() {
    let d = daemon().start();
    let batch = json!([
        message(json!(1), "ping", json!({})),
        message(json!(2), "tools/list", json!({})),
    ]);
    let uninitialized = d.client();
    let clients = [
        ("2025-06-18", client_of(&d, "2025-06-18")),
        ("2025-11-25", client_of(&d, "2025-11-25")),
        ("2024-11-05", client_of(&d, "2024-11-05")),
        ("no handshake", uninitialized),
    ];
    for (what, mut c) in clients {
        c.send(&batch);
        let r = c.read().unwrap();
        assert_eq!(r["id"], Value::Null, "{what}: {r}");
        assert_eq!(r["error"]["code"], -32600, "{what}: {r}");
        let why = r["error"]["message"].as_str().unwrap();
        assert!(
            why.contains("2025-03-26") && why.contains("one message per line"),
            "{what}: {why}"
        );
        next_line_answers_a_ping(&mut c);
    }
}

#[test]
fn a_batch_in_flight_when_the_daemon_stops_is_written_whole_before_it_exits() {
    let backend = Backend::start();
    backend.faults(json!({"latency_ms": 500, "paths": ["/documentation"]}));
    let mut d = daemon_for(&backend)
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut c = client_of(&d, "2025-03-26");
    c.send(&json!([
        message(
            json!("doc"),
            "tools/call",
            json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "getting-started"}})
        ),
        message(json!("p"), "ping", json!({})),
    ]));
    backend.wait_for("the call to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    d.signal(libc::SIGTERM);
    let answers = by_id(&c.read().expect("the batch's array before the close"));
    assert_eq!(
        answers["\"doc\""]["result"]["isError"], false,
        "{answers:?}"
    );
    assert_eq!(answers["\"p\""]["result"], json!({}));
    assert_eq!(c.read(), None);
    assert!(d.wait_exit().success());
}

#[test]
fn a_batch_asking_more_than_the_in_flight_limit_is_refused_past_it() {
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut c = client_of(&d, "2025-03-26");
    let pings = |from: usize, n: usize| -> Vec<Value> {
        (from..from + n)
            .map(|i| message(json!(i), "ping", json!({})))
            .collect()
    };
    // One call held by the backend keeps this batch open, with its 1000 answers waiting.
    let mut first = vec![message(
        json!("slow"),
        "tools/call",
        json!({"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"}}),
    )];
    first.extend(pings(0, 1000));
    c.send(&Value::Array(first));
    backend.wait_for("the call to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    // 1001 requests open: the next batch gets 23 answers, then refusals.
    c.send(&Value::Array(pings(1000, 100)));
    let second = c.read().unwrap();
    let answers = second.as_array().unwrap();
    assert_eq!(answers.len(), 100, "{second}");
    let answered = answers.iter().filter(|a| a.get("result").is_some()).count();
    assert_eq!(answered, 23, "answers held in a batch count as in flight");
    let refused = answers.iter().find(|a| a.get("error").is_some()).unwrap();
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024 requests"),
        "{refused}"
    );
    // The slow call cancelled, the first batch is written, and nothing counts any more.
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow"}}));
    assert_eq!(by_id(&c.read().unwrap()).len(), 1000);
    next_line_answers_a_ping(&mut c);
}

#[test]
fn a_batch_of_more_than_1024_messages_is_one_error() {
    let (_d, mut c) = batching();
    let pings = |n: usize| -> Value {
        Value::Array(
            (0..n)
                .map(|i| message(json!(i), "ping", json!({})))
                .collect(),
        )
    };
    c.send(&pings(1025));
    let r = c.read().unwrap();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (Value::Null, json!(-32600)),
        "{r}"
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1024"),
        "{r}"
    );
    c.send(&pings(1024));
    assert_eq!(by_id(&c.read().unwrap()).len(), 1024);
}

/// Whether a batch's `answers` hold `{}` as the result for request `id` (a ping's).
fn answered_empty(answers: &[Value], id: i64) -> bool {
    answers
        .iter()
        .any(|a| a["id"] == id && a["result"] == json!({}))
}

/// A daemon and a session in 2025-03-26, the one version with batches.
fn batching() -> (common::Daemon, Client) {
    let d = daemon().start();
    let c = client_of(&d, "2025-03-26");
    (d, c)
}
