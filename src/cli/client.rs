//! A small blocking client for the CLI subcommands: one connection, stateless-era requests.

use crate::protocol::version::{META_VERSION_KEY, MODERN_VERSION};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Exit codes shared by the client subcommands.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_UNREACHABLE: i32 = 3;
/// A malformed argument or setting, as clap's own usage errors.
pub const EXIT_USAGE: i32 = 2;

pub struct Client {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    next_id: u64,
    timeout: Duration,
}

/// How long a control command (`status`, `stop`, approvals) waits for its answer.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `call` waits: a backend call with its retries is bounded by
/// `IDE_AGENTS_REQUEST_TIMEOUT` (30 s by default) inside the daemon.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// `default`, unless `IDE_AGENTS_CLIENT_TIMEOUT_SECS` says otherwise: a wedged daemon makes
/// a client command fail with a message instead of hanging.
pub fn timeout_or(default: Duration) -> Duration {
    timeout_setting().ok().flatten().unwrap_or(default)
}

/// `IDE_AGENTS_CLIENT_TIMEOUT_SECS`, when set: a positive number of seconds (at most a
/// year), or an error naming the variable rather than a silent default.
pub fn timeout_setting() -> Result<Option<Duration>, String> {
    // Empty is unset, as for every setting of `serve`.
    let Some(v) = std::env::var("IDE_AGENTS_CLIENT_TIMEOUT_SECS")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    parse_timeout(&v).map(Some).ok_or_else(|| {
        format!(
            "ide-agentsd: invalid IDE_AGENTS_CLIENT_TIMEOUT_SECS={v:?}: expected a positive \
                 number of seconds, at most {}",
            crate::config::MAX_SECONDS
        )
    })
}

/// A positive number of seconds, at most a year.
fn parse_timeout(v: &str) -> Option<Duration> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= crate::config::MAX_SECONDS)
        // A socket timeout cannot be zero: less than a millisecond is one.
        .map(|s| Duration::from_secs_f64(s).max(Duration::from_millis(1)))
}

/// The one-line explanation printed when the daemon cannot be reached.
pub fn unreachable_message(path: &Path, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::PermissionDenied {
        // Something is there, but not for us: starting another daemon would not help.
        return format!(
            "ide-agentsd: not allowed to connect to {}: {err}. The socket belongs to another \
             user, or this is not your daemon's path; pass --socket PATH or set IDE_AGENTS_SOCKET.",
            path.display()
        );
    }
    if err.kind() == std::io::ErrorKind::TimedOut {
        return format!(
            "ide-agentsd: cannot reach the daemon at {}: {err}. Restart it (e.g. `systemctl \
             --user restart ide-agentsd`).",
            path.display()
        );
    }
    format!(
        "ide-agentsd: cannot reach the daemon at {}: {err}. Start it with `ide-agentsd serve` \
         (or `systemctl --user start ide-agentsd.socket`), or pass --socket PATH.",
        path.display()
    )
}

/// Connects to the daemon's socket within `timeout`, and only to a daemon of this user (or
/// root). A wedged daemon whose accept queue is full would block `connect` for good; one
/// run by another user (on a path in a shared directory) is not ours to talk to.
pub fn connect_daemon(path: &Path, timeout: Duration) -> std::io::Result<UnixStream> {
    let (tx, rx) = std::sync::mpsc::channel();
    let target = path.to_path_buf();
    // A thread, as the standard library has no connect timeout for Unix sockets; left
    // blocked on a timeout, it ends with the command.
    std::thread::spawn(move || {
        let _ = tx.send(UnixStream::connect(target));
    });
    let stream = match rx.recv_timeout(timeout) {
        Ok(connected) => connected?,
        Err(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the socket took no connection within {} s: a daemon there is stuck, its \
                     queue full",
                    timeout.as_secs_f64()
                ),
            ));
        }
    };
    let uid = crate::daemon::peer::peer_uid(&stream)?;
    let own = crate::daemon::peer::own_uid();
    // Root may look at any user's daemon.
    if own != 0 && !crate::daemon::peer::peer_allowed(uid, own) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("the daemon there runs as uid {uid}, not as this user (uid {own}) or root"),
        ));
    }
    Ok(stream)
}

impl Client {
    /// Connects; every later read or write gives up after `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, std::io::Error> {
        let stream = connect_daemon(path, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Client {
            writer: stream,
            reader,
            next_id: 1,
            timeout,
        })
    }

    fn io_error(&self, doing: &str, e: &std::io::Error) -> String {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
                "the daemon did not answer within {} s; it may be stuck (restart it, e.g. \
                 `systemctl --user restart ide-agentsd`)",
                self.timeout.as_secs_f64()
            ),
            _ => format!("cannot {doing} the daemon: {e}"),
        }
    }

    /// Sends one request and returns its `result`, or the JSON-RPC error as text.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut params = match params {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        params.insert(
            "_meta".into(),
            json!({ META_VERSION_KEY: MODERN_VERSION, "io.modelcontextprotocol/clientCapabilities": {} }),
        );
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut line = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        line.push(b'\n');
        if let Err(e) = self.writer.write_all(&line) {
            return Err(self.io_error("send to", &e));
        }
        loop {
            let mut buf = String::new();
            let n = match self.reader.read_line(&mut buf) {
                Ok(n) => n,
                Err(e) => return Err(self.io_error("read from", &e)),
            };
            if n == 0 {
                return Err("the daemon closed the connection".into());
            }
            let reply: Value = serde_json::from_str(&buf)
                .map_err(|e| format!("the daemon sent invalid JSON: {e}"))?;
            match reply.get("id") {
                Some(got) if *got == json!(id) => {}
                // The daemon refused the line itself (too long, say) and closes next.
                Some(Value::Null) if reply.get("error").is_some() => {
                    return Err(format!(
                        "the daemon refused the request: {}",
                        reply["error"]["message"]
                            .as_str()
                            .unwrap_or("no reason given")
                    ));
                }
                _ => continue, // a notification
            }
            if let Some(result) = reply.get("result") {
                return Ok(result.clone());
            }
            let err = &reply["error"];
            return Err(format!(
                "{} (code {})",
                err["message"].as_str().unwrap_or("unknown error"),
                err["code"]
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_is_positive_seconds_and_never_rounds_to_zero() {
        assert_eq!(parse_timeout("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("1e-10"), Some(Duration::from_millis(1)));
        for bad in ["0", "-1", "nan", "inf", "abc", "2s", "1e300"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_socket_refused_by_permissions_is_not_blamed_on_a_stopped_daemon() {
        let path = Path::new("/run/other/mcp.sock");
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let m = unreachable_message(path, &denied);
        assert!(
            m.contains("not allowed") && !m.contains("ide-agentsd serve"),
            "{m}"
        );
        let absent = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(unreachable_message(path, &absent).contains("ide-agentsd serve"));
    }
}
