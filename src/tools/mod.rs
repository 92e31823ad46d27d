//! Tools: their specs (name, schema, annotations), their errors, and the catalog that lists
//! them. Each group's handlers live in their own file; tools know nothing of sockets.

pub mod backend;
pub mod catalog;
pub mod core;
pub mod error;
pub mod github;
pub mod ml;
pub mod observe;
pub mod spec;
pub mod ultra;

use crate::actors::ask_client::ClientAsker;
use crate::protocol::jsonrpc::RequestId;
pub use crate::protocol::params::RetryInput;
use crate::telemetry::span::SpanExtra;
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, AtomicU16};

pub use catalog::Catalog;
pub use error::{ErrorCode, ToolError};
pub use spec::{Annotations, GroupId, ToolSpec};

pub type ToolResult = Result<Value, ToolError>;

/// A tool's structured result as its group hands it over.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutput {
    Value(Value),
    /// The compact JSON text of an object, for results so small that building and then
    /// serializing a tree would be most of the call's cost.
    Json(String),
    /// Not a tool result: a stateless round asking for input first (`resultType:
    /// "input_required"`), sent as the call's whole result; the client retries the call.
    InputRequired(Value),
}

/// What a group's call ends in: a [`ToolResult`] whose value may be serialized already.
pub type CallOutcome = Result<ToolOutput, ToolError>;

/// A group's answer to a call: known at once (most local tools), or still being worked out.
pub enum ToolWork {
    Done(CallOutcome),
    Later(LocalBoxFuture<'static, CallOutcome>),
}

impl ToolWork {
    /// A result known now, from a handler that builds it as a JSON value.
    pub fn value(result: ToolResult) -> ToolWork {
        ToolWork::Done(result.map(ToolOutput::Value))
    }
}

/// A group's call from a handler that builds its result as a JSON value.
pub fn boxed(work: impl std::future::Future<Output = ToolResult> + 'static) -> ToolWork {
    ToolWork::Later(Box::pin(work.map(|result| result.map(ToolOutput::Value))))
}

/// What a handler knows about the request that called it.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub connection: u64,
    pub request_id: RequestId,
    pub protocol_version: &'static str,
    pub traceparent: Option<String>,
    /// What the call's span reports besides its outcome.
    pub notes: Arc<CallNotes>,
    /// How the call may ask the client's user (`elicitation/create`).
    pub asking: Asking,
}

/// How a call can ask its user something, by the client's capabilities and the era.
#[derive(Debug, Clone, Default)]
pub enum Asking {
    /// It cannot: the client offered no forms, or its era has no way to.
    #[default]
    No,
    /// A legacy session whose client takes forms: a request to the client while the call
    /// waits.
    Live(ClientAsker),
    /// 2026-07-28, a request whose client capabilities take forms: the call answers that
    /// input is required, and the client retries it with the answer. Boxed: most calls
    /// carry `No`, and a context moves between actors.
    Rounds(Box<RetryInput>),
}

/// Facts a handler learns while it runs that its telemetry span reports (SPEC §8.1 `extra`):
/// the backend's HTTP status and whether the cache answered. Atomics because a call's
/// context crosses an actor message, which must be `Send`.
#[derive(Debug, Default)]
pub struct CallNotes {
    /// 0 until a backend answered.
    backend_status: AtomicU16,
    /// 0 unknown, 1 hit, 2 miss.
    cache: AtomicU8,
}

impl CallNotes {
    pub fn backend_status(&self, status: u16) {
        self.backend_status.store(status, Relaxed);
    }

    pub fn cache(&self, hit: bool) {
        self.cache.store(if hit { 1 } else { 2 }, Relaxed);
    }

    /// One of several lookups a call makes (pages, repositories): the call is a hit only if
    /// every one was.
    pub fn cache_part(&self, hit: bool) {
        if hit {
            let _ = self.cache.compare_exchange(0, 1, Relaxed, Relaxed);
        } else {
            self.cache.store(2, Relaxed);
        }
    }

    /// Adds what was noted to a span's `extra`.
    pub fn copy_into(&self, extra: &mut SpanExtra) {
        extra.backend_status = match self.backend_status.load(Relaxed) {
            0 => None,
            status => Some(status),
        };
        extra.cache = match self.cache.load(Relaxed) {
            1 => Some("hit"),
            2 => Some("miss"),
            _ => None,
        };
    }
}

/// One validated tool call, addressed to the group that owns the tool.
#[derive(Debug)]
pub struct ToolCall {
    pub tool: &'static ToolSpec,
    pub args: Map<String, Value>,
    pub ctx: CallContext,
}

/// A group of tools run by one actor per worker.
pub trait ToolGroup: Unpin + 'static {
    fn call(&mut self, call: ToolCall) -> ToolWork;
}

/// Reads an optional string argument.
pub fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}
