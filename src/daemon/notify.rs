//! Telling systemd how the daemon is doing (`sd_notify`): `READY=1`, `STATUS=…`,
//! `WATCHDOG=1`, `STOPPING=1`. Everything here is a no-op without `NOTIFY_SOCKET`.
//!
//! A tiny datagram writer rather than the `sd-notify` crate: the crate reads `NOTIFY_SOCKET`
//! on every call, so it would have to stay in the environment and leak into the commands the
//! daemon runs; here it is read once, removed, and the socket kept connected.

use std::os::unix::net::UnixDatagram;
use std::sync::OnceLock;
use std::time::Duration;

static NOTIFIER: OnceLock<Notifier> = OnceLock::new();

struct Notifier {
    socket: Option<UnixDatagram>,
    watchdog: Option<Duration>,
}

/// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, then removes them.
///
/// # Safety
/// Changes the environment: call it before any other thread exists.
pub unsafe fn init_from_process() {
    let var = |k: &str| std::env::var_os(k);
    let socket = var("NOTIFY_SOCKET").and_then(|path| match connect(&path) {
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
    let _ = NOTIFIER.set(Notifier { socket, watchdog });
}

fn connect(path: &std::ffi::OsStr) -> std::io::Result<UnixDatagram> {
    use std::os::unix::ffi::OsStrExt;
    let socket = UnixDatagram::unbound()?;
    match path.as_bytes().strip_prefix(b"@") {
        // An abstract socket (systemd's choice for user managers in some versions).
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.connect_addr(&addr)?;
        }
        None => socket.connect(path)?,
    }
    Ok(socket)
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
    let Some(socket) = NOTIFIER.get().and_then(|n| n.socket.as_ref()) else {
        return;
    };
    if let Err(e) = socket.send(state.as_bytes()) {
        log::warn!("cannot notify systemd ({}): {e}", state.trim_end());
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

pub fn stopping(status: &str) {
    send(&format!("STOPPING=1\nSTATUS={status}\n"));
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

    #[test]
    fn abstract_and_path_sockets_are_reachable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        connect(path.as_os_str())
            .unwrap()
            .send(b"READY=1\n")
            .unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
        assert!(connect(std::ffi::OsStr::new("@ide-agentsd-test-nobody-listens")).is_err());
    }
}
