//! `ide-agentsd connect`: the stdio bridge an IDE launches. Copies stdin to the socket and
//! the socket to stdout byte for byte; on stdin EOF it half-closes the socket and keeps
//! copying until the daemon closes, so every answer arrives. A daemon that closes first
//! (it stopped, restarted or died while the IDE still had requests to send) is an error
//! the IDE sees: exit 3 and one line on stderr. An IDE that exits or is killed closes both
//! its ends: once nobody reads stdout, the bridge hangs up the socket entirely, and the
//! daemon drops that client's calls as it does for a client that disconnects.

use super::client::{
    CONTROL_TIMEOUT, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, connect_daemon, timeout_or,
    unreachable_message,
};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::mem::ManuallyDrop;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub fn run(path: &Path) -> i32 {
    let stream = match connect_daemon(path, timeout_or(CONTROL_TIMEOUT)) {
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
    let reader_gone = Arc::new(AtomicBool::new(false));
    if let Ok(socket) = stream.try_clone() {
        let gone = reader_gone.clone();
        std::thread::spawn(move || hang_up_when_stdout_reader_leaves(&socket, &gone));
    }
    let copied = copy_reporting(&stream, &*std_file(libc::STDOUT_FILENO));
    if reader_gone.load(Ordering::SeqCst) {
        // Whoever would read this has gone; it may have taken stderr with it.
        eprintln!(
            "ide-agentsd connect: nothing reads stdout any more; the daemon was told to drop this client's requests"
        );
        return EXIT_ERROR;
    }
    match copied {
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
        Err(Side::Read(e)) => {
            eprintln!(
                "ide-agentsd connect: connection to {} failed: {e}",
                path.display()
            );
            EXIT_ERROR
        }
        Err(Side::Write(e)) => {
            eprintln!("ide-agentsd connect: writing stdout failed: {e}");
            EXIT_ERROR
        }
    }
}

/// Blocks until stdout has no reader (a pipe's read end closed: `POLLERR`; a socket or
/// terminal hung up: `POLLHUP`), then shuts the socket both ways, which the daemon sees as
/// a hang-up rather than the half-close of a client that still wants its answers. A
/// stdout that cannot tell (a file, /dev/null) never wakes this thread.
fn hang_up_when_stdout_reader_leaves(socket: &UnixStream, gone: &AtomicBool) {
    let mut stdout = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        // No events asked for: poll still reports the error and hang-up conditions.
        events: 0,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd that outlives the call.
        let n = unsafe { libc::poll(&mut stdout, 1, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if stdout.revents & libc::POLLNVAL != 0 {
            return;
        }
        if stdout.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            gone.store(true, Ordering::SeqCst);
            let _ = socket.shutdown(Shutdown::Both);
            return;
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

fn copy_stdin(to_daemon: UnixStream, state: &StdinState) {
    match copy_reporting(&*std_file(libc::STDIN_FILENO), &to_daemon) {
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

/// Stdin or stdout as an unbuffered file on its descriptor (left open when dropped): the
/// copy does its own buffering, so nothing is held back or written twice on a retry.
fn std_file(fd: RawFd) -> ManuallyDrop<File> {
    // SAFETY: the descriptor stays open for the whole process; ManuallyDrop never closes it.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

/// Copies until EOF, writing each read out at once so answers are never held back. An end
/// set non-blocking by whoever shares it (a Node parent does this to pipes) is waited on
/// with `poll` instead of failing the copy.
fn copy_reporting(mut from: impl Read + AsFd, mut to: impl Write + AsFd) -> Result<(), Side> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                wait_for(from.as_fd(), libc::POLLIN);
                continue;
            }
            Err(e) => return Err(Side::Read(e)),
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            match to.write(rest) {
                Ok(0) => return Err(Side::Write(ErrorKind::WriteZero.into())),
                Ok(k) => rest = &rest[k..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => wait_for(to.as_fd(), libc::POLLOUT),
                Err(e) => return Err(Side::Write(e)),
            }
        }
    }
}

/// Blocks until `fd` is ready for `events` (or in a state the next call reports).
fn wait_for(fd: BorrowedFd<'_>, events: libc::c_short) {
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd that outlives the call; an error just means try again.
    unsafe { libc::poll(&mut poll, 1, -1) };
}
