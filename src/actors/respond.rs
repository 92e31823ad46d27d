//! How an application request's answer gets back to its session.
//!
//! The session hands the router a [`Responder`] inside the request (`do_send`) instead of
//! waiting on the router's reply channel: no task per request in the session, no reply
//! channel, and whoever finishes the work — the router, a tool-group actor, a spawned
//! future — answers the session's mailbox directly. An answer that is already known when
//! the router handles the request is sent at once ([`Respond::Now`]); only one that is not
//! becomes a spawned task.

use super::router::RpcResult;
use super::session::Session;
use crate::protocol::jsonrpc::{INTERNAL_ERROR, RequestId, RpcError};
use actix::{Addr, Message};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;

/// A request's outcome: `None` when it was cancelled (nobody waits for it).
pub type Outcome = Option<RpcResult>;

/// The answer to the session's request `id`; `seq` tells it from an earlier request under
/// the same id that was cancelled.
pub struct Answer {
    pub id: RequestId,
    pub seq: u64,
    pub result: RpcResult,
}

impl Message for Answer {
    type Result = ();
}

/// Where one request's answer goes. Dropped unanswered (a worker stopping, a panicking
/// handler), it answers with an internal error, so no request waits forever.
pub struct Responder {
    session: Option<Arc<Addr<Session>>>,
    id: RequestId,
    seq: u64,
}

impl Responder {
    pub fn new(session: Arc<Addr<Session>>, id: RequestId, seq: u64) -> Responder {
        Responder {
            session: Some(session),
            id,
            seq,
        }
    }

    pub fn send(mut self, outcome: Outcome) {
        if let (Some(session), Some(result)) = (self.session.take(), outcome) {
            self.answer(session, result);
        }
    }

    fn answer(&mut self, session: Arc<Addr<Session>>, result: RpcResult) {
        let id = std::mem::replace(&mut self.id, RequestId::Number(0));
        session.do_send(Answer {
            id,
            seq: self.seq,
            result,
        });
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let e = RpcError::new(INTERNAL_ERROR, "the request was dropped by the daemon");
            self.answer(session, Err(e));
        }
    }
}

/// An outcome known now, or a future that will know it.
pub enum Respond {
    Now(Outcome),
    Later(LocalBoxFuture<'static, Outcome>),
}

impl Respond {
    /// Polls `fut` once: a future that is already done is answered without a task.
    pub fn from_future(mut fut: LocalBoxFuture<'static, Outcome>) -> Self {
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        match fut.poll_unpin(&mut cx) {
            std::task::Poll::Ready(v) => Respond::Now(v),
            // Polled again by its task, with a real waker.
            std::task::Poll::Pending => Respond::Later(fut),
        }
    }

    /// Sends the outcome to `reply` now, or once the future has it.
    pub fn answer(self, reply: Responder) {
        match self {
            Respond::Now(outcome) => reply.send(outcome),
            Respond::Later(fut) => {
                actix_rt::spawn(async move { reply.send(fut.await) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_futures_are_answered_now() {
        let done = Respond::from_future(Box::pin(async { None }));
        assert!(matches!(done, Respond::Now(None)));
        let pending = Respond::from_future(Box::pin(futures_util::future::pending()));
        assert!(matches!(pending, Respond::Later(_)));
    }
}
