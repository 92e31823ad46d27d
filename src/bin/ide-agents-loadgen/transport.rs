//! Byte streams to the server under test: a Unix socket, or a child's stdin/stdout.

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;

/// How long a child gets to exit on its own after its stdin is closed.
const CHILD_EXIT_GRACE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub enum Target {
    Socket(PathBuf),
    /// Program and arguments; one child is spawned per connection.
    Stdio(Vec<String>),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Target::Socket(path) => write!(f, "{}", path.display()),
            Target::Stdio(argv) => write!(f, "`{}`", argv.join(" ")),
        }
    }
}

/// One connection's two directions. Boxed: one dynamic call per syscall is noise,
/// and it keeps the connection code free of transport generics.
pub struct Io {
    pub reader: Box<dyn AsyncRead + Unpin>,
    pub writer: Box<dyn AsyncWrite + Unpin>,
    child: Option<Child>,
}

impl Io {
    /// Must be called from within a tokio runtime (the streams register with its reactor).
    pub async fn connect(target: &Target) -> Result<Io, String> {
        match target {
            Target::Socket(path) => {
                let stream = UnixStream::connect(path)
                    .await
                    .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
                let (reader, writer) = stream.into_split();
                Ok(Io {
                    reader: Box::new(reader),
                    writer: Box::new(writer),
                    child: None,
                })
            }
            Target::Stdio(argv) => spawn(argv).map_err(|e| format!("cannot run {target}: {e}")),
        }
    }

    /// Closes the connection; a child gets EOF on stdin, a short grace period, then SIGKILL.
    pub async fn close(self) {
        let Io {
            reader,
            writer,
            child,
        } = self;
        drop(writer);
        drop(reader);
        let Some(mut child) = child else { return };
        let deadline = tokio::time::Instant::now() + CHILD_EXIT_GRACE;
        while tokio::time::Instant::now() < deadline {
            match child.try_wait() {
                Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
                Ok(Some(_)) | Err(_) => return,
            }
        }
        log::debug!("child {} did not exit on EOF, killing it", child.id());
        // Errors here mean it is already gone.
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn spawn(argv: &[String]) -> std::io::Result<Io> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    log::debug!("spawned child {} for `{}`", child.id(), argv.join(" "));
    let pipes = (|| {
        let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
        // Makes the pipes non-blocking and registers them with the runtime.
        let writer = pipe::Sender::from_owned_fd(OwnedFd::from(stdin))?;
        let reader = pipe::Receiver::from_owned_fd(OwnedFd::from(stdout))?;
        Ok::<_, std::io::Error>((reader, writer))
    })();
    match pipes {
        Ok((reader, writer)) => Ok(Io {
            reader: Box::new(reader),
            writer: Box::new(writer),
            child: Some(child),
        }),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

fn missing(what: &str) -> std::io::Error {
    std::io::Error::other(format!("child {what} was not captured"))
}
