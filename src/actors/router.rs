//! The per-worker supervisor: starts this worker's tool-group actors and routes each
//! application request (everything after the lifecycle) to the actor that owns it.

use super::tool_group::{CancelSignal, RunTool, ToolGroupActor};
use crate::protocol::envelope::unwrap_arguments;
use crate::protocol::jsonrpc::{INTERNAL_ERROR, Request, RpcError};
use crate::protocol::schema;
use crate::protocol::version::Era;
use crate::shared::Shared;
use crate::tools::core::CoreTools;
use crate::tools::error::call_result;
use crate::tools::{CallContext, ErrorCode, GroupId, ToolCall, ToolError};
use actix::{Actor, Addr, Context, Handler, ResponseFuture};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;

/// A result, either built now or serialized ahead of time.
#[derive(Debug)]
pub enum Reply {
    Value(Value),
    Raw(Bytes),
}

pub type RpcResult = Result<Reply, RpcError>;

/// An application request from a session, with the era it is served under.
pub struct Dispatch {
    pub request: Request,
    pub era: Era,
    pub connection: u64,
    /// Fires when the session stops wanting the answer.
    pub cancel: CancelSignal,
}

impl actix::Message for Dispatch {
    /// `None` when the request was cancelled.
    type Result = Option<RpcResult>;
}

pub struct Router {
    shared: Arc<Shared>,
    core: Option<Addr<ToolGroupActor<CoreTools>>>,
}

impl Router {
    pub fn new(shared: Arc<Shared>) -> Self {
        Router { shared, core: None }
    }

    fn tools_list(&self, req: &Request, era: Era) -> RpcResult {
        let cursor = match req.params.as_ref().and_then(|p| p.get("cursor")) {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.as_str()),
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "cursor must be a string, got {other}"
                )));
            }
        };
        let page = self
            .shared
            .catalog
            .list_page(cursor, era.is_modern())
            .map_err(RpcError::invalid_params)?;
        Ok(Reply::Raw(page.result.clone()))
    }

    /// Validates a `tools/call` and sends it to the owning group; tool failures become results.
    fn tools_call(
        &self,
        req: Request,
        era: Era,
        connection: u64,
        cancel: CancelSignal,
    ) -> ResponseFuture<Option<RpcResult>> {
        let params = req.params.as_ref();
        let name = match params.and_then(|p| p.get("name")) {
            Some(Value::String(name)) => name.as_str(),
            _ => {
                return ready(Err(RpcError::invalid_params(
                    "tools/call needs params.name, a string",
                )));
            }
        };
        let Some(tool) = self.shared.catalog.get(name) else {
            let err = ToolError::new(
                ErrorCode::UnknownTool,
                format!("Unknown tool {name:?}. `tools/list` shows the tools this server offers."),
            );
            return ready(Ok(tool_reply(Err(err))));
        };
        let args = match unwrap_arguments(params.and_then(|p| p.get("arguments"))) {
            Ok(args) => args,
            Err(e) => {
                return ready(Ok(tool_reply(Err(ToolError::invalid_arguments(format!(
                    "{name}: {e}"
                ))))));
            }
        };
        if let Err(e) = schema::validate(&tool.input_schema, &args) {
            return ready(Ok(tool_reply(Err(ToolError::invalid_arguments(format!(
                "{name}: {e}"
            ))))));
        }
        let meta = req.meta();
        let ctx = CallContext {
            connection,
            request_id: req.id.clone(),
            protocol_version: era.version(),
            progress_token: meta.and_then(|m| m.get("progressToken")).cloned(),
            traceparent: meta
                .and_then(|m| m.get("traceparent"))
                .and_then(Value::as_str)
                .map(String::from),
        };
        let run = RunTool {
            call: ToolCall { tool, args, ctx },
            cancel,
        };
        let sent = match tool.group {
            GroupId::Core => self.core.as_ref().map(|a| a.send(run)),
            GroupId::Github | GroupId::Ultra | GroupId::Ml => None,
        };
        let Some(sent) = sent else {
            let err = ToolError::new(
                ErrorCode::UnknownTool,
                format!("the {} group is not available", tool.group.as_str()),
            );
            return ready(Ok(tool_reply(Err(err))));
        };
        Box::pin(async move {
            match sent.await {
                Ok(Some(outcome)) => Some(Ok(tool_reply(outcome))),
                Ok(None) => None,
                Err(e) => Some(Err(RpcError::new(
                    INTERNAL_ERROR,
                    format!("tool group unavailable: {e}"),
                ))),
            }
        })
    }
}

fn ready(result: RpcResult) -> ResponseFuture<Option<RpcResult>> {
    Box::pin(std::future::ready(Some(result)))
}

fn tool_reply(outcome: Result<Value, ToolError>) -> Reply {
    Reply::Value(call_result(&outcome))
}

impl Actor for Router {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Context<Self>) {
        // Started here so the group actors live on this router's worker thread.
        self.core = Some(ToolGroupActor::new(CoreTools::new(self.shared.clone())).start());
    }
}

/// Clear this worker's caches and re-read configuration files (SIGHUP, `ide-agentsd reload`,
/// the `ide_agents_reload` tool).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Reload;

impl Handler<Reload> for Router {
    type Result = ();

    fn handle(&mut self, _msg: Reload, _ctx: &mut Context<Self>) {
        // The cache is shared, so every worker clearing it is harmless and needs no leader.
        crate::reload::reload(&self.shared);
        log::debug!("worker reloaded");
    }
}

impl Handler<Dispatch> for Router {
    type Result = ResponseFuture<Option<RpcResult>>;

    fn handle(&mut self, msg: Dispatch, _ctx: &mut Context<Self>) -> Self::Result {
        let Dispatch {
            request,
            era,
            connection,
            cancel,
        } = msg;
        match request.method.as_str() {
            "tools/list" => ready(self.tools_list(&request, era)),
            "tools/call" => self.tools_call(request, era, connection, cancel),
            m if super::content::serves(m) => {
                super::content::serve(self.shared.clone(), request, era)
            }
            other => ready(Err(RpcError::method_not_found(other))),
        }
    }
}
