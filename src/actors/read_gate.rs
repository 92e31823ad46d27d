//! A stream wrapper a session uses to stop reading while it has too many requests in flight
//! or too many answers its client has not read, so a client that pipelines without bound, or
//! never reads, cannot grow the daemon's memory.

use futures_util::Stream;
use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Why reading is held; the gate is open only while nothing holds it.
#[derive(Clone, Copy)]
pub enum Hold {
    /// The connection has as many requests in flight as it may.
    InFlight = 1,
    /// The client has not read enough of its answers.
    Unread = 2,
}

#[derive(Default)]
struct State {
    holds: u8,
    waker: Option<Waker>,
}

/// The handle that holds and releases the gate.
#[derive(Clone, Default)]
pub struct Gate(Rc<RefCell<State>>);

impl Gate {
    pub fn hold(&self, why: Hold) {
        self.0.borrow_mut().holds |= why as u8;
    }

    pub fn release(&self, why: Hold) {
        let mut state = self.0.borrow_mut();
        if state.holds & why as u8 != 0 {
            state.holds &= !(why as u8);
            if state.holds == 0
                && let Some(w) = state.waker.take()
            {
                w.wake();
            }
        }
    }

    #[cfg(test)]
    pub fn is_held(&self) -> bool {
        self.0.borrow().holds != 0
    }

    pub fn wrap<S>(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.clone(),
        }
    }
}

pub struct Gated<S> {
    inner: S,
    gate: Gate,
}

impl<S: Stream + Unpin> Stream for Gated<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        {
            let mut state = self.gate.0.borrow_mut();
            if state.holds != 0 {
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use futures_util::stream;

    #[test]
    fn a_held_gate_passes_nothing_until_every_hold_is_released() {
        let gate = Gate::default();
        let mut s = gate.wrap(stream::iter([1, 2]));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(s.poll_next_unpin(&mut cx), Poll::Ready(Some(1)));
        gate.hold(Hold::InFlight);
        gate.hold(Hold::Unread);
        assert_eq!(s.poll_next_unpin(&mut cx), Poll::Pending);
        gate.release(Hold::InFlight);
        assert_eq!(s.poll_next_unpin(&mut cx), Poll::Pending);
        gate.release(Hold::Unread);
        assert_eq!(s.poll_next_unpin(&mut cx), Poll::Ready(Some(2)));
    }
}
