//! The client subcommands: `connect` (the stdio bridge) and `call`.

mod common;

use common::{BIN, Backend, daemon, daemon_for};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

/// `ide-agentsd connect` on `socket`, its stdio piped to the test.
fn spawn_connect(socket: &std::path::Path) -> std::process::Child {
    Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn connect_bridges_stdio_byte_exactly_and_drains_after_stdin_eof() {
    let d = daemon().start();
    let mut child = spawn_connect(&d.socket);
    let mut input = String::new();
    input.push_str(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}).to_string());
    input.push('\n');
    input.push_str("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    for i in 2..22 {
        input.push_str(&json!({"jsonrpc":"2.0","id":i,"method":"tools/call","params":{"name":"ide_agents_healthz"}}).to_string());
        input.push('\n');
    }
    // Everything, then EOF: the bridge half-closes and still delivers every answer.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with('\n'));
    let replies: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replies.len(), 21);
    let mut ids: Vec<i64> = replies.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..22).collect::<Vec<_>>());
}

#[test]
fn connect_reports_a_daemon_that_goes_away_while_the_ide_is_still_talking() {
    use std::io::BufRead;
    let mut d = daemon().start();
    let mut child = spawn_connect(&d.socket);
    let mut stdin = child.stdin.take().unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    writeln!(stdin, "{ping}").unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap()["id"],
        1,
        "{line}"
    );
    // The daemon stops while stdin is still open.
    d.signal(libc::SIGTERM);
    d.wait_exit();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("closed the connection"), "{err}");
    drop(stdin);
}

