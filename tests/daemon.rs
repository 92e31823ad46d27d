//! Running as a daemon: the socket file, the lock, stale sockets, signals, configuration.

mod common;

use common::daemon;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

#[test]
fn socket_is_0600_in_a_0700_directory() {
    let d = daemon().start();
    let meta = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    let dir = std::fs::metadata(d.socket.parent().unwrap()).unwrap();
    assert_eq!(dir.mode() & 0o777, 0o700);
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.sock");
    // A listener that died leaves its socket file behind: connecting is refused.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(std::os::unix::net::UnixStream::connect(&path).is_err());
    let d = daemon().socket(&path).start();
    let mut c = d.client();
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
}

#[test]
fn a_live_daemon_is_not_replaced() {
    let first = daemon().start();
    let mut second = daemon().socket(&first.socket).spawn();
    let status = second.wait_exit();
    assert_eq!(status.code(), Some(1));
    let line = second.wait_for_log("already running");
    assert!(line.contains(&format!("pid {}", first.pid())), "{line}");
    // The first daemon still serves on its socket.
    let mut c = first.client();
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
}

#[test]
fn sigterm_stops_cleanly_and_removes_the_socket() {
    let mut d = daemon().start();
    let mut c = d.client();
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
    d.signal(libc::SIGTERM);
    let status = d.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(!d.socket.exists(), "socket file left behind");
}

#[test]
fn a_malformed_setting_is_a_startup_error_naming_it() {
    let mut d = daemon().env("IDE_AGENTS_ULTRA_ENABLED", "maybe").spawn();
    assert_eq!(d.wait_exit().code(), Some(1));
    let line = d.wait_for_log("IDE_AGENTS_ULTRA_ENABLED");
    assert!(line.contains("maybe"), "{line}");
    let mut d = daemon().arg("--page-size").arg("zero").spawn();
    assert_eq!(d.wait_exit().code(), Some(1));
    d.wait_for_log("--page-size");
}

#[test]
fn flags_configure_like_their_environment_twins() {
    let d = daemon().arg("--page-size").arg("1").start();
    let mut c = d.client();
    let first = c.call_modern("tools/list", json!({}));
    assert_eq!(first["result"]["tools"].as_array().unwrap().len(), 1);
    let cursor = first["result"]["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = c.call_modern("tools/list", json!({"cursor": cursor}));
    assert_eq!(second["result"]["tools"].as_array().unwrap().len(), 1);
    assert_ne!(
        first["result"]["tools"][0]["name"],
        second["result"]["tools"][0]["name"]
    );
}

#[test]
fn the_socket_directory_is_created_private() {
    let dir = tempfile::tempdir().unwrap();
    // Even with a permissive umask inherited from the shell.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("a/b/mcp.sock");
    let d = daemon().socket(&path).start();
    assert_eq!(
        std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

/// CPU time the process has used so far, in clock ticks (utime + stime).
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Out of descriptors, a queued connection cannot be accepted until one is freed: the
/// daemon waits instead of retrying in a busy loop that also floods its log, and serves the
/// queue once descriptors are free again.
#[test]
fn out_of_descriptors_the_daemon_waits_instead_of_spinning() {
    let mut d = daemon().max_files(64).start();
    let held: Vec<_> = (0..80)
        .map(|_| std::os::unix::net::UnixStream::connect(&d.socket).unwrap())
        .collect();
    d.wait_for_log("accept failed: Too many open files");
    let before = cpu_ticks(d.pid());
    // A measuring window, not a wait for an event: a spinning loop uses all of it.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let used = cpu_ticks(d.pid()) - before;
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(
        used * 4 < ticks_per_s,
        "{used} of {ticks_per_s} ticks in 1 s while out of descriptors"
    );
    let logged = d
        .stderr
        .try_iter()
        .filter(|l| l.contains("accept failed"))
        .count();
    assert!(logged <= 1, "{logged} more 'accept failed' lines in 1 s");
    drop(held);
    let mut c = d.client();
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
}

/// A stop signal during start-up, once the socket is being set up but before the handlers
/// exist, is held back until they take it: a clean stop, no socket left behind. The stale
/// socket's replacement is logged in that window, which is what the test waits for.
#[test]
fn a_stop_signal_during_start_up_is_a_clean_stop() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let mut d = daemon().socket(&path).spawn();
        d.wait_for_log("replacing stale socket");
        d.signal(libc::SIGTERM);
        assert_eq!(d.wait_exit().code(), Some(0), "ended by the signal itself");
        assert!(!path.exists(), "socket left behind");
    }
}
