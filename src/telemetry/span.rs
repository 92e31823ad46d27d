//! One telemetry span per `tools/call` (and later per `resources/read` / `prompts/get`),
//! in the exact line format of SPEC §8.1. Field order here is the order on disk.

use crate::protocol::json_text::write_str;
use crate::protocol::jsonrpc::{self, RequestId};
use std::borrow::Cow;

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize))]
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
#[derive(Debug, Clone, Default)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct SpanExtra {
    #[cfg_attr(test, serde(serialize_with = "request_id"))]
    pub request_id: Option<RequestId>,
    /// The connection id.
    pub session: u64,
    pub protocol_version: &'static str,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub traceparent: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub backend_status: Option<u16>,
    /// `"hit"` or `"miss"`.
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub cache: Option<&'static str>,
    /// What a `resources/read` read (its URI) or a `prompts/get` got (the prompt's name).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub subject: Option<String>,
}

impl Span {
    /// Appends the span as one JSON line without its newline. Written by hand: every span
    /// passes through here, and serde's derive re-escapes each constant key every time.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"timestamp_ms\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.timestamp_ms).as_bytes());
        out.extend_from_slice(b",\"tool_name\":");
        write_str(out, &self.tool_name);
        out.extend_from_slice(b",\"method\":");
        write_opt_str(out, self.method.as_deref());
        out.extend_from_slice(b",\"duration_ms\":");
        write_f64(out, self.duration_ms);
        out.extend_from_slice(if self.success {
            b",\"success\":true,\"error_code\":"
        } else {
            b",\"success\":false,\"error_code\":"
        });
        write_opt_str(out, self.error_code);
        out.extend_from_slice(b",\"extra\":");
        match &self.extra {
            Some(extra) => extra.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
}

impl SpanExtra {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"request_id\":");
        match &self.request_id {
            Some(id) => jsonrpc::write_id(out, id),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"session\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.session).as_bytes());
        out.extend_from_slice(b",\"protocol_version\":");
        write_str(out, self.protocol_version);
        if let Some(traceparent) = &self.traceparent {
            out.extend_from_slice(b",\"traceparent\":");
            write_str(out, traceparent);
        }
        if let Some(status) = self.backend_status {
            out.extend_from_slice(b",\"backend_status\":");
            out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
        }
        if let Some(cache) = self.cache {
            out.extend_from_slice(b",\"cache\":");
            write_str(out, cache);
        }
        if let Some(subject) = &self.subject {
            out.extend_from_slice(b",\"subject\":");
            write_str(out, subject);
        }
        out.push(b'}');
    }
}

fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// As serde_json writes an f64: shortest round-trip form, `null` when not finite.
fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
fn request_id<S: serde::Serializer>(id: &Option<RequestId>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    match id {
        Some(id) => id.to_value().serialize(s),
        None => s.serialize_none(),
    }
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
        let mut line = Vec::new();
        span.write_json(&mut line);
        let line = String::from_utf8(line).unwrap();
        assert_eq!(
            line,
            r#"{"timestamp_ms":1,"tool_name":"ide_agents_healthz","method":null,"duration_ms":0.25,"success":true,"error_code":null,"extra":{"request_id":7,"session":3,"protocol_version":"2026-07-28","traceparent":"00-abc-def-01"}}"#
        );
    }

    #[test]
    fn written_by_hand_as_serde_would_write_it() {
        let ids = [
            None,
            Some(RequestId::Number(-42)),
            Some(RequestId::Str("a \"quoted\"\n\u{1} id".into())),
            Some(RequestId::Other("1.5".into())),
        ];
        for (i, request_id) in ids.into_iter().enumerate() {
            let span = Span {
                timestamp_ms: 1_764_000_000_123 + i as u64,
                tool_name: Cow::Owned(format!("t\\ool \u{7f}é{i}")),
                method: (i % 2 == 0).then(|| "get".to_string()),
                duration_ms: [0.0, 1e-7, 12.345678901234, f64::NAN][i],
                success: i % 2 == 1,
                error_code: (i % 2 == 0).then_some("timeout"),
                extra: (i != 3).then(|| SpanExtra {
                    request_id,
                    session: i as u64,
                    protocol_version: "2025-06-18",
                    traceparent: (i == 1).then(|| "00-x-y-01".into()),
                    backend_status: (i == 2).then_some(503),
                    cache: (i == 1).then_some("hit"),
                    subject: (i == 2).then(|| "ide-agents://kb.snippet/a\"b".into()),
                }),
            };
            let mut line = Vec::new();
            span.write_json(&mut line);
            assert_eq!(
                String::from_utf8(line).unwrap(),
                serde_json::to_string(&span).unwrap()
            );
        }
    }
}
