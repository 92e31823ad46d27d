//! A session's outbound queue. Answers are appended without waiting and a future the session
//! owns writes them to the socket. The queue knows how much its client has left unread, so
//! the session stops reading requests from a client that does not read its answers, and
//! drops one that stays so, instead of buffering without bound.

use super::read_gate::{Gate, Hold};
use bytes::{Buf, BytesMut};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::time::{Sleep, sleep};

/// Unread answer bytes past which the session stops reading requests.
pub const PAUSE_AT: usize = 1024 * 1024;
/// Unread answer bytes under which it reads again.
pub const RESUME_AT: usize = 256 * 1024;
/// An emptied buffer larger than this is given back rather than kept for the next burst.
const KEEP_CAPACITY: usize = 64 * 1024;

#[derive(Default)]
struct State {
    buffer: BytesMut,
    closing: bool,
    done: bool,
    /// Reading is held: the backlog passed [`PAUSE_AT`] and has not yet fallen under
    /// [`RESUME_AT`].
    holding: bool,
    waker: Option<Waker>,
}

/// The session's handle: append answers, ask for a close.
pub struct Outbox {
    state: Rc<RefCell<State>>,
    gate: Gate,
}

impl Outbox {
    /// A queue that holds `gate` while too much is unread.
    pub fn new(gate: Gate) -> Outbox {
        Outbox {
            state: Rc::default(),
            gate,
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        let mut state = self.state.borrow_mut();
        state.buffer.extend_from_slice(bytes);
        if state.buffer.len() > PAUSE_AT && !state.holding {
            state.holding = true;
            self.gate.hold(Hold::Unread);
        }
        if let Some(w) = state.waker.take() {
            w.wake();
        }
    }

    /// Writes what is queued, then shuts the socket's write side.
    pub fn close(&self) {
        let mut state = self.state.borrow_mut();
        state.closing = true;
        if let Some(w) = state.waker.take() {
            w.wake();
        }
    }

    /// Whether nothing more will be written (a close was asked for, or writing ended).
    pub fn closed(&self) -> bool {
        let state = self.state.borrow();
        state.closing || state.done
    }

    /// The future that writes this queue to `io`. It ends with `Ok` once a close was asked
    /// for and everything was written, and with an error when writing fails or the client,
    /// while reading is held for it, reads nothing for `stall`.
    pub fn flush_into<W: AsyncWrite + Unpin>(&self, io: W, stall: Duration) -> Flush<W> {
        Flush {
            state: self.state.clone(),
            gate: self.gate.clone(),
            io,
            stall,
            stall_timer: None,
        }
    }
}

pub struct Flush<W> {
    state: Rc<RefCell<State>>,
    gate: Gate,
    io: W,
    stall: Duration,
    /// Runs while reading is held for the client and it reads nothing.
    stall_timer: Option<Pin<Box<Sleep>>>,
}

impl<W: AsyncWrite + Unpin> Future for Flush<W> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = this.write_queued(cx);
        if result.is_ready() {
            this.state.borrow_mut().done = true;
        }
        result
    }
}

impl<W: AsyncWrite + Unpin> Flush<W> {
    fn write_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.state.borrow_mut();
        loop {
            if state.buffer.is_empty() {
                self.stall_timer = None;
                if state.buffer.capacity() > KEEP_CAPACITY {
                    state.buffer = BytesMut::new();
                }
                if state.closing {
                    drop(state);
                    return Pin::new(&mut self.io).poll_shutdown(cx);
                }
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            match Pin::new(&mut self.io).poll_write(cx, &state.buffer) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    state.buffer.advance(n);
                    self.stall_timer = None;
                    if state.holding && state.buffer.len() < RESUME_AT {
                        state.holding = false;
                        self.gate.release(Hold::Unread);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if !state.holding {
                        return Poll::Pending;
                    }
                    let stall = self.stall;
                    let timer = self
                        .stall_timer
                        .get_or_insert_with(|| Box::pin(sleep(stall)));
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let unread = state.buffer.len();
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the client left {unread} bytes of answers unread for {} s",
                            stall.as_secs_f64()
                        ),
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker;
    use tokio::io::AsyncReadExt;

    fn poll<W: AsyncWrite + Unpin>(flush: &mut Flush<W>) -> Poll<io::Result<()>> {
        let waker = noop_waker();
        Pin::new(flush).poll(&mut Context::from_waker(&waker))
    }

    #[tokio::test]
    async fn writes_everything_queued_then_shuts_down_on_close() {
        let (client, mut server) = tokio::io::duplex(64);
        let outbox = Outbox::new(Gate::default());
        let mut flush = outbox.flush_into(client, Duration::from_secs(60));
        outbox.write(b"first\n");
        outbox.write(b"second\n");
        assert!(poll(&mut flush).is_pending());
        outbox.close();
        assert!(outbox.closed());
        assert!(matches!(poll(&mut flush), Poll::Ready(Ok(()))));
        let mut got = String::new();
        server.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "first\nsecond\n");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unread_backlog_holds_reading_until_drained_and_a_stall_ends_the_flush() {
        let (client, mut server) = tokio::io::duplex(4096);
        let gate = Gate::default();
        let outbox = Outbox::new(gate.clone());
        let mut flush = outbox.flush_into(client, Duration::from_secs(5));
        let held = || gate.is_held();

        outbox.write(&vec![b'x'; PAUSE_AT + 1]);
        assert!(held(), "past the pause mark reading stops");
        assert!(poll(&mut flush).is_pending());

        // The client reads a little: progress restarts the stall clock, the hold stays.
        let mut chunk = vec![0; 4096];
        server.read_exact(&mut chunk).await.unwrap();
        assert!(poll(&mut flush).is_pending());
        assert!(held());

        // Paused time: this sleep runs the clock (and its timers) 6 s on at once.
        tokio::time::sleep(Duration::from_secs(6)).await;
        match poll(&mut flush) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("expected a stall error, got {other:?}"),
        }
        assert!(outbox.closed());
    }

    #[tokio::test]
    async fn reading_resumes_once_the_backlog_is_under_the_resume_mark() {
        let (client, mut server) = tokio::io::duplex(PAUSE_AT * 2);
        let gate = Gate::default();
        let outbox = Outbox::new(gate.clone());
        let mut flush = outbox.flush_into(client, Duration::from_secs(60));
        outbox.write(&vec![b'x'; PAUSE_AT + 1]);
        assert!(gate.is_held());
        // The pipe takes it all: nothing is left unread by the daemon's side.
        assert!(poll(&mut flush).is_pending());
        assert!(!gate.is_held());
        let mut sink = vec![0; PAUSE_AT + 1];
        server.read_exact(&mut sink).await.unwrap();
    }
}
