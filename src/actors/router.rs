//! The per-worker supervisor: starts this worker's tool-group actors and routes each
//! application request (everything after the lifecycle) to the actor that owns it.

use super::ask_client::ClientAsker;
use super::drain::Sessions;
use super::groups::Groups;
use super::rate_limit::{RateLimiter, Unaudited};
use super::respond::{Respond, Responder};
use super::telemetry::{AuditLog, CallRecord, FlushTelemetry, WorkerTelemetry};
use super::tool_group::{CancelSignal, RunTool, ToolReply};
use crate::approvals::{self, Resolution};
use crate::protocol::elicitation;
use crate::protocol::envelope::unwrap_arguments;
use crate::protocol::jsonrpc::{CallParams, Params, Request, RpcError};
use crate::protocol::version::Era;
use crate::protocol::{lifecycle, schema};
use crate::shared::Shared;
use crate::telemetry::AuditEvent;
use crate::telemetry::metrics::MetricsCell;
use crate::telemetry::span::SpanExtra;
use crate::tools::error::encode_call_result;
use crate::tools::{
    Asking, CallContext, CallNotes, CallOutcome, ErrorCode, ToolCall, ToolError, ToolOutput,
};
use actix::{Actor, AsyncContext, Context, Handler, Recipient, ResponseFuture};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A result: built now, serialized for this request, or serialized ahead of time.
#[derive(Debug)]
pub enum Reply {
    Value(Value),
    Encoded(Vec<u8>),
    Raw(Bytes),
}

pub type RpcResult = Result<Reply, RpcError>;

/// An application request from a session, with the era it is served under and where its
/// answer goes.
pub struct Dispatch {
    pub request: Request,
    pub era: Era,
    pub connection: u64,
    /// Fires when the session stops wanting the answer; given for `tools/call`, the only
    /// requests whose work can be cancelled.
    pub cancel: Option<CancelSignal>,
    /// How a tool call asks the client's user, when the client can be asked.
    pub asker: Option<ClientAsker>,
    pub reply: Responder,
}

impl actix::Message for Dispatch {
    type Result = ();
}

pub struct Router {
    shared: Arc<Shared>,
    /// This worker's position; worker 0 runs the background health probe.
    index: usize,
    /// The actor running each tool group on this worker (ML started on first need).
    groups: Groups,
    /// This worker's sessions, for draining on stop (see `drain.rs`).
    pub(super) sessions: Sessions,
    /// This worker's spans, metrics and audit handle (set when the router starts).
    telemetry: Option<Arc<WorkerTelemetry>>,
    /// The worker's metrics cell until the router starts and hands it to `telemetry`.
    metrics: Option<MetricsCell>,
    /// Tool-call token buckets of this worker's connections.
    limiter: RateLimiter,
}

impl Router {
    /// `metrics` is the worker's cell, registered by whoever starts the worker.
    pub fn new(shared: Arc<Shared>, index: usize, metrics: MetricsCell) -> Self {
        let limiter = RateLimiter::new(shared.config.rate_per_sec, shared.config.rate_burst);
        Router {
            shared,
            metrics: Some(metrics),
            index,
            groups: Groups::default(),
            sessions: Sessions::default(),
            telemetry: None,
            limiter,
        }
    }

    /// This worker's audit handle, for components that emit audit events.
    pub fn audit(&self) -> Option<AuditLog> {
        self.telemetry.as_ref().map(|t| t.audit.clone())
    }

    /// Records the latency of a request to `method` once it is answered.
    fn timed(&self, method: &'static str, started: Instant, respond: Respond) -> Respond {
        let Some(telemetry) = self.telemetry.clone() else {
            return respond;
        };
        match respond {
            Respond::Now(result) => {
                telemetry.method_done(method, started.elapsed(), matches!(result, Some(Ok(_))));
                Respond::Now(result)
            }
            Respond::Later(fut) => Respond::Later(Box::pin(async move {
                let result = fut.await;
                telemetry.method_done(method, started.elapsed(), matches!(result, Some(Ok(_))));
                result
            })),
        }
    }

