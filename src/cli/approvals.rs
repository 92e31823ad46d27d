//! `ide-agentsd approvals`, `approve <id> [--ttl 10m]`, `deny <id>`.

use super::client::{
    CONTROL_TIMEOUT, Client, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, timeout_or,
    unreachable_message,
};
use crate::approvals::parse_ttl;
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
                println!("no pending approvals");
            }
            for p in pending {
                println!(
                    "{}  {}  (via {}, expires in {} s)",
                    p["action_id"].as_str().unwrap_or("?"),
                    printable(p["command"].as_str().unwrap_or("?")),
                    p["tool"].as_str().unwrap_or("?"),
                    p["expires_in_s"]
                );
            }
        }
        "ide-agents/approvals/approve" => println!(
            "approved once: {} (valid for {} s)",
            printable(result["command"].as_str().unwrap_or("?")),
            result["ttl_seconds"]
        ),
        _ => println!(
            "denied: {}",
            printable(result["command"].as_str().unwrap_or("?"))
        ),
    }
}

/// The command as the terminal must show it to the person deciding: whole, with control
/// characters (a carriage return that hides what precedes it, escape sequences, newlines
/// that fake another entry) and invisible direction or width marks written as escapes.
fn printable(command: &str) -> String {
    let mut out = String::with_capacity(command.len());
    for c in command.chars() {
        let invisible = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || invisible {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn what_a_terminal_would_hide_is_written_as_escapes() {
        assert_eq!(printable("ls -la"), "ls -la");
        assert_eq!(
            printable("ls -la /root/.ssh\r\u{1b}[18Cpwd\u{1b}[K"),
            "ls -la /root/.ssh\\r\\u{1b}[18Cpwd\\u{1b}[K"
        );
        assert_eq!(printable("a\nb\u{202e}c é"), "a\\nb\\u{202e}c é");
    }
}
