//! A short soak in the test suite (the full one is `scripts/bench.sh`'s soak section): mixed
//! requests over connections that come and go, slow calls cancelled mid-flight, connections
//! dropped mid-call. Every answer must be right, and afterwards the daemon holds no more
//! descriptors than before.

mod common;

use common::{Backend, daemon_for, wait_until};
use serde_json::{Value, json};
use std::process::Command;

const LOADGEN: &str = env!("CARGO_BIN_EXE_ide-agents-loadgen");

/// Socket inodes of the process's TCP connections (its backend connections).
fn tcp_inodes(pid: i32) -> Vec<String> {
    ["tcp", "tcp6"]
        .iter()
        .flat_map(|t| {
            let table = std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).unwrap_or_default();
            // The inode is the tenth column; the first line is the header.
            table
                .lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().nth(9).map(|i| format!("socket:[{i}]")))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What the process's descriptors other than backend connections refer to (client and
/// listening sockets, files, the runtime's own), and how many backend connections it holds.
/// Backend connections are left out of the comparison: awc closes an expired one only when
/// the pool is next used, so they are bounded by the pool, not by the clients.
fn open_fds(pid: i32) -> (Vec<String>, usize) {
    let tcp = tcp_inodes(pid);
    let (mut other, backend): (Vec<String>, Vec<String>) =
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|t| t.display().to_string())
            .partition(|t| !tcp.contains(t));
    other.sort();
    (other, backend.len())
}

fn soak(socket: &std::path::Path, requests: u64) -> Value {
    let out = Command::new(LOADGEN)
        .args(["soak", "--socket"])
        .arg(socket)
        .args(["--connections", "16", "--rounds-per-connection", "10"])
        .args(["--requests", &requests.to_string()])
        .args(["--uri", "ide-agents://kb.snippet/intro"])
        .output()
        .expect("run the load generator");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "{report}");
    report
}

#[test]
fn mixed_load_with_cancels_and_drops_answers_everything_and_leaks_no_descriptors() {
    let backend = Backend::start();
    // Slow enough that a cancelled call is still at the backend when cancelled.
    backend.faults(json!({"latency_ms": 50, "paths": ["/documentation"]}));
    let kb = tempfile::tempdir().unwrap();
    std::fs::write(kb.path().join("intro.md"), "# Intro\n").unwrap();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_KB_DIR", kb.path().to_str().unwrap())
        .env("IDE_AGENTS_CACHE_ENABLED", "false")
        .start();
    let mut status = d.initialized_client();
    let open_connections = |c: &mut common::Client| {
        c.call("ide-agents/status", json!({}))["result"]["connections"]["open"]
            .as_u64()
            .unwrap()
    };
    soak(&d.socket, 500);
    wait_until("the warm-up's connections to close", || {
        open_connections(&mut status) == 1
    });
    let (baseline, _) = open_fds(d.pid());

    let report = soak(&d.socket, 20_000);
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["requests_answered"], 20_000, "{report}");
    assert!(report["cancelled"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["connections_dropped_mid_call"].as_u64().unwrap() > 0,
        "{report}"
    );

    wait_until("the soak's connections to close", || {
        open_connections(&mut status) == 1
    });
    let deadline = std::time::Instant::now() + common::IO_TIMEOUT;
    loop {
        let (now, backend_connections) = open_fds(d.pid());
        // Two workers, IDE_AGENTS_POOL_MAX_CONNECTIONS (50) each.
        assert!(backend_connections <= 100, "{backend_connections}");
        if now.len() <= baseline.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "descriptors not back to the baseline:\nbefore {baseline:?}\nafter  {now:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Dropped and cancelled calls were abandoned at the backend, not left running.
    backend.wait_for("no backend request still open", |s| s["in_flight"] == 0);
}
