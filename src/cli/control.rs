//! `ide-agentsd stop` and `ide-agentsd reload`: the control methods, from a shell.

use super::client::{
    CONTROL_TIMEOUT, Client, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, timeout_or, unreachable_message,
};
use serde_json::{Value, json};
use std::path::Path;

/// Asks the daemon to drain and exit.
pub fn stop(path: &Path) -> i32 {
    run(path, "ide-agents/stop", |r| match r["pid"].as_u64() {
        Some(pid) => format!("ide-agentsd (pid {pid}) is stopping after its in-flight requests"),
        None => "ide-agentsd is stopping after its in-flight requests".to_string(),
    })
}

/// Asks every worker to reload; answers once they all did.
pub fn reload(path: &Path) -> i32 {
    run(path, "ide-agents/reload", |r| {
        format!("ide-agentsd reloaded ({} workers)", r["workers"])
    })
}

fn run(path: &Path, method: &str, describe: impl Fn(&Value) -> String) -> i32 {
    let mut client = match Client::connect(path, timeout_or(CONTROL_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", unreachable_message(path, &e));
            return EXIT_UNREACHABLE;
        }
    };
    match client.request(method, json!({})) {
        Ok(result) => {
            println!("{}", describe(&result));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("ide-agentsd: {method} failed: {e}");
            EXIT_ERROR
        }
    }
}
