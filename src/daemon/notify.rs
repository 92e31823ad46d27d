//! Telling systemd how the daemon is doing (`sd_notify`): `READY=1`, `STATUS=…`,
//! `WATCHDOG=1`, `STOPPING=1`. Everything here is a no-op without `NOTIFY_SOCKET`.
//!
//! A tiny datagram writer rather than the `sd-notify` crate: the crate reads `NOTIFY_SOCKET`
//! on every call, so it would have to stay in the environment and leak into the commands the
//! daemon runs; here it is read once and removed. Each message is addressed anew, as
//! `sd_notify` does, so a notify socket systemd re-creates is still reached.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

static NOTIFIER: OnceLock<Notifier> = OnceLock::new();

struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    /// The last send failed: one warning per spell, not one per watchdog tick.
    failing: AtomicBool,
}

/// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, then removes them.
///
/// # Safety
/// Changes the environment: call it before any other thread exists.
pub unsafe fn init_from_process() {
    let var = |k: &str| std::env::var_os(k);
    let socket = var("NOTIFY_SOCKET").and_then(|path| match address(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!(
                "cannot reach systemd's notify socket {}: {e}",
                path.to_string_lossy()
            );
            None
        }
    });
    let watchdog = watchdog_period(
        var("WATCHDOG_USEC").and_then(|v| v.into_string().ok()),
        var("WATCHDOG_PID").and_then(|v| v.into_string().ok()),
        std::process::id(),
    );
    for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        // SAFETY: the caller guarantees no other thread reads the environment now.
        unsafe { std::env::remove_var(k) };
    }
    let _ = NOTIFIER.set(Notifier {
        socket,
        watchdog,
        failing: AtomicBool::new(false),
    });
}

/// An unbound datagram socket and the notify socket's address.
fn address(path: &std::ffi::OsStr) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    use std::os::unix::ffi::OsStrExt;
    let addr = match path.as_bytes().strip_prefix(b"@") {
        // An abstract socket (systemd's choice for user managers in some versions).
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// `WATCHDOG_USEC` applies to us when `WATCHDOG_PID` is absent or names us.
fn watchdog_period(usec: Option<String>, pid: Option<String>, own_pid: u32) -> Option<Duration> {
    if pid.is_some_and(|p| p.trim() != own_pid.to_string()) {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

fn send(state: &str) {
    let Some(notifier) = NOTIFIER.get() else {
        return;
    };
    let Some((socket, addr)) = &notifier.socket else {
        return;
    };
    match socket.send_to_addr(state.as_bytes(), addr) {
        Ok(_) => {
            if notifier.failing.swap(false, Relaxed) {
                log::info!("systemd's notify socket is reachable again");
            }
        }
        Err(e) => {
            if !notifier.failing.swap(true, Relaxed) {
                log::warn!("cannot notify systemd ({}): {e}", state.trim_end());
            }
        }
    }
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when systemd watches us.
pub fn watchdog_interval() -> Option<Duration> {
    NOTIFIER.get().and_then(|n| n.watchdog).map(|p| p / 2)
}

pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={status}\n"));
}

pub fn status(status: &str) {
    send(&format!("STATUS={status}\n"));
}

pub fn watchdog() {
    send("WATCHDOG=1\n");
}

/// Set once `STOPPING=1` is due: a `READY=1` after it would tell systemd a stopping daemon
/// is running again.
static STOP_ANNOUNCED: AtomicBool = AtomicBool::new(false);

pub fn stopping(status: &str) {
    STOP_ANNOUNCED.store(true, Relaxed);
    send(&format!("STOPPING=1\nSTATUS={status}\n"));
}

pub fn stop_announced() -> bool {
    STOP_ANNOUNCED.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_applies_only_to_its_pid() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            watchdog_period(some("200000"), None, 7),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            watchdog_period(some("200000"), some("7"), 7),
            Some(Duration::from_millis(200))
        );
        assert_eq!(watchdog_period(some("200000"), some("8"), 7), None);
        assert_eq!(watchdog_period(some("x"), None, 7), None);
        assert_eq!(watchdog_period(some("0"), None, 7), None);
        assert_eq!(watchdog_period(None, None, 7), None);
    }

    fn send_to(path: &str, message: &[u8]) -> std::io::Result<usize> {
        let (socket, addr) = address(std::ffi::OsStr::new(path))?;
        socket.send_to_addr(message, &addr)
    }

    #[test]
    fn abstract_and_path_sockets_are_reachable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        send_to(path.to_str().unwrap(), b"READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
        assert!(send_to("@ide-agentsd-test-nobody-listens", b"x").is_err());
    }
}
