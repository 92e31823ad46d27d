//! `ide-agentsd connect`: the stdio bridge an IDE launches. Copies stdin to the socket and
//! the socket to stdout byte for byte; on stdin EOF it half-closes the socket and keeps
//! copying until the daemon closes, so every answer arrives.

use super::client::{EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, unreachable_message};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

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
    std::thread::spawn(move || copy_stdin(to_daemon));
    match copy(stream, std::io::stdout().lock()) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!(
                "ide-agentsd connect: connection to {} failed: {e}",
                path.display()
            );
            EXIT_ERROR
        }
    }
}

fn copy_stdin(mut to_daemon: UnixStream) {
    let result = copy(std::io::stdin().lock(), &mut to_daemon);
    if let Err(e) = result {
        log::debug!("stdin copy ended: {e}");
    }
    // Tell the daemon no more requests come; it still answers those in flight.
    let _ = to_daemon.shutdown(Shutdown::Write);
}

/// Copies until EOF, flushing after every read so answers are never held back.
fn copy(mut from: impl Read, mut to: impl Write) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}
