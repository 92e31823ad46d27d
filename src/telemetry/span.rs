//! One telemetry span per `tools/call` (and later per `resources/read` / `prompts/get`),
//! in the exact line format of SPEC §8.1. Field order here is the order on disk.

use crate::protocol::jsonrpc::RequestId;
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Serialize)]
pub struct Span {
    /// Epoch milliseconds when the call started.
    pub timestamp_ms: u64,
    pub tool_name: Cow<'static, str>,
    /// The tool's `method` argument, when it has one.
    pub method: Option<String>,
    pub duration_ms: f64,
    pub success: bool,
    /// The tool error code when the call failed.
    pub error_code: Option<&'static str>,
    pub extra: Option<SpanExtra>,
}

/// Request context recorded with a span. Components add their own optional fields here
/// (`backend_status` from the backend pool, `cache` from the cache); absent ones are omitted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpanExtra {
    #[serde(serialize_with = "request_id")]
    pub request_id: Option<RequestId>,
    /// The connection id.
    pub session: u64,
    pub protocol_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_status: Option<u16>,
    /// `"hit"` or `"miss"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'static str>,
}

fn request_id<S: serde::Serializer>(id: &Option<RequestId>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => id.to_value().serialize(s),
        None => s.serialize_none(),
    }
}

impl actix::Message for Span {
    type Result = ();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_in_spec_order() {
        let span = Span {
            timestamp_ms: 1,
            tool_name: Cow::Borrowed("ide_agents_healthz"),
            method: None,
            duration_ms: 0.25,
            success: true,
            error_code: None,
            extra: Some(SpanExtra {
                request_id: Some(RequestId::Number(7)),
                session: 3,
                protocol_version: "2026-07-28",
                traceparent: Some("00-abc-def-01".into()),
                ..SpanExtra::default()
            }),
        };
        let line = serde_json::to_string(&span).unwrap();
        assert_eq!(
            line,
            r#"{"timestamp_ms":1,"tool_name":"ide_agents_healthz","method":null,"duration_ms":0.25,"success":true,"error_code":null,"extra":{"request_id":7,"session":3,"protocol_version":"2026-07-28","traceparent":"00-abc-def-01"}}"#
        );
    }
}
