//! Tool failures: answered as a tool *result* with `isError: true`, never a JSON-RPC error.

use super::{CallOutcome, ToolOutput};
use serde_json::{Map, Value, json};

/// Stable snake_case codes clients can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArguments,
    BackendUnavailable,
    BackendError,
    CircuitOpen,
    Timeout,
    ApprovalRequired,
    RateLimited,
    UnknownTool,
    NotFound,
    /// A remote service refused the credentials (GitHub: bad or missing token, no access).
    Unauthorized,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArguments => "invalid_arguments",
            ErrorCode::BackendUnavailable => "backend_unavailable",
            ErrorCode::BackendError => "backend_error",
            ErrorCode::CircuitOpen => "circuit_open",
            ErrorCode::Timeout => "timeout",
            ErrorCode::ApprovalRequired => "approval_required",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UnknownTool => "unknown_tool",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unauthorized => "unauthorized",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    pub code: ErrorCode,
    /// A sentence for the human reading the IDE.
    pub message: String,
    /// Extra machine-readable fields placed next to `code` and `message`.
    pub details: Map<String, Value>,
}

impl ToolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ToolError {
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        ToolError::new(ErrorCode::InvalidArguments, message)
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// `{error: {code, message, …details}}`, the structured form of the failure.
    pub fn to_structured(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), self.code.as_str().into());
        error.insert("message".into(), self.message.clone().into());
        for (k, v) in &self.details {
            error.insert(k.clone(), v.clone());
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// The MCP `tools/call` result for an outcome, serialized: text content (the compact JSON
/// of the result, or the error's sentence) plus `structuredContent`. The result is
/// serialized once (or was already) and that text reused for both, without building a JSON
/// tree; `suffix` holds extra members for the era (e.g. `,"resultType":"complete"`).
pub fn encode_call_result(outcome: &CallOutcome, suffix: &[u8]) -> Vec<u8> {
    // Serializing a Value into memory cannot fail.
    let serialized;
    let (structured, text, is_error) = match outcome {
        Ok(ToolOutput::Json(json)) => (json.as_str(), json.as_str(), false),
        // An input-required round is its own result (the router sends it so); here it is
        // written as any value would be.
        Ok(ToolOutput::Value(value) | ToolOutput::InputRequired(value)) => {
            serialized = serde_json::to_string(value).unwrap_or_default();
            (serialized.as_str(), serialized.as_str(), false)
        }
        Err(e) => {
            serialized = serde_json::to_string(&e.to_structured()).unwrap_or_default();
            (serialized.as_str(), e.message.as_str(), true)
        }
    };
    let mut out = Vec::with_capacity(structured.len() * 2 + 96 + suffix.len());
    out.extend_from_slice(br#"{"content":[{"type":"text","text":"#);
    let _ = serde_json::to_writer(&mut out, text);
    out.extend_from_slice(br#"}],"structuredContent":"#);
    out.extend_from_slice(structured.as_bytes());
    out.extend_from_slice(if is_error {
        br#","isError":true"#
    } else {
        br#","isError":false"#
    });
    out.extend_from_slice(suffix);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_result(outcome: &CallOutcome) -> Value {
        serde_json::from_slice(&encode_call_result(outcome, b"")).unwrap()
    }

    fn value(v: Value) -> CallOutcome {
        Ok(ToolOutput::Value(v))
    }

    #[test]
    fn a_result_given_as_json_text_is_written_as_its_value_would_be() {
        // Keys in sorted order, as a `Value` writes them.
        let text = r#"{"q":"a\"b","status":"live","time":"2026-12-01T11:42:10.123Z"}"#;
        let parsed: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            encode_call_result(&Ok(ToolOutput::Json(text.to_string())), b""),
            encode_call_result(&value(parsed), b"")
        );
    }

    #[test]
    fn success_has_compact_text_and_structured_content() {
        let r = call_result(&value(json!({"a": 1, "b": [true]})));
        assert_eq!(r["content"][0]["text"], "{\"a\":1,\"b\":[true]}");
        assert_eq!(r["structuredContent"], json!({"a": 1, "b": [true]}));
        assert_eq!(r["isError"], false);
    }

    #[test]
    fn the_text_reads_back_as_the_structured_json_whatever_its_strings_hold() {
        let value_in = json!({"q": "say \"hi\"", "path": "C:\\tmp\\x", "nl": "a\nb\tc\u{1}",
                           "u": "é ☃ \u{2028}", "n": [1.5, -2, null, true], "e": {}});
        let r = call_result(&value(value_in.clone()));
        let text = r["content"][0]["text"].as_str().unwrap();
        assert_eq!(text, serde_json::to_string(&value_in).unwrap());
        assert_eq!(r["structuredContent"], value_in);
    }

    #[test]
    fn failure_has_a_sentence_and_a_stable_code() {
        let e = ToolError::new(ErrorCode::RateLimited, "Slow down.").with("retry_after_ms", 50);
        let r = call_result(&Err(e));
        assert_eq!(r["isError"], true);
        assert_eq!(r["content"][0]["text"], "Slow down.");
        assert_eq!(r["structuredContent"]["error"]["code"], "rate_limited");
        assert_eq!(r["structuredContent"]["error"]["retry_after_ms"], 50);
    }

    #[test]
    fn text_is_escaped_and_the_suffix_is_appended() {
        let e = ToolError::new(ErrorCode::NotFound, "No \"doc\"\nhere.");
        let r: Value =
            serde_json::from_slice(&encode_call_result(&Err(e), br#","resultType":"complete""#))
                .unwrap();
        assert_eq!(r["content"][0]["text"], "No \"doc\"\nhere.");
        assert_eq!(r["resultType"], "complete");
    }
}