    fn tools_list(&self, req: &Request, era: Era) -> RpcResult {
        let cursor = match req.param("cursor") {
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

    /// Validates a `tools/call` and sends it to the owning group, which answers `reply`
    /// itself; tool failures become results. Every call with a tool name is recorded
    /// (metrics, span, audit) before it is answered.
    fn tools_call(&mut self, msg: Dispatch) {
        let Dispatch {
            request: Request { id, params, .. },
            era,
            connection,
            cancel,
            asker,
            reply,
        } = msg;
        let params = match params {
            Some(Params::ToolCall(params)) => *params,
            // Array params: nothing to read a name from.
            _ => CallParams::default(),
        };
        let Some(Value::String(name)) = params.name else {
            if let Some(t) = &self.telemetry {
                // Refused before any work: no time worth a clock read.
                t.method_done("tools/call", Duration::ZERO, false);
            }
            return reply.send(Some(Err(RpcError::invalid_params(
                "tools/call needs params.name, a string",
            ))));
        };
        let (traceparent, takes_forms) = match params.meta {
            Some(Value::Object(mut meta)) => (
                match meta.remove("traceparent") {
                    // A W3C traceparent is 55 characters; a client can send any length.
                    Some(Value::String(t)) => Some(super::telemetry::loggable(&t)),
                    _ => None,
                },
                era.is_modern() && elicitation::stateless_client_takes_forms(&meta),
            ),
            _ => (None, false),
        };
        let asking = match asker {
            Some(asker) => Asking::Live(asker),
            None if takes_forms => Asking::Rounds(params.retry.unwrap_or_default()),
            None => Asking::No,
        };
        let notes = Arc::new(CallNotes::default());
        let mut record = CallRecord::start(SpanExtra {
            request_id: Some(id.clone()),
            session: connection,
            protocol_version: era.version(),
            traceparent: traceparent.clone(),
            ..SpanExtra::default()
        });
        let ctx = CallContext {
            connection,
            request_id: id,
            protocol_version: era.version(),
            traceparent,
            notes: notes.clone(),
            asking,
        };
        let telemetry = self.telemetry.clone();
        let (group, call) = match self.start_tool(&name, params.arguments, ctx, &mut record) {
            Ok(started) => started,
            Err(err) => {
                let outcome = Err(err);
                if let Some(t) = &telemetry {
                    t.tool_done(record, Some(&outcome));
                }
                return reply.send(Some(Ok(tool_reply(&outcome, era))));
            }
        };
        // The group's actor answers the session directly.
        let done: ToolReply = Box::new(move |outcome| {
            // The session is woken first, so it writes the answer before the telemetry
            // buffer takes the span; the span is still counted before the answer is out.
            reply.send(outcome.as_ref().map(|o| Ok(tool_reply(o, era))));
            if let Some(t) = telemetry {
                notes.copy_into(&mut record.extra);
                t.tool_done(record, outcome.as_ref());
            }
        });
        group.do_send(RunTool {
            call,
            cancel,
            reply: done,
        });
    }

    /// Drops a closed connection's rate-limit buckets, auditing the refusals no event counted.
    pub(super) fn forget_connection(&mut self, connection: u64) {
        let unaudited = self.limiter.forget(connection);
        self.audit_refusals(unaudited.into_iter().map(|u| (connection, u)));
    }

    /// Audits refusals gathered a second or more ago on connections still open.
    fn audit_gathered_refusals(&mut self) {
        let due = self.limiter.due(Instant::now());
        self.audit_refusals(due.into_iter());
    }

    fn audit_refusals(&self, refusals: impl Iterator<Item = (u64, Unaudited)>) {
        if let Some(t) = &self.telemetry {
            for (connection, u) in refusals {
                t.audit.emit(AuditEvent::RateLimited {
                    tool: u.tool.to_string(),
                    session: connection,
                    retry_after_ms: u.retry_after_ms,
                    refused: u.refused,
                });
            }
        }
    }

    /// Looks the tool up, applies the rate limit and validates the arguments: the call and
    /// the group actor to send it to, or the tool failure to answer with.
    fn start_tool(
        &mut self,
        name: &str,
        arguments: Option<Value>,
        ctx: CallContext,
        record: &mut CallRecord,
    ) -> Result<(&Recipient<RunTool>, ToolCall), ToolError> {
        let Some(tool) = self.shared.catalog.get(name) else {
            record.unknown_tool(name);
            let message = match self.shared.catalog.left_out(name) {
                Some(group) => format!(
                    "{name} is one of the {} tools, which this daemon does not serve: start it \
                     with IDE_AGENTS_ULTRA_ENABLED=true to turn the ULTRA and ML tools on.",
                    group.as_str().to_uppercase()
                ),
                None => format!(
                    "Unknown tool {name:?}. `tools/list` shows the tools this server offers."
                ),
            };
            return Err(ToolError::new(ErrorCode::UnknownTool, message));
        };
        record.known_tool(tool.name);
        let connection = ctx.connection;
        if let Err(refused) = self.limiter.check(connection, tool.name, Instant::now()) {
            let retry_after_ms = refused.retry_after_ms;
            if let Some(t) = &self.telemetry {
                t.audit.refusal();
                if let Some(refused) = refused.audit {
                    t.audit.emit(AuditEvent::RateLimited {
                        tool: tool.name.to_string(),
                        session: connection,
                        retry_after_ms,
                        refused,
                    });
                }
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
        let invalid = |e: String| ToolError::invalid_arguments(format!("{}: {e}", tool.name));
        let mut args = unwrap_arguments(arguments).map_err(invalid)?;
        record.method = args
            .get("method")
            .and_then(Value::as_str)
            .map(super::telemetry::loggable);
        if !args.is_empty() {
            schema::normalize_integers(&tool.input_schema, &mut args);
        }
        schema::validate(&tool.input_schema, &args).map_err(invalid)?;
        match self.groups.get(&tool.group) {
            // Borrowed, not cloned: a `Recipient` clone allocates.
            Some(group) => Ok((group, ToolCall { tool, args, ctx })),
            None => Err(ToolError::new(
                ErrorCode::UnknownTool,
                format!("the {} group is not available", tool.group.as_str()),
            )),
        }
    }
}

impl Router {
    /// Resources, prompts and completion; `resources/read` and `prompts/get` get a span.
    fn content(
        &self,
        method: &'static str,
        request: Request,
        era: Era,
        connection: u64,
    ) -> Respond {
        let notes = Arc::new(CallNotes::default());
        let telemetry = match &self.telemetry {
            Some(t) if super::content::has_span(method) => t.clone(),
            _ => {
                let answer = super::content::serve(self.shared.clone(), request, era, notes);
                return Respond::from_future(answer);
            }
        };
        // Which resource or prompt, so a span can say which one is slow or failing.
        let subject = match method {
            "resources/read" => request.param("uri"),
            _ => request.param("name"),
        };
        let mut record = CallRecord::start(SpanExtra {
            request_id: Some(request.id.clone()),
            session: connection,
            protocol_version: era.version(),
            traceparent: traceparent_of(&request),
            subject: subject
                .and_then(Value::as_str)
                .map(super::telemetry::loggable),
            ..SpanExtra::default()
        });
        record.method(method);
        let answer = super::content::serve(self.shared.clone(), request, era, notes.clone());
        Respond::from_future(Box::pin(async move {
            let result = answer.await;
            notes.copy_into(&mut record.extra);
            let error_code = match &result {
                Some(Ok(_)) => None,
                Some(Err(e)) => Some(e.kind()),
                None => Some("cancelled"),
            };
            telemetry.content_done(record, error_code);
            result
        }))
    }
}

fn traceparent_of(request: &Request) -> Option<String> {
    request
        .meta()
        .and_then(|m| m.get("traceparent"))
        .and_then(Value::as_str)
        .map(super::telemetry::loggable)
}

/// `ide-agents/approvals/{list,approve,deny}`: the control side of command approvals.
fn approvals_method(
    shared: &Shared,
    method: &str,
    params: Option<&Value>,
    audit: Option<AuditLog>,
) -> RpcResult {
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
                // At most a year, as the CLI's `--ttl`: past that `Duration` and `Instant`
                // cannot hold it.
                Some(v) => v
                    .as_f64()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= crate::config::MAX_SECONDS)
                    .map(std::time::Duration::from_secs_f64)
                    .ok_or_else(|| {
                        RpcError::invalid_params(
                            "ttl_seconds must be a positive number of seconds, at most a year (31536000)",
                        )
                    })?,
            };
            shared.approvals.approve(action_id()?, ttl, now)
        }
        "ide-agents/approvals/deny" => shared.approvals.deny(action_id()?, now),
        other => return Err(RpcError::method_not_found(other)),
    };
    let action_id = action_id()?.to_string();
    let (value, event) = match resolution {
        Resolution::Granted { command, ttl } => (
            json!({
                "approved": true,
                "command": command,
                "ttl_seconds": ttl.as_secs_f64(),
            }),
            AuditEvent::ApprovalGranted {
                action_id,
                command,
                ttl_secs: Some(ttl.as_secs_f64()),
                via: None,
            },
        ),
        Resolution::Denied { command } => (
            json!({"denied": true, "command": command}),
            AuditEvent::ApprovalDenied {
                action_id,
                command,
                via: None,
            },
        ),
        Resolution::Unknown => {
            return Err(RpcError::invalid_params(format!(
                "no pending action with that id (it may have expired, been approved or denied \
                 already, or been pushed out by newer ones: at most {} wait); `ide-agentsd \
                 approvals` lists the pending ones",
                approvals::MAX_PENDING
            )));
        }
    };
    if let Some(audit) = audit {
        audit.emit(event);
    }
    Ok(Reply::Value(value))
}

