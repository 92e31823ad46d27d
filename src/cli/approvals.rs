//! `ide-agentsd approvals`, `approve <id> [--ttl 10m]`, `deny <id>`.

use super::client::{
    CONTROL_TIMEOUT, Client, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, timeout_or,
    unreachable_message,
};
use super::terminal::outln;
use crate::approvals::parse_ttl;
use crate::visible::printable;
use serde_json::{Value, json};
use std::path::Path;

pub enum Action<'a> {
    List,
    Approve { id: &'a str, ttl: Option<&'a str> },
    Deny { id: &'a str },
}

pub fn run(path: &Path, action: Action<'_>) -> i32 {
    let (method, params) = match action {
        Action::List => ("ide-agents/approvals/list", json!({})),
        Action::Approve { id, ttl } => {
            let ttl_seconds = match ttl.map(parse_ttl) {
                None => None,
                Some(Some(d)) => Some(d.as_secs_f64()),
                Some(None) => {
                    eprintln!("ide-agentsd approve: --ttl takes a duration like 90s, 10m or 2h");
                    return EXIT_USAGE;
                }
            };
            (
                "ide-agents/approvals/approve",
                json!({"action_id": id, "ttl_seconds": ttl_seconds}),
            )
        }
        Action::Deny { id } => ("ide-agents/approvals/deny", json!({"action_id": id})),
    };
    let mut client = match Client::connect(path, timeout_or(CONTROL_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", unreachable_message(path, &e));
            return EXIT_UNREACHABLE;
        }
    };
    match client.request(method, params) {
        Ok(result) => {
            print_result(method, &result);
            EXIT_OK
        }
        Err(e) => {
            eprintln!("ide-agentsd: {e}");
            EXIT_ERROR
        }
    }
}

fn print_result(method: &str, result: &Value) {
    match method {
        "ide-agents/approvals/list" => {
            let pending = result["pending"].as_array().cloned().unwrap_or_default();
            if pending.is_empty() {
                outln!("no pending approvals");
            }
            for p in pending {
                outln!(
                    "{}  {}  (via {}, expires in {} s)",
                    p["action_id"].as_str().unwrap_or("?"),
                    printable(p["command"].as_str().unwrap_or("?")),
                    p["tool"].as_str().unwrap_or("?"),
                    p["expires_in_s"]
                );
            }
        }
        "ide-agents/approvals/approve" => outln!(
            "approved once: {} (valid for {} s)",
            printable(result["command"].as_str().unwrap_or("?")),
            result["ttl_seconds"]
        ),
        _ => outln!(
            "denied: {}",
            printable(result["command"].as_str().unwrap_or("?"))
        ),
    }
}
