//! The actor that runs one tool group on one worker.
//!
//! Every call races the caller's cancellation signal: when the session drops its side
//! (`notifications/cancelled`, or the client went away) the tool's future is dropped, and
//! with it any backend request it was making.

use crate::tools::{CallOutcome, ToolCall, ToolGroup, ToolWork};
use actix::{Actor, Context, Handler};
use futures_util::FutureExt;
use futures_util::future::{Either, select};
use std::task::Poll;
use tokio::sync::oneshot;

/// Resolves when the caller no longer wants the answer (its sender was dropped).
pub type CancelSignal = oneshot::Receiver<()>;

pub struct ToolGroupActor<G: ToolGroup> {
    group: G,
}

impl<G: ToolGroup> ToolGroupActor<G> {
    pub fn new(group: G) -> Self {
        ToolGroupActor { group }
    }
}

impl<G: ToolGroup> Actor for ToolGroupActor<G> {
    type Context = Context<Self>;
}

/// Receives a tool call's outcome: `None` when it was cancelled before it finished.
pub type ToolReply = Box<dyn FnOnce(Option<CallOutcome>) + Send>;

/// A tool call, the caller's cancellation signal, and where its outcome goes. The reply is
/// a callback rather than the message's result so the router forwards the session's reply
/// channel here instead of waiting on this actor in a task of its own.
pub struct RunTool {
    pub call: ToolCall,
    /// `None`: nobody can cancel this call.
    pub cancel: Option<CancelSignal>,
    pub reply: ToolReply,
}

impl actix::Message for RunTool {
    type Result = ();
}

impl<G: ToolGroup> Handler<RunTool> for ToolGroupActor<G> {
    type Result = ();

    fn handle(&mut self, msg: RunTool, _ctx: &mut Context<Self>) {
        let RunTool {
            call,
            cancel,
            reply,
        } = msg;
        let work = match self.group.call(call) {
            // Nothing left to cancel: answered without a future.
            ToolWork::Done(outcome) => return reply(Some(outcome)),
            ToolWork::Later(work) => work,
        };
        let mut outcome = Box::pin(async move {
            match cancel {
                Some(cancel) => match select(work, cancel).await {
                    Either::Left((result, _)) => Some(result),
                    Either::Right(_) => None,
                },
                None => Some(work.await),
            }
        });
        // A future done on its first poll (a cache hit) is answered without a task.
        let waker = futures_util::task::noop_waker();
        match outcome.poll_unpin(&mut std::task::Context::from_waker(&waker)) {
            Poll::Ready(result) => reply(result),
            // Polled again by its task, with a real waker.
            Poll::Pending => {
                actix_rt::spawn(async move { reply(outcome.await) });
            }
        }
    }
}