fn ready(result: RpcResult) -> Respond {
    Respond::Now(Some(result))
}

fn tool_reply(outcome: &CallOutcome, era: Era) -> Reply {
    // Decorated for its era like any result, keeping its own `resultType`.
    if let Ok(ToolOutput::InputRequired(round)) = outcome {
        return Reply::Value(round.clone());
    }
    let suffix = if era.is_modern() {
        lifecycle::modern_result_suffix()
    } else {
        b""
    };
    Reply::Encoded(encode_call_result(outcome, suffix))
}

impl Actor for Router {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Started here so the pool and the group actors live on this router's worker thread.
        let metrics = self.metrics.take().expect("a router starts once");
        self.telemetry = Some(Arc::new(WorkerTelemetry::start(
            &self.shared.telemetry,
            metrics,
        )));
        self.groups = Groups::start(&self.shared, self.index, ctx.address(), self.audit());
        if self.limiter.enabled() {
            ctx.run_interval(RATE_AUDIT_SWEEP, |router, _| {
                router.audit_gathered_refusals()
            });
        }
    }
}

/// How often gathered rate-limit refusals are looked for, to audit them.
const RATE_AUDIT_SWEEP: std::time::Duration = std::time::Duration::from_secs(1);

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

impl Handler<super::session::ClientLog> for Router {
    type Result = ();

