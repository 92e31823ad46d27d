//! Bare newline-delimited echo server: the performance ceiling for a server on this
//! machine (no parsing, one write per read).
//!
//! The main thread accepts and deals connections round-robin to worker threads, each
//! running its own current-thread runtime, so load spreads evenly over the workers.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::thread;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::runtime::{Builder, Runtime};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

const READ_CHUNK: usize = 64 * 1024;

pub fn serve(path: &Path, threads: usize) -> Result<(), String> {
    remove_stale_socket(path)?;
    let listener = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    let result = accept_loop(path, listener, threads.max(1));
    let _ = std::fs::remove_file(path);
    result
}

/// Removes a socket left behind by an earlier run, but never any other kind of file.
fn remove_stale_socket(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display())),
        Ok(_) => Err(format!(
            "{} exists and is not a socket; not removing it",
            path.display()
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot inspect {}: {e}", path.display())),
    }
}

fn runtime() -> Result<Runtime, String> {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio runtime: {e}"))
}

fn accept_loop(
    path: &Path,
    listener: std::os::unix::net::UnixListener,
    threads: usize,
) -> Result<(), String> {
    let workers = (0..threads)
        .map(spawn_worker)
        .collect::<Result<Vec<_>, _>>()?;
    let rt = runtime()?;
    rt.block_on(async {
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot configure listener: {e}"))?;
        let listener = UnixListener::from_std(listener)
            .map_err(|e| format!("cannot register listener: {e}"))?;
        let mut term =
            signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
        let mut int =
            signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
        println!("listening on {}", path.display());
        // Whoever waits for this line (e.g. a script) needs it now, not at exit.
        let _ = std::io::stdout().flush();
        let mut next = 0;
        let signal = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        // Deregister here; the worker registers it with its own runtime.
                        match stream.into_std() {
                            Ok(stream) => {
                                let _ = workers[next].send(stream);
                                next = (next + 1) % workers.len();
                            }
                            Err(e) => log::warn!("cannot hand over connection: {e}"),
                        }
                    }
                    // E.g. EMFILE: keep serving the connections we have, without spinning.
                    Err(e) => {
                        log::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
            }
        };
        eprintln!("{signal} received, shutting down");
        Ok(())
    })
}

fn spawn_worker(index: usize) -> Result<mpsc::UnboundedSender<StdUnixStream>, String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<StdUnixStream>();
    let rt = runtime()?;
    thread::Builder::new()
        .name(format!("echo-{index}"))
        .spawn(move || {
            rt.block_on(async move {
                while let Some(stream) = rx.recv().await {
                    match UnixStream::from_std(stream) {
                        Ok(stream) => {
                            tokio::spawn(echo(stream));
                        }
                        Err(e) => log::warn!("cannot register connection: {e}"),
                    }
                }
            })
        })
        .map_err(|e| format!("cannot start worker thread: {e}"))?;
    Ok(tx)
}

/// Echoes every complete line buffered so far in one write; a final unterminated line
/// is echoed with a `\n` at end of stream.
async fn echo(mut stream: UnixStream) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        // Everything before `old` is a partial line: only the new bytes can hold a `\n`.
        let old = buf.len();
        match stream.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => return,
        }
        if let Some(last) = buf[old..].iter().rposition(|&b| b == b'\n') {
            let end = old + last + 1;
            if stream.write_all(&buf[..end]).await.is_err() {
                return;
            }
            buf.advance(end);
        }
    }
    if !buf.is_empty() {
        buf.put_u8(b'\n');
        let _ = stream.write_all(&buf).await;
    }
}
