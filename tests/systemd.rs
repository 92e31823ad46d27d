//! Running under systemd, with this test playing systemd's part: socket activation,
//! `sd_notify` (READY, STATUS, WATCHDOG, STOPPING) and the unit files. Draining and
//! reloading are in `shutdown.rs`.

mod common;

use common::{BIN, Client, IO_TIMEOUT, daemon};
use serde_json::json;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The datagram socket systemd listens on for `sd_notify` messages.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        NotifySocket {
            _dir: dir,
            path,
            socket,
        }
    }

    /// The next message; panics when none comes within the I/O timeout.
    fn next(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notification within the timeout");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Messages up to and including the first with the line `line`.
    fn until(&self, line: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let msg = self.next();
            let done = msg.lines().any(|l| l == line);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }
}

/// A listening socket as systemd's socket unit would create it.
fn systemd_listener(path: &Path) -> UnixListener {
    UnixListener::bind(path).unwrap()
}

/// A duplicate of the listener to pass to a daemon (systemd keeps its own copy too).
fn owned(listener: &UnixListener) -> OwnedFd {
    listener.try_clone().unwrap().into()
}

#[test]
fn a_socket_passed_by_systemd_is_served_and_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activated.sock");
    let listener = systemd_listener(&path);
    let mut d = daemon()
        .socket(&dir.path().join("configured.sock"))
        .listen_fd(owned(&listener))
        .spawn();
    let line = d.wait_for_log("serving on");
    assert!(
        line.contains(&format!("{} (from systemd", path.display())),
        "{line}"
    );
    let mut c = Client::connect(&path);
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
    assert_eq!(
        c.call_tool("ide_agents_healthz", json!({}))["structuredContent"]["status"],
        "live"
    );
    // It bound nothing of its own, and says where it really serves.
    assert!(!dir.path().join("configured.sock").exists());
    let status = c.call_modern("ide-agents/status", json!({}));
    assert_eq!(
        status["result"]["socket"],
        path.display().to_string(),
        "{status}"
    );
    drop(c);
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    assert!(path.exists(), "the daemon removed systemd's socket");

    // systemd keeps listening: a client that connects now waits in the backlog and is
    // served by the next daemon started on the same socket.
    let mut waiting = Client::connect(&path);
    waiting.request(json!(7), "ping", json!({}));
    let mut next = daemon().listen_fd(owned(&listener)).start();
    assert_eq!(waiting.read().unwrap()["id"], 7);
    next.signal(libc::SIGTERM);
    assert_eq!(next.wait_exit().code(), Some(0));
    assert!(path.exists());
}

#[test]
fn a_passed_descriptor_that_is_not_a_listening_socket_is_refused_clearly() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut d = daemon().listen_fd(a.into()).spawn();
    assert_eq!(d.wait_exit().code(), Some(1));
    let line = d.wait_for_log("systemd passed");
    assert!(line.contains("is not listening"), "{line}");
}

