//! The per-worker supervisor: starts this worker's tool-group actors and routes each
//! application request (everything after the lifecycle) to the actor that owns it.

use super::drain::Sessions;
use super::groups::Groups;
use super::respond::Respond;
use super::tool_group::{CancelSignal, RunTool};
use crate::approvals::{self, Resolution};
use crate::protocol::envelope::unwrap_arguments;
use crate::protocol::jsonrpc::{INTERNAL_ERROR, Request, RpcError};
use crate::protocol::version::Era;
use crate::protocol::{lifecycle, schema};
use crate::shared::Shared;
use crate::tools::error::encode_call_result;
use crate::tools::{CallContext, ErrorCode, ToolCall, ToolError};
use actix::{Actor, AsyncContext, Context, Handler};
use bytes::Bytes;
use serde_json::{Map, Value, json};
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
    /// This worker's position; worker 0 runs the background health probe.
    index: usize,
    /// The actor running each tool group on this worker (ML started on first need).
    groups: Groups,
    /// This worker's sessions, for draining on stop (see `drain.rs`).
    pub(super) sessions: Sessions,
}

impl Router {
    pub fn new(shared: Arc<Shared>, index: usize) -> Self {
        Router {
            shared,
            index,
            groups: Groups::default(),
            sessions: Sessions::default(),
        }
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
        self.groups.listed(page.groups);
        Ok(Reply::Raw(page.result.clone()))
    }

    /// Validates a `tools/call` and sends it to the owning group; tool failures become results.
    fn tools_call(
        &self,
        req: Request,
        era: Era,
        connection: u64,
        cancel: CancelSignal,
    ) -> Respond<Option<RpcResult>> {
        let Request { id, params, .. } = req;
        let mut params = match params {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let tool = match params.get("name") {
            Some(Value::String(name)) => match self.shared.catalog.get(name) {
                Some(tool) => tool,
                None => {
                    let err = ToolError::new(
                        ErrorCode::UnknownTool,
                        format!(
                            "Unknown tool {name:?}. `tools/list` shows the tools this server offers."
                        ),
                    );
                    return ready(Ok(tool_reply(Err(err), era)));
                }
            },
            _ => {
                return ready(Err(RpcError::invalid_params(
                    "tools/call needs params.name, a string",
                )));
            }
        };
        let invalid = |e: String| {
            let err = ToolError::invalid_arguments(format!("{}: {e}", tool.name));
            ready(Ok(tool_reply(Err(err), era)))
        };
        let args = match unwrap_arguments(params.remove("arguments")) {
            Ok(args) => args,
            Err(e) => return invalid(e),
        };
        if let Err(e) = schema::validate(&tool.input_schema, &args) {
            return invalid(e);
        }
        let mut meta = match params.remove("_meta") {
            Some(Value::Object(meta)) => meta,
            _ => Map::new(),
        };
        let ctx = CallContext {
            connection,
            request_id: id,
            protocol_version: era.version(),
            progress_token: meta.remove("progressToken"),
            traceparent: match meta.remove("traceparent") {
                Some(Value::String(t)) => Some(t),
                _ => None,
            },
        };
        let run = RunTool {
            call: ToolCall { tool, args, ctx },
            cancel,
        };
        let sent = self.groups.get(&tool.group).map(|g| g.send(run));
        let Some(sent) = sent else {
            let err = ToolError::new(
                ErrorCode::UnknownTool,
                format!("the {} group is not available", tool.group.as_str()),
            );
            return ready(Ok(tool_reply(Err(err), era)));
        };
        Respond::Later(Box::pin(async move {
            match sent.await {
                Ok(Some(outcome)) => Some(Ok(tool_reply(outcome, era))),
                Ok(None) => None,
                Err(e) => Some(Err(RpcError::new(
                    INTERNAL_ERROR,
                    format!("tool group unavailable: {e}"),
                ))),
            }
        }))
    }
}

/// `ide-agents/approvals/{list,approve,deny}`: the control side of command approvals.
fn approvals_method(shared: &Shared, method: &str, params: Option<&Value>) -> RpcResult {
    let now = std::time::Instant::now();
    let action_id = || {
        params
            .and_then(|p| p.get("action_id"))
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("params.action_id (a string) is required"))
    };
    let resolution = match method {
        "ide-agents/approvals/list" => return Ok(Reply::Value(shared.approvals.list(now))),
        "ide-agents/approvals/approve" => {
            let ttl = match params.and_then(|p| p.get("ttl_seconds")) {
                None | Some(Value::Null) => approvals::DEFAULT_GRANT_TTL,
                Some(v) => v
                    .as_f64()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(std::time::Duration::from_secs_f64)
                    .ok_or_else(|| {
                        RpcError::invalid_params("ttl_seconds must be a positive number")
                    })?,
            };
            shared.approvals.approve(action_id()?, ttl, now)
        }
        "ide-agents/approvals/deny" => shared.approvals.deny(action_id()?, now),
        other => return Err(RpcError::method_not_found(other)),
    };
    let value = match resolution {
        Resolution::Granted { command, ttl } => json!({
            "approved": true,
            "command": approvals::shown(&command),
            "ttl_seconds": ttl.as_secs_f64(),
        }),
        Resolution::Denied { command } => {
            json!({"denied": true, "command": approvals::shown(&command)})
        }
        Resolution::Unknown => {
            return Err(RpcError::invalid_params(
                "no pending action with that id (it may have expired, or been approved or denied already); \
                 `ide-agentsd approvals` lists the pending ones",
            ));
        }
    };
    Ok(Reply::Value(value))
}

fn ready(result: RpcResult) -> Respond<Option<RpcResult>> {
    Respond::Now(Some(result))
}

fn tool_reply(outcome: Result<Value, ToolError>, era: Era) -> Reply {
    let suffix = if era.is_modern() {
        lifecycle::modern_result_suffix()
    } else {
        b""
    };
    Reply::Raw(Bytes::from(encode_call_result(&outcome, suffix)))
}

impl Actor for Router {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Started here so the pool and the group actors live on this router's worker thread.
        self.groups = Groups::start(&self.shared, self.index, ctx.address());
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
    type Result = Respond<Option<RpcResult>>;

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
            m if m.starts_with("ide-agents/approvals/") => {
                ready(approvals_method(&self.shared, m, request.params.as_ref()))
            }
            method @ ("ide-agents/stop" | "ide-agents/reload") => {
                Respond::from_future(super::control::serve(&self.shared, method))
            }
            m if super::content::serves(m) => {
                Respond::from_future(super::content::serve(self.shared.clone(), request, era))
            }
            other => ready(Err(RpcError::method_not_found(other))),
        }
    }
}
