//! Tool failures: answered as a tool *result* with `isError: true`, never a JSON-RPC error.

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
/// serialized once and that text reused for both, without building a JSON tree; `suffix`
/// holds extra members for the era (e.g. `,"resultType":"complete"`).
pub fn encode_call_result(outcome: &Result<Value, ToolError>, suffix: &[u8]) -> Vec<u8> {
    let (structured, is_error) = match outcome {
        Ok(value) => (serde_json::to_vec(value), false),
        Err(e) => (serde_json::to_vec(&e.to_structured()), true),
    };
    // Serializing a Value into memory cannot fail.
    let structured = structured.unwrap_or_default();
    let mut out = Vec::with_capacity(structured.len() * 2 + 96 + suffix.len());
    out.extend_from_slice(br#"{"content":[{"type":"text","text":"#);
    let text = match outcome {
        Ok(_) => std::str::from_utf8(&structured).unwrap_or_default(),
        Err(e) => e.message.as_str(),
    };
    let _ = serde_json::to_writer(&mut out, text);
    out.extend_from_slice(br#"}],"structuredContent":"#);
    out.extend_from_slice(&structured);
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

    fn call_result(outcome: &Result<Value, ToolError>) -> Value {
        serde_json::from_slice(&encode_call_result(outcome, b"")).unwrap()
    }

    #[test]
    fn success_has_compact_text_and_structured_content() {
        let r = call_result(&Ok(json!({"a": 1, "b": [true]})));
        assert_eq!(r["content"][0]["text"], "{\"a\":1,\"b\":[true]}");
        assert_eq!(r["structuredContent"], json!({"a": 1, "b": [true]}));
        assert_eq!(r["isError"], false);
    }

    #[test]
    fn the_text_reads_back_as_the_structured_json_whatever_its_strings_hold() {
        let value = json!({"q": "say \"hi\"", "path": "C:\\tmp\\x", "nl": "a\nb\tc\u{1}",
                           "u": "é ☃ \u{2028}", "n": [1.5, -2, null, true], "e": {}});
        let r = call_result(&Ok(value.clone()));
        let text = r["content"][0]["text"].as_str().unwrap();
        assert_eq!(text, serde_json::to_string(&value).unwrap());
        assert_eq!(r["structuredContent"], value);
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
