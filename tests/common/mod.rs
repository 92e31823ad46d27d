//! Test harness: runs the real `ide-agentsd` binary on a temp socket and talks to it.
//! Readiness is waited for explicitly (the daemon's "serving on" log line), never slept for.
#![allow(dead_code)]

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
}

impl DaemonBuilder {
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_string(), v.into()));
        self
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

    /// Spawns the daemon without waiting for it.
    pub fn spawn(self) -> Daemon {
        let dir = self
            .dir
            .unwrap_or_else(|| tempfile::tempdir().expect("tempdir"));
        let socket = self
            .socket
            .unwrap_or_else(|| dir.path().join("run/mcp.sock"));
        let mut cmd = Command::new(BIN);
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
    }
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
    reader: BufReader<UnixStream>,
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