    fn handle(&mut self, log: super::session::ClientLog, _ctx: &mut Context<Self>) {
        for session in self.sessions.all() {
            session.do_send(log.clone());
        }
    }
}

impl Handler<Dispatch> for Router {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, _ctx: &mut Context<Self>) {
        if msg.request.method == "tools/call" {
            // Its latency is recorded where the tool's group answers.
            return self.tools_call(msg);
        }
        let Dispatch {
            request,
            era,
            connection,
            reply,
            ..
        } = msg;
        let started = Instant::now();
        // Method names are static here so clients cannot grow the metrics map.
        let (method, respond) = match request.method.as_str() {
            "tools/list" => ("tools/list", ready(self.tools_list(&request, era))),
            "ide-agents/status" => (
                "ide-agents/status",
                ready(Ok(Reply::Value(crate::status::report(&self.shared)))),
            ),
            m if m.starts_with("ide-agents/approvals/") => {
                let audit = self.audit();
                let answer = approvals_method(&self.shared, m, request.json_params(), audit);
                return reply.send(Some(answer));
            }
            method @ ("ide-agents/stop" | "ide-agents/reload") => {
                let answer = super::control::serve(&self.shared, method);
                return Respond::from_future(answer).answer(reply);
            }
            other => match super::content::served(other) {
                Some(method) => (method, self.content(method, request, era, connection)),
                None => return reply.send(Some(Err(RpcError::method_not_found(other)))),
            },
        };
        self.timed(method, started, respond).answer(reply)
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
