//! `ide-agentsd connect`: the stdio bridge an IDE launches. Copies stdin to the socket and
//! the socket to stdout byte for byte; on stdin EOF it half-closes the socket and keeps
//! copying until the daemon closes, so every answer arrives. A daemon that closes first
//! (it stopped, restarted or died while the IDE still had requests to send) is an error
//! the IDE sees: exit 3 and one line on stderr.

use super::client::{EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, unreachable_message};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub fn run(path: &Path) -> i32 {
    let stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", unreachable_message(path, &e));
            return EXIT_UNREACHABLE;
        }
    };
    let to_daemon = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ide-agentsd connect: {e}");
            return EXIT_ERROR;
        }
    };
    let stdin_state = Arc::new(StdinState::default());
    let state = stdin_state.clone();
    std::thread::spawn(move || copy_stdin(to_daemon, &state));
    match copy(stream, std::io::stdout().lock()) {
        // Set before the half-close, so a daemon that closed after it was told is a clean end.
        Ok(()) if stdin_state.ended.load(Ordering::SeqCst) => EXIT_OK,
        Ok(()) if stdin_state.failed.load(Ordering::SeqCst) => {
            // Already reported by the stdin side; the daemon closed because we half-closed.
            EXIT_ERROR
        }
        Ok(()) => {
            eprintln!(
                "ide-agentsd connect: the daemon at {} closed the connection (it stopped or \
                 restarted); requests not yet answered are lost",
                path.display()
            );
            EXIT_UNREACHABLE
        }
        Err(e) => {
            eprintln!(
                "ide-agentsd connect: connection to {} failed: {e}",
                path.display()
            );
            EXIT_ERROR
        }
    }
}

/// How the copy of stdin to the socket ended.
#[derive(Default)]
struct StdinState {
    /// Stdin reached EOF: the IDE is done.
    ended: AtomicBool,
    /// Reading stdin failed (reported on stderr).
    failed: AtomicBool,
}

fn copy_stdin(mut to_daemon: UnixStream, state: &StdinState) {
    match copy_reporting(std::io::stdin().lock(), &mut to_daemon) {
        Ok(()) => state.ended.store(true, Ordering::SeqCst),
        Err(Side::Read(e)) => {
            eprintln!("ide-agentsd connect: reading stdin failed: {e}");
            state.failed.store(true, Ordering::SeqCst);
        }
        // The socket failed: the copy the other way reports why.
        Err(Side::Write(e)) => log::debug!("stdin copy ended: {e}"),
    }
    // Tell the daemon no more requests come; it still answers those in flight.
    let _ = to_daemon.shutdown(Shutdown::Write);
}

/// Which end of a copy failed.
enum Side {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies until EOF, flushing after every read so answers are never held back.
fn copy(from: impl Read, to: impl Write) -> std::io::Result<()> {
    copy_reporting(from, to).map_err(|(Side::Read(e) | Side::Write(e))| e)
}

fn copy_reporting(mut from: impl Read, mut to: impl Write) -> Result<(), Side> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Side::Read(e)),
        };
        to.write_all(&buf[..n])
            .and_then(|()| to.flush())
            .map_err(Side::Write)?;
    }
}