#[test]
fn sockets_passed_to_another_process_are_ignored() {
    // LISTEN_PID names someone else (e.g. our parent was activated): bind the configured path.
    let d = daemon()
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .start();
    assert!(d.socket.exists());
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

#[test]
fn ready_once_serving_then_stopping_on_sigterm() {
    let notify = NotifySocket::new();
    let mut d = daemon()
        .env("NOTIFY_SOCKET", notify.path.to_string_lossy())
        .spawn();
    let before = notify.until("READY=1");
    // At READY=1 the socket answers at once.
    let mut c = Client::connect(&d.socket);
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
    let ready = before.last().unwrap();
    assert!(
        ready.contains(&format!(
            "STATUS=serving on {}, 2 workers",
            d.socket.display()
        )),
        "{ready}"
    );
    assert!(
        before[..before.len() - 1]
            .iter()
            .all(|m| !m.contains("READY=1")),
        "{before:?}"
    );
    drop(c);
    d.signal(libc::SIGTERM);
    let stopping = notify.until("STOPPING=1");
    assert!(
        stopping.iter().all(|m| !m.contains("WATCHDOG=1")),
        "no watchdog without WATCHDOG_USEC: {stopping:?}"
    );
    assert_eq!(d.wait_exit().code(), Some(0));
}

#[test]
fn the_watchdog_is_fed_at_half_its_interval() {
    let notify = NotifySocket::new();
    let d = daemon()
        .env("NOTIFY_SOCKET", notify.path.to_string_lossy())
        .env("WATCHDOG_USEC", "200000")
        .spawn();
    notify.until("READY=1");
    let start = Instant::now();
    for _ in 0..3 {
        notify.until("WATCHDOG=1");
    }
    // Three ticks of 100 ms need about 200–300 ms: fed no faster than half the interval
    // (which would hide a wedged loop behind a busy timer), and not much slower (a generous
    // bound for a loaded machine).
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    // Still serving while being watched.
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

/// Copies the units with ExecStart pointing at the built binary and runs
/// `systemd-analyze verify` on them.
#[test]
fn unit_files_pass_systemd_analyze_verify() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_err() {
        // Locally a missing tool is a skip; in CI it would hide unverified unit files.
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is not installed but CI is set: install systemd so the unit files \
             are verified"
        );
        eprintln!("NOTICE: systemd-analyze is not installed; unit files not verified");
        return;
    }
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/systemd");
    let dir = tempfile::tempdir().unwrap();
    for name in ["ide-agentsd.service", "ide-agentsd.socket"] {
        let text = std::fs::read_to_string(units.join(name)).unwrap();
        let text = text.replace("%h/.local/bin/ide-agentsd", BIN);
        assert!(
            !text.contains("%h/.local/bin"),
            "{name} names another binary"
        );
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("ide-agentsd.socket"))
        .arg(dir.path().join("ide-agentsd.service"))
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ide-agentsd"))
        .collect();
    assert!(problems.is_empty(), "systemd-analyze verify:\n{stderr}");
}

#[test]
fn the_unit_socket_is_where_clients_look_by_default() {
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/systemd");
    let socket = std::fs::read_to_string(units.join("ide-agentsd.socket")).unwrap();
    assert!(
        socket
            .lines()
            .any(|l| l.trim() == "ListenStream=%t/ide-agents/mcp.sock"),
        "{socket}"
    );
    // %t is $XDG_RUNTIME_DIR for a user unit: the client's default.
    let default = ide_agentsd::config::default_socket_path(&|k| {
        (k == "XDG_RUNTIME_DIR").then(|| "/run/user/1000".to_string())
    });
    assert_eq!(default, Path::new("/run/user/1000/ide-agents/mcp.sock"));
}

#[test]
fn the_install_script_dry_run_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-systemd-user.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(["--dry-run", "--binary", BIN])
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let bin = home.path().join(".local/bin/ide-agentsd");
    assert!(
        stdout.contains(&format!("+ install -D -m 0755 {BIN} {}", bin.display())),
        "{stdout}"
    );
    assert!(stdout.contains("+ systemctl --user enable --now ide-agentsd.socket"));
    assert!(stdout.contains("nothing was changed"));
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
}

#[test]
fn the_install_script_help_is_its_usage_only() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-systemd-user.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.starts_with("Installs ide-agentsd"), "{help}");
    assert!(
        help.trim_end()
            .ends_with("print what would be done, change nothing"),
        "{help}"
    );
}

/// systemd can re-create its notify socket (same path, new socket): the daemon addresses
/// each message anew, so the watchdog keeps being fed and the stop is still announced.
#[test]
fn a_re_created_notify_socket_still_gets_the_watchdog_and_the_stop() {
    let notify = NotifySocket::new();
    let mut d = daemon()
        .env("NOTIFY_SOCKET", notify.path.to_string_lossy())
        .env("WATCHDOG_USEC", "200000")
        .spawn();
    notify.until("READY=1");
    notify.until("WATCHDOG=1");
    let path = notify.path.clone();
    std::fs::remove_file(&path).unwrap();
    let again = UnixDatagram::bind(&path).unwrap();
    again.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let renewed = NotifySocket {
        _dir: notify._dir,
        path,
        socket: again,
    };
    renewed.until("WATCHDOG=1");
    d.signal(libc::SIGTERM);
    renewed.until("STOPPING=1");
    assert_eq!(d.wait_exit().code(), Some(0));
}
