//! `POST /command`: runs one allow-listed program by argv, never through a shell, with a timeout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/command", web::post().to(command));
}

/// Exact program names, resolved through PATH; a path like `/bin/echo` is refused on purpose.
pub const ALLOWED: [&str; 5] = ["echo", "ls", "pwd", "whoami", "date"];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TIMEOUT_SECS: f64 = 60.0;
/// Per stream; the rest is drained and discarded so a chatty child never blocks on a full pipe.
const MAX_CAPTURE: usize = 1 << 20;

/// Set on SIGTERM/SIGINT: running children are killed so none outlives the backend.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Children currently waited on, so shutdown can wait for their kill to land.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

struct RunningGuard;

impl RunningGuard {
    fn new() -> Self {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Self
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Makes every running (and later) command kill its child at its next poll (≤ 20 ms).
pub fn begin_shutdown() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
}

/// Waits (bounded) until every child has been killed and reaped.
pub fn wait_for_children(max: Duration) {
    let deadline = Instant::now() + max;
    while RUNNING.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
}

#[derive(Debug, PartialEq)]
pub enum ArgvError {
    Empty,
    NotAllowed(String),
}

/// Whitespace split only: `;`, `|`, `$(…)` stay literal argv bytes, and no shell ever sees them.
pub fn parse_argv(command: &str) -> Result<Vec<String>, ArgvError> {
    let argv: Vec<String> = command.split_whitespace().map(String::from).collect();
    match argv.first() {
        None => Err(ArgvError::Empty),
        Some(prog) if ALLOWED.contains(&prog.as_str()) => Ok(argv),
        Some(prog) => Err(ArgvError::NotAllowed(prog.clone())),
    }
}

/// `payload.cwd` when it names a directory; `payload.timeout` seconds when positive, capped.
pub fn options(payload: Option<&Value>) -> (Option<PathBuf>, Duration) {
    let cwd = payload
        .and_then(|p| p.get("cwd"))
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .filter(|p| p.is_dir());
    let timeout = payload
        .and_then(|p| p.get("timeout"))
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0)
        .map(|t| Duration::from_secs_f64(t.min(MAX_TIMEOUT_SECS)))
        .unwrap_or(DEFAULT_TIMEOUT);
    (cwd, timeout)
}

pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    /// None when the child was killed by a signal (including our timeout kill).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

/// Blocking: call from a blocking thread, never from an HTTP worker.
pub fn run(argv: &[String], cwd: Option<&Path>, timeout: Duration) -> std::io::Result<Outcome> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty argv"))?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let _running = RunningGuard::new();
    let mut child = cmd.spawn()?;
    // Read both pipes concurrently, or a child filling one of them would stall forever.
    let stdout = child.stdout.take().map(capture).transpose()?;
    let stderr = child.stderr.take().map(capture).transpose()?;
    let waited = wait_with_deadline(&mut child, timeout);
    let exit = match waited {
        Ok(exit) => exit,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    Ok(Outcome {
        stdout: collect(stdout),
        stderr: collect(stderr),
        exit_code: exit.and_then(|status| status.code()),
        timed_out: exit.is_none(),
    })
}

/// Polls with a short backoff (no tokio `process` feature here); None means killed on timeout.
fn wait_with_deadline(
    child: &mut Child,
    timeout: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline || SHUTTING_DOWN.load(Ordering::SeqCst) {
            child.kill()?;
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn capture(mut pipe: impl Read + Send + 'static) -> std::io::Result<JoinHandle<Vec<u8>>> {
    thread::Builder::new()
        .name("command-capture".into())
        .spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                let room = MAX_CAPTURE.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            kept
        })
}

fn collect(reader: Option<JoinHandle<Vec<u8>>>) -> String {
    let bytes = reader.and_then(|h| h.join().ok()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[derive(Deserialize)]
struct CommandRequest {
    command: String,
    #[serde(default)]
    payload: Option<Value>,
}

fn failure(status: StatusCode, error: String) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "success": false, "error": error }))
}

async fn command(body: web::Json<CommandRequest>) -> HttpResponse {
    let CommandRequest { command, payload } = body.into_inner();
    let argv = match parse_argv(&command) {
        Ok(argv) => argv,
        Err(ArgvError::Empty) => {
            return failure(StatusCode::BAD_REQUEST, "empty command".into());
        }
        Err(ArgvError::NotAllowed(prog)) => {
            return failure(
                StatusCode::FORBIDDEN,
                format!("command not allowed: {prog}"),
            );
        }
    };
    let (cwd, timeout) = options(payload.as_ref());
    log::debug!("running {argv:?} in {cwd:?} with timeout {timeout:?}");
    let prog = argv[0].clone();
    // The child is waited on a blocking thread so the (single) HTTP worker keeps serving.
    let outcome = web::block(move || run(&argv, cwd.as_deref(), timeout)).await;
    match outcome {
        Ok(Ok(out)) => {
            let result = json!({
                "stdout": out.stdout,
                "stderr": out.stderr,
                "exit_code": out.exit_code,
            });
            if out.timed_out {
                HttpResponse::Ok()
                    .json(json!({ "success": false, "result": result, "error": "timeout" }))
            } else {
                HttpResponse::Ok()
                    .json(json!({ "success": out.exit_code == Some(0), "result": result }))
            }
        }
        Ok(Err(e)) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot run {prog}: {e}"),
        ),
        Err(e) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot run {prog}: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_is_exact_and_shell_free() {
        assert_eq!(
            parse_argv("  echo   hello  world "),
            Ok(vec!["echo".into(), "hello".into(), "world".into()])
        );
        assert_eq!(
            parse_argv("rm -rf /"),
            Err(ArgvError::NotAllowed("rm".into()))
        );
        assert_eq!(
            parse_argv("ls; whoami"),
            Err(ArgvError::NotAllowed("ls;".into()))
        );
        assert_eq!(
            parse_argv("/bin/echo hi"),
            Err(ArgvError::NotAllowed("/bin/echo".into()))
        );
        assert_eq!(
            parse_argv("ECHO hi"),
            Err(ArgvError::NotAllowed("ECHO".into()))
        );
        assert_eq!(parse_argv(" \t\n"), Err(ArgvError::Empty));
        // Shell syntax after an allowed program is just argv.
        assert_eq!(parse_argv("echo $(id)").map(|a| a.len()), Ok(2));
    }

    #[test]
    fn options_default_cap_and_ignore_bad_values() {
        let (cwd, t) = options(None);
        assert_eq!((cwd, t), (None, DEFAULT_TIMEOUT));
        let p = json!({"cwd": "/", "timeout": 500});
        assert_eq!(
            options(Some(&p)),
            (Some(PathBuf::from("/")), Duration::from_secs(60))
        );
        let p = json!({"cwd": "/definitely/not/here", "timeout": -1});
        assert_eq!(options(Some(&p)), (None, DEFAULT_TIMEOUT));
        let p = json!({"timeout": 0.5});
        assert_eq!(options(Some(&p)).1, Duration::from_millis(500));
    }

    #[test]
    fn runs_echo_and_reports_exit_code() {
        let argv = parse_argv("echo hello").expect("allowed");
        let out = run(&argv, None, DEFAULT_TIMEOUT).expect("echo runs");
        assert_eq!(out.stdout, "hello\n");
        assert_eq!(out.exit_code, Some(0));
        assert!(!out.timed_out);
    }
}
