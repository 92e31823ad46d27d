//! `ide-agentsd stop` and `ide-agentsd reload`: the control methods, from a shell.

use super::client::{
    CALL_TIMEOUT, CONTROL_TIMEOUT, Client, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, timeout_or,
    unreachable_message,
};
use super::terminal::outln;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Asks the daemon to drain and exit, and returns once it has: `stop && serve` then
/// restarts instead of finding the old daemon still there.
pub fn stop(path: &Path) -> i32 {
    let result = match request(path, "ide-agents/stop") {
        Ok(result) => result,
        Err(code) => return code,
    };
    let Some(pid) = result["pid"].as_i64().and_then(|p| i32::try_from(p).ok()) else {
        outln!("ide-agentsd is stopping after its in-flight requests");
        return EXIT_OK;
    };
    outln!("ide-agentsd (pid {pid}) is stopping after its in-flight requests");
    let wait = timeout_or(CALL_TIMEOUT);
    let deadline = Instant::now() + wait;
    while running(pid) {
        if Instant::now() >= deadline {
            eprintln!(
                "ide-agentsd: pid {pid} is still stopping after {:.0} s",
                wait.as_secs_f64()
            );
            return EXIT_ERROR;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    outln!("ide-agentsd (pid {pid}) stopped");
    EXIT_OK
}

/// Asks every worker to reload; answers once they all did.
pub fn reload(path: &Path) -> i32 {
    match request(path, "ide-agents/reload") {
        Ok(r) => {
            outln!("ide-agentsd reloaded ({} workers)", r["workers"]);
            EXIT_OK
        }
        Err(code) => code,
    }
}

/// One control request; on failure, the message is printed and the exit code returned.
fn request(path: &Path, method: &str) -> Result<Value, i32> {
    let mut client = match Client::connect(path, timeout_or(CONTROL_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", unreachable_message(path, &e));
            return Err(EXIT_UNREACHABLE);
        }
    };
    client.request(method, json!({})).map_err(|e| {
        eprintln!("ide-agentsd: {method} failed: {e}");
        EXIT_ERROR
    })
}

/// Whether process `pid` still runs: it exists and is not a zombie waiting to be reaped
/// (an exited daemon whose parent has not waited yet has stopped all the same).
fn running(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    // The state follows the command name in parentheses, which may itself hold spaces.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}
