//! A stream wrapper a session uses to stop reading while it has too many requests in flight,
//! so a client that pipelines without bound cannot grow the daemon's memory.

use futures_util::Stream;
use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct State {
    closed: bool,
    waker: Option<Waker>,
}

/// The handle that opens and closes the gate.
#[derive(Clone, Default)]
pub struct Gate(Rc<RefCell<State>>);

impl Gate {
    pub fn close(&self) {
        self.0.borrow_mut().closed = true;
    }

    pub fn open(&self) {
        let mut state = self.0.borrow_mut();
        if state.closed {
            state.closed = false;
            if let Some(w) = state.waker.take() {
                w.wake();
            }
        }
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
            if state.closed {
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
    fn a_closed_gate_holds_items_until_opened() {
        let gate = Gate::default();
        let mut s = gate.wrap(stream::iter([1, 2]));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(s.poll_next_unpin(&mut cx), Poll::Ready(Some(1)));
        gate.close();
        assert_eq!(s.poll_next_unpin(&mut cx), Poll::Pending);
        gate.open();
        assert_eq!(s.poll_next_unpin(&mut cx), Poll::Ready(Some(2)));
    }
}
