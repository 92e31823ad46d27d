//! Tools: their specs (name, schema, annotations), their errors, and the catalog that lists
//! them. Each group's handlers live in their own file; tools know nothing of sockets.

pub mod backend;
pub mod catalog;
pub mod core;
pub mod error;
pub mod github;
pub mod ml;
pub mod spec;
pub mod ultra;

use crate::protocol::jsonrpc::RequestId;
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};

pub use catalog::Catalog;
pub use error::{ErrorCode, ToolError};
pub use spec::{Annotations, GroupId, ToolSpec};

pub type ToolResult = Result<Value, ToolError>;
pub type ToolFuture = LocalBoxFuture<'static, ToolResult>;

/// What a handler knows about the request that called it.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub connection: u64,
    pub request_id: RequestId,
    pub protocol_version: &'static str,
    pub progress_token: Option<Value>,
    pub traceparent: Option<String>,
}

/// One validated tool call, addressed to the group that owns the tool.
#[derive(Debug)]
pub struct ToolCall {
    pub tool: &'static ToolSpec,
    pub args: Map<String, Value>,
    pub ctx: CallContext,
}

impl actix::Message for ToolCall {
    type Result = ToolResult;
}

/// A group of tools run by one actor per worker.
pub trait ToolGroup: Unpin + 'static {
    fn call(&mut self, call: ToolCall) -> ToolFuture;
}

/// Reads an optional string argument.
pub fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}
