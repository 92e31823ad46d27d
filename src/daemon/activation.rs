//! Socket activation: the listening socket systemd passes in `LISTEN_FDS` (fd 3 on), checked
//! to be a listening Unix stream socket. A passed-in socket belongs to systemd: the daemon
//! never unlinks its file.

use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// A socket handed over by the service manager.
pub struct Activated {
    pub listener: UnixListener,
    /// The socket's file, when it has one (for logs and status).
    pub path: Option<PathBuf>,
    /// Its name from `LISTEN_FDNAMES` (systemd's default is the socket unit's name).
    pub name: Option<String>,
}

/// The raw variables, read once so the parsing can be tested without touching the process.
pub struct ListenEnv {
    pub pid: Option<String>,
    pub fds: Option<String>,
    pub names: Option<String>,
}

impl ListenEnv {
    /// Reads the `LISTEN_*` variables and removes them, so processes the daemon starts do
    /// not believe the sockets are theirs.
    ///
    /// # Safety
    /// Changes the environment: call it before any other thread exists.
    pub unsafe fn take_from_process() -> ListenEnv {
        let var = |k: &str| std::env::var(k).ok();
        let env = ListenEnv {
            pid: var("LISTEN_PID"),
            fds: var("LISTEN_FDS"),
            names: var("LISTEN_FDNAMES"),
        };
        for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            // SAFETY: the caller guarantees no other thread reads the environment now.
            unsafe { std::env::remove_var(k) };
        }
        env
    }
}

/// Which descriptor to adopt, if the variables pass one to this process.
/// `Ok(None)`: nothing was passed to us (not activated, or meant for another pid).
pub fn parse(env: &ListenEnv, own_pid: u32) -> Result<Option<(RawFd, Option<String>)>, String> {
    let Some(fds) = env.fds.as_deref() else {
        return Ok(None);
    };
    match env.pid.as_deref().map(str::trim) {
        Some(pid) if pid == own_pid.to_string() => {}
        // Inherited from a parent that was activated: not ours.
        _ => return Ok(None),
    }
    let count: usize = fds
        .trim()
        .parse()
        .map_err(|_| format!("invalid LISTEN_FDS={fds:?}: expected a number of descriptors"))?;
    let names: Vec<&str> = env
        .names
        .as_deref()
        .map(|n| n.split(':').collect())
        .unwrap_or_default();
    match count {
        0 => Ok(None),
        1 => Ok(Some((
            LISTEN_FDS_START,
            names
                .first()
                .filter(|n| !n.is_empty())
                .map(|n| n.to_string()),
        ))),
        n => Err(format!(
            "systemd passed {n} sockets (LISTEN_FDS={n}, names {:?}) but the daemon serves exactly \
             one: give the socket unit a single ListenStream=",
            names.join(",")
        )),
    }
}

/// Adopts the socket systemd passed to this process, if any.
pub fn take(env: &ListenEnv) -> Result<Option<Activated>, String> {
    let Some((fd, name)) = parse(env, std::process::id())? else {
        return Ok(None);
    };
    check_listening_unix_stream(fd)?;
    // SAFETY: systemd passed `fd` to this process for it to own; it is a listening Unix
    // stream socket (checked above) and nothing else in the process uses it.
    let listener = unsafe { UnixListener::from_raw_fd(fd) };
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(PathBuf::from));
    Ok(Some(Activated {
        listener,
        path,
        name,
    }))
}

/// Marks `fd` close-on-exec and checks it is a listening `AF_UNIX` stream socket.
fn check_listening_unix_stream(fd: RawFd) -> Result<(), String> {
    let fail = |what: &str| {
        format!(
            "the descriptor systemd passed (fd {fd}) {what}; the socket unit needs \
             ListenStream=<path of a Unix socket>"
        )
    };
    // SAFETY: fcntl on a descriptor number; an invalid one fails with EBADF, checked below.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(fail(&format!(
            "is not open: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: as above; only adds FD_CLOEXEC to the flags just read.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(fail(&format!(
            "cannot be made close-on-exec: {}",
            std::io::Error::last_os_error()
        )));
    }
    let domain =
        sockopt(fd, libc::SO_DOMAIN).map_err(|e| fail(&format!("is not a socket: {e}")))?;
    if domain != libc::AF_UNIX {
        return Err(fail(&format!(
            "is not a Unix socket (address family {domain})"
        )));
    }
    let kind = sockopt(fd, libc::SO_TYPE).map_err(|e| fail(&format!("is unreadable: {e}")))?;
    if kind != libc::SOCK_STREAM {
        return Err(fail(&format!(
            "is not a stream socket (type {kind}; Accept=no and ListenStream= are needed)"
        )));
    }
    let listening =
        sockopt(fd, libc::SO_ACCEPTCONN).map_err(|e| fail(&format!("is unreadable: {e}")))?;
    if listening == 0 {
        return Err(fail("is not listening"));
    }
    Ok(())
}

fn sockopt(fd: RawFd, option: libc::c_int) -> std::io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes of an int, as the option expects.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn env(pid: Option<&str>, fds: Option<&str>, names: Option<&str>) -> ListenEnv {
        ListenEnv {
            pid: pid.map(String::from),
            fds: fds.map(String::from),
            names: names.map(String::from),
        }
    }

    #[test]
    fn only_sockets_passed_to_this_pid_are_taken() {
        assert_eq!(parse(&env(None, None, None), 42).unwrap(), None);
        assert_eq!(parse(&env(Some("41"), Some("1"), None), 42).unwrap(), None);
        assert_eq!(parse(&env(None, Some("1"), None), 42).unwrap(), None);
        assert_eq!(
            parse(&env(Some("42"), Some("1"), Some("ide-agentsd.socket")), 42).unwrap(),
            Some((3, Some("ide-agentsd.socket".to_string())))
        );
        assert_eq!(parse(&env(Some("42"), Some("0"), None), 42).unwrap(), None);
    }

    #[test]
    fn malformed_or_several_sockets_are_errors() {
        let e = parse(&env(Some("42"), Some("x"), None), 42).unwrap_err();
        assert!(e.contains("LISTEN_FDS"), "{e}");
        let e = parse(&env(Some("42"), Some("2"), Some("a:b")), 42).unwrap_err();
        assert!(e.contains("single ListenStream"), "{e}");
    }

    #[test]
    fn checks_the_descriptor_is_a_listening_unix_stream() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("s")).unwrap();
        check_listening_unix_stream(listener.as_raw_fd()).unwrap();
        // SAFETY: reading the flags of a descriptor we own.
        let flags = unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_GETFD) };
        assert_ne!(flags & libc::FD_CLOEXEC, 0);

        let file = std::fs::File::open(dir.path()).unwrap();
        let e = check_listening_unix_stream(file.as_raw_fd()).unwrap_err();
        assert!(e.contains("is not a socket"), "{e}");

        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let e = check_listening_unix_stream(tcp.as_raw_fd()).unwrap_err();
        assert!(e.contains("not a Unix socket"), "{e}");

        let dgram = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let e = check_listening_unix_stream(dgram.as_raw_fd()).unwrap_err();
        assert!(e.contains("not a stream socket"), "{e}");

        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let e = check_listening_unix_stream(a.as_raw_fd()).unwrap_err();
        assert!(e.contains("not listening"), "{e}");
    }
}
