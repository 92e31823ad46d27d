//! Test harness: runs the real `ide-agentsd` binary on a temp socket and talks to it.
//! Readiness is waited for explicitly (the daemon's "serving on" log line), never slept for.
#![allow(dead_code)]

pub mod github;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_ide-agentsd");
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Daemon {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// Every stderr line the daemon printed, as it prints them.
    pub stderr: mpsc::Receiver<String>,
}

pub struct DaemonBuilder {
    env: Vec<(String, String)>,
    args: Vec<String>,
    socket: Option<PathBuf>,
    dir: Option<tempfile::TempDir>,
    /// A listening socket passed as systemd does (fd 3, LISTEN_FDS=1, LISTEN_PID).
    listen_fd: Option<std::os::fd::OwnedFd>,
    /// RLIMIT_NOFILE for the daemon.
    max_files: Option<u64>,
}

impl DaemonBuilder {
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_string(), v.into()));
        self
    }

    pub fn envs(self, pairs: &[(&str, &str)]) -> Self {
        pairs.iter().fold(self, |b, (k, v)| b.env(k, *v))
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    /// Serve on a given socket path instead of a fresh one.
    pub fn socket(mut self, path: &Path) -> Self {
        self.socket = Some(path.to_path_buf());
        self
    }

    /// Use this directory as the daemon's working directory (logs, workspace).
    pub fn dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Pass `fd` as systemd's socket activation does: on fd 3, with `LISTEN_FDS=1` and
    /// `LISTEN_PID` naming the daemon (set by a shell that then execs it).
    pub fn listen_fd(mut self, fd: std::os::fd::OwnedFd) -> Self {
        self.listen_fd = Some(fd);
        self
    }

    /// Lets the daemon open at most `n` descriptors.
    pub fn max_files(mut self, n: u64) -> Self {
        self.max_files = Some(n);
        self
    }

    /// Spawns the daemon without waiting for it.
    pub fn spawn(self) -> Daemon {
        let dir = self
            .dir
            .unwrap_or_else(|| tempfile::tempdir().expect("tempdir"));
        let socket = self
            .socket
            .unwrap_or_else(|| dir.path().join("run/mcp.sock"));
        let mut cmd = match &self.listen_fd {
            None => Command::new(BIN),
            Some(fd) => activated_command(fd),
        };
        cmd.arg("serve")
            .args(&self.args)
            .current_dir(dir.path())
            .env_remove("XDG_RUNTIME_DIR")
            .env("IDE_AGENTS_SOCKET", &socket)
            .env("IDE_AGENTS_WORKERS", "2")
            // Tests drive far more calls per connection than a person would; the rate-limit
            // tests set their own limits.
            .env("IDE_AGENTS_RATE_BURST", "1000000")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(n) = self.max_files {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // SAFETY: setrlimit is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                })
            };
        }
        let mut child = cmd.spawn().expect("spawn ide-agentsd");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("IDE_AGENTS_TEST_VERBOSE").is_some() {
                    eprintln!("daemon: {line}");
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            dir,
            socket,
            stderr: rx,
        }
    }

    /// Spawns the daemon and waits until it serves.
    pub fn start(self) -> Daemon {
        let mut d = self.spawn();
        d.wait_for_log("serving on");
        d
    }
}

pub fn daemon() -> DaemonBuilder {
    DaemonBuilder {
        env: Vec::new(),
        args: Vec::new(),
        socket: None,
        dir: None,
        listen_fd: None,
        max_files: None,
    }
}

/// `sh -c 'LISTEN_PID=$$ exec ide-agentsd "$@"'` with `fd` on descriptor 3: the pid of the
/// shell is the daemon's pid after `exec`, as systemd sets it.
fn activated_command(fd: &std::os::fd::OwnedFd) -> Command {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "LISTEN_PID=$$ exec \"$0\" \"$@\"", BIN])
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", "ide-agentsd.socket");
    let raw = fd.as_raw_fd();
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if raw == 3 {
                // dup2 onto itself keeps close-on-exec: clear it instead.
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    cmd
}

