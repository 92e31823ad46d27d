//! The daemon's warnings reach the IDEs as MCP log messages (`notifications/message`), at
//! the level each client asked for with `logging/setLevel`.

mod common;

use common::daemon;
use serde_json::json;

#[test]
fn a_daemon_warning_reaches_handshaken_clients_at_their_level() {
    // One worker: its router tells its sessions in order, before either reads again.
    let d = daemon()
        .env("IDE_AGENTS_WORKERS", "1")
        .env("IDE_AGENTS_RATE_PER_SEC", "0")
        .start();
    let mut told = d.initialized_client();
    let mut quiet = d.initialized_client();
    let set = quiet.call("logging/setLevel", json!({"level": "error"}));
    assert_eq!(set["result"], json!({}), "{set}");
    // 65 pending approvals: the oldest is pushed out, with a warning in the daemon's log.
    let mut asking = d.client();
    for i in 0..65 {
        let r = asking.call_tool(
            "ide_agents_run_command",
            json!({"command": format!("echo {i}")}),
        );
        assert_eq!(r["structuredContent"]["error"]["code"], "approval_required");
    }
    let message = told.read().expect("a log message");
    assert_eq!(message["method"], "notifications/message", "{message}");
    assert_eq!(message["params"]["level"], "warning");
    assert_eq!(message["params"]["logger"], "ide-agentsd");
    let data = message["params"]["data"].as_str().unwrap();
    assert!(data.contains("is dropped for a new one"), "{data}");
    // Asked for errors only: its first message is the answer to its ping, not the warning.
    quiet.request(json!("p"), "ping", json!({}));
    let first = quiet.read().unwrap();
    assert_eq!(first["id"], "p", "{first}");
}
