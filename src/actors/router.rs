//! The per-worker supervisor: starts this worker's tool-group actors and routes each
//! application request (everything after the lifecycle) to the actor that owns it.

use super::rate_limit::RateLimiter;
use super::telemetry::{AuditLog, CallRecord, FlushTelemetry, WorkerTelemetry};
use super::tool_group::{CancelSignal, RunTool, ToolGroupActor};
use crate::protocol::envelope::unwrap_arguments;
use crate::protocol::jsonrpc::{INTERNAL_ERROR, Request, RpcError};
use crate::protocol::schema;
use crate::protocol::version::Era;
use crate::shared::Shared;
use crate::telemetry::AuditEvent;
use crate::telemetry::span::SpanExtra;
use crate::tools::core::CoreTools;
use crate::tools::error::call_result;
use crate::tools::{CallContext, ErrorCode, GroupId, ToolCall, ToolError, ToolResult};
use actix::{Actor, Addr, Context, Handler, MailboxError, ResponseFuture};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use serde_json::Value;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

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
    /// This worker's spans, metrics and audit handle (set when the router starts).
    telemetry: Option<Rc<WorkerTelemetry>>,
    limiter: RateLimiter,
}

impl Router {
    pub fn new(shared: Arc<Shared>) -> Self {
        let limiter = RateLimiter::new(shared.config.rate_per_sec, shared.config.rate_burst);
        Router {
            shared,
            core: None,
            telemetry: None,
            limiter,
        }
    }

    /// This worker's audit handle, for components that emit audit events (approvals).
    pub fn audit(&self) -> Option<AuditLog> {
        self.telemetry.as_ref().map(|t| t.audit.clone())
    }