#[test]
fn connect_hangs_up_for_an_ide_that_went_away_so_its_calls_are_dropped() {
    use std::io::BufRead;
    let backend = Backend::start();
    let d = daemon_for(&backend)
        .env("IDE_AGENTS_HEALTH_INTERVAL_SECS", "3600")
        .start();
    backend.faults(json!({"hang": true, "paths": ["/documentation"]}));
    let mut child = spawn_connect(&d.socket);
    let mut stdin = child.stdin.take().unwrap();
    let slow = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "ide_agents_fetch_doc", "arguments": {"topic": "x"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
    writeln!(stdin, "{slow}").unwrap();
    backend.wait_for("the call to reach the backend", |s| {
        s["in_flight"].as_u64() == Some(1)
    });
    // The IDE dies: both its ends close. A half-close alone would keep the call running
    // until the backend answered, for nobody.
    drop(std::io::BufReader::new(child.stdout.take().unwrap()).lines());
    drop(stdin);
    backend.wait_for("the backend to see the call dropped", |s| {
        s["dropped"].as_u64() == Some(1)
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("nothing reads stdout"), "{err}");
}

#[test]
fn connect_without_a_daemon_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.sock");
    let out = Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&path.display().to_string()) && err.contains("ide-agentsd serve"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn call_prints_the_structured_result_and_exits_by_outcome() {
    let d = daemon().start();
    let out = Command::new(BIN)
        .args(["call", "ide_agents_healthz", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "live");

    let out = Command::new(BIN)
        .args(["call", "ide_agents_healthz", "--arg", "bogus=1", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "invalid_arguments");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["call", "ide_agents_healthz", "--socket"])
        .arg(dir.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn call_passes_a_number_written_for_a_string_argument_as_the_string() {
    let backend = common::Backend::start();
    let d = common::daemon_for(&backend).start();
    // `topic` is a string in the tool's schema: 123 is the topic "123", not a number.
    let out = Command::new(BIN)
        .args([
            "call",
            "ide_agents_fetch_doc",
            "--arg",
            "topic=123",
            "--socket",
        ])
        .arg(&d.socket)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The reference backend has no such topic: what matters is that it was asked for it.
    assert_eq!(v["error"]["code"], "not_found", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("topic \"123\""), "{v}");
    assert_eq!(backend.hits("GET /documentation"), 1);
}

/// A client command on `socket` with a 0.3 s timeout: its exit code and stderr.
fn with_short_timeout(args: &[&str], socket: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .env("IDE_AGENTS_CLIENT_TIMEOUT_SECS", "0.3")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn client_commands_give_up_on_a_daemon_that_does_not_answer() {
    let d = daemon().start();
    d.signal(libc::SIGSTOP);
    for args in [vec!["status"], vec!["call", "ide_agents_healthz"]] {
        let (code, err) = with_short_timeout(&args, &d.socket);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains("did not answer within 0.3 s"),
            "{args:?}: {err}"
        );
    }
    d.signal(libc::SIGCONT);
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

#[test]
fn connect_says_so_when_reading_stdin_fails() {
    let d = daemon().start();
    // Reading a directory fails (EISDIR): stdin breaks while the daemon is fine.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(&d.socket)
        .stdin(std::fs::File::open(dir.path()).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("reading stdin failed"), "{err}");
    assert!(!err.contains("closed the connection"), "{err}");
}

#[test]
fn client_settings_from_the_environment_are_checked_or_fall_back_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    // A malformed client timeout is a usage error naming the variable, not a silent 10 s.
    for bad in ["abc", "-1", "0", "2s", "1e300"] {
        let out = Command::new(BIN)
            .args(["status", "--socket"])
            .arg(dir.path().join("none.sock"))
            .env("IDE_AGENTS_CLIENT_TIMEOUT_SECS", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("IDE_AGENTS_CLIENT_TIMEOUT_SECS"),
            "{bad:?}: {err}"
        );
    }
    // An empty IDE_AGENTS_SOCKET is unset, as for `serve`: the default path is tried.
    let out = Command::new(BIN)
        .arg("status")
        .env("IDE_AGENTS_SOCKET", "")
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let default = dir.path().join("ide-agents/mcp.sock");
    assert!(err.contains(&*default.to_string_lossy()), "{err}");
}

/// A pipe: (read end, write end).
fn pipe() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own. Close-on-exec, so children other
    // tests spawn meanwhile do not hold an end open.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors, owned by nothing else.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
}

fn set_nonblocking(f: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        assert_eq!(
            libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            0
        );
    }
}

/// `status | head -c0`: output nobody reads is not a crash, and the exit code still says
/// how the daemon is.
#[test]
fn client_commands_whose_stdout_reader_is_gone_exit_by_outcome_not_by_panic() {
    let backend = Backend::start();
    let d = daemon_for(&backend).start();
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["call", "ide_agents_healthz"],
    ] {
        let (read, write) = pipe();
        drop(read);
        let out = Command::new(BIN)
            .args(&args)
            .arg("--socket")
            .arg(&d.socket)
            .stdout(write)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A Node parent can leave the pipes it shares non-blocking: the bridge waits on them
/// instead of failing with EAGAIN.
#[test]
fn connect_works_on_non_blocking_stdin_and_stdout() {
    use std::io::{BufRead, BufReader};
    let d = daemon().start();
    let (stdin_read, mut stdin_write) = pipe();
    let (stdout_read, stdout_write) = pipe();
    set_nonblocking(&stdin_read);
    set_nonblocking(&stdout_write);
    let child = Command::new(BIN)
        .args(["connect", "--socket"])
        .arg(&d.socket)
        .stdin(stdin_read)
        .stdout(stdout_write)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A long answer, so a non-blocking stdout fills up.
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
    writeln!(stdin_write, "{request}").unwrap();
    let mut answer = String::new();
    BufReader::new(&stdout_read).read_line(&mut answer).unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert!(
        answer["result"]["tools"].as_array().unwrap().len() > 3,
        "{answer}"
    );
    drop(stdin_write);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// A listening socket nobody accepts on, its queue full: what a wedged daemon looks like
/// once clients have queued up behind it.
fn socket_with_a_full_queue(path: &std::path::Path) -> Vec<std::os::fd::OwnedFd> {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let mut held = vec![OwnedFd::from(listener)];
    // SAFETY: plain socket calls on descriptors we own; the address is filled within bounds.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::listen(held[0].as_raw_fd(), 0);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, b) in path.as_os_str().as_bytes().iter().enumerate() {
            addr.sun_path[i] = *b as libc::c_char;
        }
        loop {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
            assert!(fd >= 0);
            let rc = libc::connect(
                fd,
                (&addr as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            );
            held.push(OwnedFd::from_raw_fd(fd));
            if rc != 0 {
                break; // EAGAIN: the queue is full
            }
            assert!(held.len() < 10_000, "the queue never filled");
        }
    }
    held
}

#[test]
fn client_commands_give_up_on_a_daemon_whose_queue_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stuck.sock");
    let _held = socket_with_a_full_queue(&path);
    for args in [
        vec!["status"],
        vec!["call", "ide_agents_healthz"],
        vec!["connect"],
    ] {
        let (code, err) = with_short_timeout(&args, &path);
        assert_eq!(code, Some(3), "{args:?}: {err}");
        assert!(
            err.contains("took no connection within 0.3 s"),
            "{args:?}: {err}"
        );
    }
}

/// The line-length limit refuses a request before it is read; `call` says why instead of
/// only that the connection closed.
#[test]
fn call_shows_why_the_daemon_refused_its_request() {
    let d = daemon().env("IDE_AGENTS_MAX_MESSAGE_BYTES", "4096").start();
    let out = Command::new(BIN)
        .args(["call", "ide_agents_healthz", "--arg"])
        .arg(format!("pad={}", "x".repeat(5000)))
        .arg("--socket")
        .arg(&d.socket)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refused the request"), "{err}");
    assert!(err.contains("IDE_AGENTS_MAX_MESSAGE_BYTES"), "{err}");
}

/// A daemon run by another user (its socket opened to all, in a shared directory) is not
/// this user's to talk to: the client refuses it, and the daemon tells such a client why it
/// is refused before closing.
#[test]
fn clients_and_daemon_each_refuse_another_user() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return; // only root can run the two sides as two other users
    }
    let (daemon_uid, client_uid) = (65533, 65534);
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    for p in [dir.path(), run.as_path()] {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(
            unsafe { libc::chown(c.as_ptr(), daemon_uid, daemon_uid) },
            0
        );
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let socket = run.join("mcp.sock");
    let mut child = Command::new(BIN)
        .args(["serve", "--socket"])
        .arg(&socket)
        .current_dir(dir.path())
        .stderr(Stdio::null())
        .uid(daemon_uid)
        .gid(daemon_uid)
        .spawn()
        .unwrap();
    common::wait_until("the other user's daemon", || socket.exists());
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();

    let out = Command::new(BIN)
        .args(["status", "--socket"])
        .arg(&socket)
        .uid(client_uid)
        .gid(client_uid)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("runs as uid 65533"), "{err}");

    // A raw client as the other user: a thread of its own takes that uid (the raw syscall
    // changes only the calling thread).
    let path = socket.clone();
    let line = std::thread::spawn(move || {
        // SAFETY: setresuid on this thread only; it never needs root again.
        let rc = unsafe { libc::syscall(libc::SYS_setresuid, client_uid, client_uid, client_uid) };
        assert_eq!(rc, 0);
        let stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line
    })
    .join()
    .unwrap();
    let refusal: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not allowed"),
        "{refusal}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
