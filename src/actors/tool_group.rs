//! The actor that runs one tool group on one worker.
//!
//! Every call races the caller's cancellation signal: when the session drops its side
//! (`notifications/cancelled`, or the client went away) the tool's future is dropped, and
//! with it any backend request it was making.

use super::respond::Respond;
use crate::tools::{ToolCall, ToolGroup, ToolResult};
use actix::{Actor, Context, Handler};
use futures_util::future::{Either, select};
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

/// A tool call together with the caller's cancellation signal.
pub struct RunTool {
    pub call: ToolCall,
    pub cancel: CancelSignal,
}

impl actix::Message for RunTool {
    /// `None` when the call was cancelled before it finished.
    type Result = Option<ToolResult>;
}

impl<G: ToolGroup> Handler<RunTool> for ToolGroupActor<G> {
    type Result = Respond<Option<ToolResult>>;

    fn handle(&mut self, msg: RunTool, _ctx: &mut Context<Self>) -> Self::Result {
        let work = self.group.call(msg.call);
        let cancel = msg.cancel;
        Respond::from_future(Box::pin(async move {
            match select(work, cancel).await {
                Either::Left((result, _)) => Some(result),
                Either::Right(_) => None,
            }
        }))
    }
}