    /// Answers with `fut`'s result and records its latency under `method`.
    fn timed(
        &self,
        method: &'static str,
        fut: ResponseFuture<Option<RpcResult>>,
    ) -> ResponseFuture<Option<RpcResult>> {
        let Some(telemetry) = self.telemetry.clone() else {
            return fut;
        };
        let started = Instant::now();
        Box::pin(async move {
            let result = fut.await;
            telemetry.method_done(method, started.elapsed(), matches!(result, Some(Ok(_))));
            result
        })
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
    /// Every call with a tool name is recorded (metrics, span, audit) before it is answered.
    fn tools_call(
        &mut self,
        req: Request,
        era: Era,
        connection: u64,
        cancel: CancelSignal,
    ) -> ResponseFuture<Option<RpcResult>> {
        let name = match req.params.as_ref().and_then(|p| p.get("name")) {
            Some(Value::String(name)) => name.as_str(),
            _ => {
                return ready(Err(RpcError::invalid_params(
                    "tools/call needs params.name, a string",
                )));
            }
        };
        let meta = req.meta();
        let traceparent = meta
            .and_then(|m| m.get("traceparent"))
            .and_then(Value::as_str)
            .map(String::from);
        let mut record = CallRecord::start(SpanExtra {
            request_id: Some(req.id.clone()),
            session: connection,
            protocol_version: era.version(),
            traceparent,
            ..SpanExtra::default()
        });
        let started = self.start_tool(&req, name, era, connection, cancel, &mut record);
        let telemetry = self.telemetry.clone();
        Box::pin(async move {
            let outcome = match started {
                Err(e) => Some(Ok(Err(e))),
                Ok(running) => match running.await {
                    Ok(Some(result)) => Some(Ok(result)),
                    Ok(None) => None,
                    Err(e) => Some(Err(RpcError::new(
                        INTERNAL_ERROR,
                        format!("tool group unavailable: {e}"),
                    ))),
                },
            };
            if let Some(t) = telemetry {
                let result = match &outcome {
                    Some(Ok(result)) => Some(result),
                    _ => None,
                };
                t.tool_done(record, result);
            }
            outcome.map(|o| o.map(tool_reply))
        })
    }

    /// Looks the tool up, applies the rate limit, validates the arguments, and sends the call
    /// to the group's actor; an `Err` is the tool failure to answer with.
    fn start_tool(
        &mut self,
        req: &Request,
        name: &str,
        era: Era,
        connection: u64,
        cancel: CancelSignal,
        record: &mut CallRecord,
    ) -> Result<RunningTool, ToolError> {
        let params = req.params.as_ref();
        let Some(tool) = self.shared.catalog.get(name) else {
            record.unknown_tool(name);
            return Err(ToolError::new(
                ErrorCode::UnknownTool,
                format!("Unknown tool {name:?}. `tools/list` shows the tools this server offers."),
            ));
        };
        record.known_tool(tool.name);
        if let Err(retry_after_ms) = self.limiter.check(connection, tool.name, Instant::now()) {
            if let Some(t) = &self.telemetry {
                t.audit.emit(AuditEvent::RateLimited {
                    tool: tool.name.to_string(),
                    session: connection,
                    retry_after_ms,
                });
            }
            return Err(ToolError::new(
                ErrorCode::RateLimited,
                format!(
                    "Too many {} calls on this connection; retry in {retry_after_ms} ms \
                     (limit IDE_AGENTS_RATE_PER_SEC={}, burst IDE_AGENTS_RATE_BURST={}).",
                    tool.name, self.shared.config.rate_per_sec, self.shared.config.rate_burst
                ),
            )
            .with("retry_after_ms", retry_after_ms));
        }
        let args = unwrap_arguments(params.and_then(|p| p.get("arguments")))
            .map_err(|e| ToolError::invalid_arguments(format!("{name}: {e}")))?;
        record.method = args.get("method").and_then(Value::as_str).map(String::from);
        schema::validate(&tool.input_schema, &args)
            .map_err(|e| ToolError::invalid_arguments(format!("{name}: {e}")))?;
        let meta = req.meta();
        let ctx = CallContext {
            connection,
            request_id: req.id.clone(),
            protocol_version: era.version(),
            progress_token: meta.and_then(|m| m.get("progressToken")).cloned(),
            traceparent: record.extra.traceparent.clone(),
        };
        let run = RunTool {
            call: ToolCall { tool, args, ctx },
            cancel,
        };
        let sent: Option<RunningTool> = match tool.group {
            GroupId::Core => self
                .core
                .as_ref()
                .map(|a| Box::pin(a.send(run)) as RunningTool),
            GroupId::Github | GroupId::Ultra | GroupId::Ml => None,
        };
        sent.ok_or_else(|| {
            ToolError::new(
                ErrorCode::UnknownTool,
                format!("the {} group is not available", tool.group.as_str()),
            )
        })
    }
}

/// A tool call on its way through a group's actor.
type RunningTool = LocalBoxFuture<'static, Result<Option<ToolResult>, MailboxError>>;

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
        self.telemetry = Some(Rc::new(WorkerTelemetry::start(&self.shared.telemetry)));
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
        // Method names are static here so clients cannot grow the metrics map.
        let (method, fut) = match request.method.as_str() {
            "tools/list" => ("tools/list", ready(self.tools_list(&request, era))),
            "tools/call" => (
                "tools/call",
                self.tools_call(request, era, connection, cancel),
            ),
            "ide-agents/status" => (
                "ide-agents/status",
                ready(Ok(Reply::Value(crate::status::report(&self.shared)))),
            ),
            other => return ready(Err(RpcError::method_not_found(other))),
        };
        self.timed(method, fut)
    }
}

impl Handler<FlushTelemetry> for Router {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: FlushTelemetry, _ctx: &mut Context<Self>) -> Self::Result {
        let flushed = self.telemetry.as_ref().map(|t| t.flush());
        Box::pin(async move {
            if let Some(flushed) = flushed {
                let _ = flushed.await;
            }
        })
    }
}

/// A session ended: forget its per-connection state (rate-limit buckets).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct ConnectionClosed(pub u64);

impl Handler<ConnectionClosed> for Router {
    type Result = ();

    fn handle(&mut self, msg: ConnectionClosed, _ctx: &mut Context<Self>) {
        self.limiter.forget(msg.0);
    }
}