impl Daemon {
    /// Waits for a stderr line containing `needle`; panics with what was seen otherwise.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        loop {
            match self.stderr.recv_timeout(IO_TIMEOUT) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    panic!(
                        "no log line with {needle:?} (exit: {status:?}); saw:\n{}",
                        seen.join("\n")
                    )
                }
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }

    /// `ide-agentsd status --json` for this daemon: its exit code (4 when degraded) and
    /// the JSON it printed.
    pub fn status_json(&self) -> (Option<i32>, Value) {
        let out = std::process::Command::new(BIN)
            .args(["status", "--json", "--socket"])
            .arg(&self.socket)
            .output()
            .unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), v)
    }

    /// A client that has done the legacy handshake.
    pub fn initialized_client(&self) -> Client {
        let mut c = self.client();
        let r = c.call("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}));
        assert_eq!(r["result"]["protocolVersion"], "2025-06-18", "{r}");
        c.notify("notifications/initialized", json!({}));
        c
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits for the process to exit (bounded), returning its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "daemon did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Peak resident memory of the daemon in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }
}

/// Polls `cond` every few ms until it holds; panics naming `what` after [`IO_TIMEOUT`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The lines of a JSON-lines file, parsed (empty when the file does not exist yet).
pub fn json_lines(path: &Path) -> Vec<Value> {
    raw_lines(path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

/// The complete lines of a file (a line still being written is left out).
/// The `type` of each audit line, in order.
pub fn audit_kinds(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|l| l["type"].as_str().unwrap()).collect()
}

/// The audit trail of a command asked for, approved and run, then another asked for and
/// denied.
pub const RAN_ONCE_THEN_DENIED: [&str; 5] = [
    "approval_requested",
    "approval_granted",
    "command_executed",
    "approval_requested",
    "approval_denied",
];

pub fn raw_lines(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

pub fn proc_status_kib(pid: i32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("status field")
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A newline-JSON client over the socket with bounded waits.
pub struct Client {
    pub stream: UnixStream,
    pub reader: BufReader<UnixStream>,
    next_id: i64,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let stream =
            UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client {
            stream,
            reader,
            next_id: 1000,
        }
    }

    pub fn send_raw(&mut self, line: &str) {
        self.stream.write_all(line.as_bytes()).unwrap();
        self.stream.write_all(b"\n").unwrap();
    }

    pub fn send(&mut self, msg: &Value) {
        self.send_raw(&msg.to_string());
    }

    pub fn request(&mut self, id: Value, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next line, parsed; `None` at EOF.
    pub fn read(&mut self) -> Option<Value> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read from daemon");
        if n == 0 {
            return None;
        }
        Some(
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("bad JSON from daemon {line:?}: {e}")),
        )
    }

    /// Sends a request and returns its response (skipping notifications).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.request(json!(id), method, params);
        loop {
            let msg = self.read().expect("daemon closed the connection");
            if msg.get("id") == Some(&json!(id)) {
                return msg;
            }
        }
    }

    /// A stateless-era request (no handshake needed).
    pub fn call_modern(&mut self, method: &str, mut params: Value) -> Value {
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
        self.call(method, params)
    }

    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        let r = self.call_modern("tools/call", json!({"name": name, "arguments": arguments}));
        r.get("result")
            .cloned()
            .unwrap_or_else(|| panic!("no result: {r}"))
    }

    pub fn shutdown_write(&self) {
        self.stream.shutdown(std::net::Shutdown::Write).unwrap();
    }
}

pub const BACKEND_BIN: &str = env!("CARGO_BIN_EXE_ide-agents-backend");

/// The reference backend on a random loopback port.
pub struct Backend {
    pub child: Child,
    pub url: String,
}

impl Backend {
    pub fn start() -> Backend {
        Backend::start_with(&[])
    }

    /// Starts the backend with extra flags; on a free port unless they name one (`--port`).
    pub fn start_with(args: &[&str]) -> Backend {
        let free_port: &[&str] = if args.contains(&"--port") {
            &[]
        } else {
            &["--port", "0"]
        };
        let mut child = Command::new(BACKEND_BIN)
            .args(free_port)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ide-agents-backend");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the backend never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(IO_TIMEOUT)
            .expect("backend did not report its address");
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected backend banner {line:?}"))
            .trim()
            .to_string();
        Backend { child, url }
    }

    /// Replaces the backend's fault switches.
    pub fn faults(&self, faults: Value) {
        let (status, _) = http(&self.url, "POST", "/_control/faults", Some(&faults));
        assert_eq!(status, 200, "setting faults failed");
    }

    pub fn stats(&self) -> Value {
        let (status, body) = http(&self.url, "GET", "/_control/stats", None);
        assert_eq!(status, 200);
        body
    }

    /// Requests the backend received for `key` (e.g. `GET /entities/mappings`).
    pub fn hits(&self, key: &str) -> u64 {
        self.stats()["requests"][key].as_u64().unwrap_or(0)
    }

    /// Polls the backend's stats until `pred` holds (bounded).
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        loop {
            let stats = self.stats();
            if pred(&stats) {
                return stats;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {stats}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A one-shot HTTP/1.1 request with `Connection: close`; returns status and JSON body.
pub fn http(base: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    use std::io::Read;
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to backend");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body_start = text.find("\r\n\r\n").map_or(text.len(), |i| i + 4);
    let raw = &text[body_start..];
    // Chunked answers: take the JSON between the first chunk size line and the terminator.
    let json_text = if text[..body_start]
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        raw.split_once("\r\n")
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .rsplit_once("\r\n0\r\n")
            .map_or(raw, |(b, _)| b)
    } else {
        raw
    };
    (
        status,
        serde_json::from_str(json_text.trim()).unwrap_or(Value::Null),
    )
}

/// A daemon pointed at `backend`.
pub fn daemon_for(backend: &Backend) -> DaemonBuilder {
    daemon().env("IDE_AGENTS_BACKEND_URL", backend.url.clone())
}
