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

struct State<W> {
    io: W,
    buffer: BytesMut,
    closing: bool,
    done: bool,
    /// Reading is held: the backlog passed [`PAUSE_AT`] and has not yet fallen under
    /// [`RESUME_AT`].
    holding: bool,
    /// The last write found the socket full; the flush future waits for it to drain.
    blocked: bool,
    /// The flush future's waker, kept whenever it is pending.
    waker: Option<Waker>,
}

impl<W: AsyncWrite + Unpin> State<W> {
    /// One write of the queue's head; what was written leaves the queue.
    fn poll_write_some(&mut self, cx: &mut Context<'_>, gate: &Gate) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.io).poll_write(cx, &self.buffer) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => {
                self.blocked = false;
                self.buffer.advance(n);
                if self.holding && self.buffer.len() < RESUME_AT {
                    self.holding = false;
                    gate.release(Hold::Unread);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                self.blocked = true;
                Poll::Pending
            }
        }
    }
}

/// The session's handle: append answers, ask for a close.
pub struct Outbox<W> {
    state: Rc<RefCell<State<W>>>,
    gate: Gate,
}

impl<W: AsyncWrite + Unpin> Outbox<W> {
    /// A queue writing to `io` that holds `gate` while too much is unread.
    pub fn new(io: W, gate: Gate) -> Outbox<W> {
        let state = State {
            io,
            buffer: BytesMut::new(),
            closing: false,
            done: false,
            holding: false,
            blocked: false,
            waker: None,
        };
        Outbox {
            state: Rc::new(RefCell::new(state)),
            gate,
        }
    }

    /// Appends one message (its parts in order). With `now`, what the socket takes at once
    /// is written here, so the answer leaves in the handler that made it rather than on the
    /// session's next poll; otherwise the flush future writes it, coalesced with the answers
    /// finished in the same poll.
    pub fn write(&self, parts: &[&[u8]], now: bool) {
        let mut state = self.state.borrow_mut();
        for part in parts {
            state.buffer.extend_from_slice(part);
        }
        if now && !state.closing && !state.done && !state.blocked {
            // A write that does not go through (full socket, error) stays queued: the flush
            // future, woken below, retries it with its own waker or reports the error.
            // Never tried while the flush future waits on a full socket: this poll would
            // put a waker that does nothing in the place of its own.
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            let _ = state.poll_write_some(&mut cx, &self.gate);
            if state.buffer.is_empty() {
                return;
            }
        }
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

    /// The future that writes this queue. It ends with `Ok` once a close was asked for and
    /// everything was written, and with an error when writing fails or the client, while
    /// reading is held for it, reads nothing for `stall`.
    pub fn flusher(&self, stall: Duration) -> Flush<W> {
        Flush {
            state: self.state.clone(),
            gate: self.gate.clone(),
            stall,
            stall_timer: None,
        }
    }
}

pub struct Flush<W> {
    state: Rc<RefCell<State<W>>>,
    gate: Gate,
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
                    return Pin::new(&mut state.io).poll_shutdown(cx);
                }
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            match state.poll_write_some(cx, &self.gate) {
                Poll::Ready(Ok(())) => self.stall_timer = None,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    state.waker = Some(cx.waker().clone());
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

    /// Runs the flush future, with a real waker, until the queue is empty.
    async fn flushed<W: AsyncWrite + Unpin>(outbox: &Outbox<W>, flush: &mut Flush<W>) {
        std::future::poll_fn(|cx| match Pin::new(&mut *flush).poll(cx) {
            Poll::Pending if outbox.state.borrow().buffer.is_empty() => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => panic!("flush ended: {r:?}"),
        })
        .await
    }

    #[tokio::test]
    async fn writes_everything_queued_then_shuts_down_on_close() {
        let (client, mut server) = tokio::io::duplex(64);
        let outbox = Outbox::new(client, Gate::default());
        let mut flush = outbox.flusher(Duration::from_secs(60));
        outbox.write(&[b"first\n"], false);
        outbox.write(&[b"sec", b"ond\n"], false);
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
        let outbox = Outbox::new(client, gate.clone());
        let mut flush = outbox.flusher(Duration::from_secs(5));
        let held = || gate.is_held();

        outbox.write(&[&vec![b'x'; PAUSE_AT + 1]], false);
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
        let outbox = Outbox::new(client, gate.clone());
        let mut flush = outbox.flusher(Duration::from_secs(60));
        outbox.write(&[&vec![b'x'; PAUSE_AT + 1]], false);
        assert!(gate.is_held());
        // The pipe takes it all: nothing is left unread by the daemon's side.
        assert!(poll(&mut flush).is_pending());
        assert!(!gate.is_held());
        let mut sink = vec![0; PAUSE_AT + 1];
        server.read_exact(&mut sink).await.unwrap();
    }

    #[tokio::test]
    async fn written_now_reaches_the_socket_without_the_flush_future() {
        let (client, mut server) = tokio::io::duplex(64);
        let outbox = Outbox::new(client, Gate::default());
        let _flush = outbox.flusher(Duration::from_secs(60));
        outbox.write(&[b"{\"id\":1}", b"\n"], true);
        let mut got = [0; 9];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"{\"id\":1}\n");
    }

    #[tokio::test]
    async fn written_now_into_a_full_socket_stays_queued_for_the_flush_future() {
        let (client, mut server) = tokio::io::duplex(4);
        let outbox = Outbox::new(client, Gate::default());
        let mut flush = outbox.flusher(Duration::from_secs(60));
        outbox.write(&[b"0123456789\n"], true);
        assert!(
            !outbox.state.borrow().buffer.is_empty(),
            "the pipe took only 4 bytes"
        );
        let mut got = vec![0; 11];
        let read = tokio::spawn(async move {
            server.read_exact(&mut got).await.unwrap();
            got
        });
        flushed(&outbox, &mut flush).await;
        assert_eq!(read.await.unwrap(), b"0123456789\n");
    }

    #[tokio::test]
    async fn written_now_leaves_alone_a_flush_that_waits_on_a_full_socket() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl futures_util::task::ArcWake for Count {
            fn wake_by_ref(me: &Arc<Self>) {
                me.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (client, mut server) = tokio::io::duplex(4);
        let outbox = Outbox::new(client, Gate::default());
        let mut flush = outbox.flusher(Duration::from_secs(60));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = futures_util::task::waker(count.clone());
        outbox.write(&[b"0123456789"], false);
        let mut cx = Context::from_waker(&waker);
        assert!(
            Pin::new(&mut flush).poll(&mut cx).is_pending(),
            "4 bytes fit"
        );
        // Another answer while the flush waits for the client to read: queued only.
        outbox.write(&[b"abc\n"], true);
        let before = count.0.load(Ordering::SeqCst);
        let mut got = [0; 4];
        server.read_exact(&mut got).await.unwrap();
        assert!(
            count.0.load(Ordering::SeqCst) > before,
            "the socket draining must wake the flush future, still registered with it"
        );
        let read = tokio::spawn(async move {
            let mut rest = [0; 10];
            server.read_exact(&mut rest).await.unwrap();
            rest
        });
        flushed(&outbox, &mut flush).await;
        assert_eq!(&read.await.unwrap(), b"456789abc\n");
    }
}
