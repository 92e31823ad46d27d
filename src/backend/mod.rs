//! Talking to the agents backend: the call description, error mapping, breaker, retries,
//! health. The actor that owns the HTTP clients is `actors::backend_pool`.

pub mod breaker;
pub mod encode;
pub mod health;
pub mod retry;
pub mod stats;

use crate::tools::{ErrorCode, ToolError};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Which base URL a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Backend,
    /// `IDE_AGENTS_ULTRA_URL` when set, else the backend.
    Ultra,
    /// `IDE_AGENTS_GITHUB_API_URL`.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One backend request as a tool describes it.
#[derive(Debug, Clone)]
pub struct BackendCall {
    pub target: Target,
    pub method: Method,
    /// Path and query, already encoded, e.g. `/documentation?topic=a%20b`.
    pub path: String,
    pub body: Option<Value>,
    /// Safe to send again: only these are retried.
    pub idempotent: bool,
    /// Extra request headers (GitHub's authorization and API version).
    pub headers: Vec<(&'static str, String)>,
}

impl BackendCall {
    pub fn get(target: Target, path: impl Into<String>) -> Self {
        BackendCall {
            target,
            method: Method::Get,
            path: path.into(),
            body: None,
            idempotent: true,
            headers: Vec::new(),
        }
    }

    /// A POST that changes something: sent exactly once.
    pub fn post_once(target: Target, path: impl Into<String>, body: Value) -> Self {
        BackendCall {
            target,
            method: Method::Post,
            path: path.into(),
            body: Some(body),
            idempotent: false,
            headers: Vec::new(),
        }
    }

    /// A POST that only computes (rank, calibrate): safe to retry.
    pub fn post_idempotent(target: Target, path: impl Into<String>, body: Value) -> Self {
        BackendCall {
            idempotent: true,
            ..BackendCall::post_once(target, path, body)
        }
    }
}

impl BackendCall {
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The response headers callers read (GitHub's paging and rate limits); others are dropped.
pub const KEPT_HEADERS: [&str; 4] = [
    "link",
    "retry-after",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// The [`KEPT_HEADERS`] an answer carried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headers(pub Vec<(&'static str, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct BackendReply {
    pub status: u16,
    pub body: Value,
    pub headers: Headers,
}

/// Why a backend call failed, before it becomes a tool error.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendError {
    Unavailable {
        url: String,
        reason: String,
    },
    Timeout {
        url: String,
        after: Duration,
    },
    CircuitOpen {
        url: String,
        retry_after: Duration,
        /// What to check, for the service behind `url`: the breaker hides the failure itself.
        target: Target,
    },
    Status {
        url: String,
        status: u16,
        body: Value,
        headers: Headers,
    },
    Garbage {
        url: String,
        status: u16,
        reason: String,
    },
    Broken {
        url: String,
        reason: String,
    },
    /// The request could not be made from these arguments (its URL is too long, or holds
    /// what a URL cannot carry); nothing was sent.
    Unsendable {
        url: String,
        reason: String,
    },
}

/// Longest error detail quoted from a backend's answer.
const MAX_DETAIL_CHARS: usize = 300;

/// What a failed answer says went wrong: its `error` or `detail` string, or FastAPI's
/// validation list (`detail: [{loc, msg}]`) as `query.user_id: field required; …`.
fn error_detail(body: &Value) -> Option<String> {
    let said = body.get("error").or_else(|| body.get("detail"))?;
    let text = match said {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|item| {
                    let msg = item.get("msg")?.as_str()?;
                    let loc: Vec<String> = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|l| {
                            l.iter()
                                .map(|p| match p {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if loc.is_empty() {
                        Some(msg.to_string())
                    } else {
                        Some(format!("{}: {msg}", loc.join(".")))
                    }
                })
                .collect();
            if parts.is_empty() {
                return None;
            }
            parts.join("; ")
        }
        _ => return None,
    };
    Some(cut_detail(&text))
}

/// `text` from a failed answer, cut to [`MAX_DETAIL_CHARS`]: it is quoted in an error
/// message, and an upstream can say anything at any length.
pub fn cut_detail(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

impl BackendError {
    /// The request never reached the backend: the breaker held it back, or nothing accepted
    /// the connection.
    pub fn never_sent(&self) -> bool {
        matches!(
            self,
            BackendError::CircuitOpen { .. } | BackendError::Unavailable { .. }
        )
    }

    /// Whether the pool counts the call as failed (see `PoolStats::failures`).
    pub fn counts_as_failure(&self) -> bool {
        match self {
            BackendError::Status { status, .. } => *status >= 500,
            BackendError::Unsendable { .. } => false,
            _ => true,
        }
    }

    /// The request was sent but no whole answer came back (it timed out, or the connection
    /// broke): whatever it asked for may have been done.
    pub fn maybe_processed(&self) -> bool {
        matches!(
            self,
            BackendError::Timeout { .. } | BackendError::Broken { .. }
        )
    }

    pub fn to_tool_error(&self) -> ToolError {
        match self {
            BackendError::Unavailable { url, reason } => ToolError::new(
                ErrorCode::BackendUnavailable,
                format!(
                    "The agents backend at {url} is not reachable ({reason}). Start it (for example \
                     `ide-agents-backend --port 8001`) or point IDE_AGENTS_BACKEND_URL at it."
                ),
            )
            .with("url", url.as_str()),
            BackendError::Timeout { url, after } => ToolError::new(
                ErrorCode::Timeout,
                format!(
                    "The agents backend at {url} did not answer within {:.1} s (IDE_AGENTS_REQUEST_TIMEOUT).",
                    after.as_secs_f64()
                ),
            )
            .with("url", url.as_str())
            .with("timeout_s", after.as_secs_f64()),
            BackendError::CircuitOpen {
                url,
                retry_after,
                target,
            } => {
                let secs = retry_after.as_secs_f64().max(0.001);
                let check = match target {
                    Target::Backend => {
                        "If the agents backend is not running, start it (for example \
                         `ide-agents-backend --port 8001`) or point IDE_AGENTS_BACKEND_URL at it."
                    }
                    Target::Ultra => {
                        "Check that the ULTRA service answers at IDE_AGENTS_ULTRA_URL (or the \
                         agents backend, when it is unset)."
                    }
                    Target::Github => {
                        "Check the network and IDE_AGENTS_GITHUB_API_URL; `ide-agentsd status` \
                         shows the breaker."
                    }
                };
                ToolError::new(
                    ErrorCode::CircuitOpen,
                    format!(
                        "Calls to {url} are paused after repeated failures; the next one is let \
                         through in {secs:.1} s. {check}"
                    ),
                )
                .with("url", url.as_str())
                .with("retry_after_s", secs)
            }
            BackendError::Status {
                url,
                status,
                body,
                headers,
            } => {
                let detail = error_detail(body)
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                let code = if *status == 404 {
                    ErrorCode::NotFound
                } else {
                    ErrorCode::BackendError
                };
                let wait = retry::retry_after(headers, SystemTime::now());
                let asks = wait
                    .map(|w| format!(" It asks for {} s before the next call.", w.as_secs()))
                    .unwrap_or_default();
                let t = ToolError::new(
                    code,
                    format!("The agents backend answered {status} for {url}{detail}.{asks}"),
                )
                .with("url", url.as_str())
                .with("backend_status", *status);
                match wait {
                    Some(w) => t.with("retry_after_s", w.as_secs()),
                    None => t,
                }
            }
            BackendError::Garbage { url, status, reason } => ToolError::new(
                ErrorCode::BackendError,
                format!("The agents backend at {url} answered with something that is not JSON ({reason})."),
            )
            .with("url", url.as_str())
            .with("backend_status", *status),
            BackendError::Broken { url, reason } => ToolError::new(
                ErrorCode::BackendError,
                format!("The request to {url} failed: {reason}."),
            )
            .with("url", url.as_str()),
            BackendError::Unsendable { url, reason } => ToolError::new(
                ErrorCode::InvalidArguments,
                format!(
                    "This call's request cannot be sent: {reason}. Shorten the arguments that go \
                     into it ({url})."
                ),
            )
            .with("url", url.as_str()),
        }
    }
}

/// A success whose JSON is not what the call documents: a backend error, so it is not
/// cached and the tool's result keeps its advertised shape.
pub fn unexpected_shape(
    service: &str,
    path: &str,
    status: u16,
    body: &Value,
    wanted: &str,
) -> ToolError {
    ToolError::new(
        ErrorCode::BackendError,
        format!(
            "{service} answered {path} with {} where {wanted} was expected.",
            crate::protocol::schema::kind(body)
        ),
    )
    .with("backend_status", status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_details_quote_strings_and_fastapi_validation_lists() {
        assert_eq!(
            error_detail(&json!({"error": "busy"})).as_deref(),
            Some("busy")
        );
        assert_eq!(
            error_detail(&json!({"detail": "Not Found"})).as_deref(),
            Some("Not Found")
        );
        let validation = json!({"detail": [
            {"loc": ["query", "user_id"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["body", "items", 0], "msg": "not a number"},
            {"msg": "bad"},
            {"unrelated": true},
        ]});
        assert_eq!(
            error_detail(&validation).as_deref(),
            Some("query.user_id: field required; body.items.0: not a number; bad")
        );
        for silent in [
            json!({}),
            json!({"detail": []}),
            json!({"detail": 3}),
            json!(null),
        ] {
            assert_eq!(error_detail(&silent), None, "{silent}");
        }
        let long = error_detail(&json!({"error": "é".repeat(1000)})).unwrap();
        assert_eq!(
            long.chars().count(),
            MAX_DETAIL_CHARS + 1,
            "cut, with an ellipsis"
        );
    }

    #[test]
    fn an_open_breaker_still_says_what_to_check() {
        let open = |target| {
            BackendError::CircuitOpen {
                url: "http://127.0.0.1:1/x".into(),
                retry_after: Duration::from_secs(3),
                target,
            }
            .to_tool_error()
            .message
        };
        assert!(open(Target::Backend).contains("ide-agents-backend --port 8001"));
        assert!(open(Target::Backend).contains("IDE_AGENTS_BACKEND_URL"));
        assert!(open(Target::Ultra).contains("IDE_AGENTS_ULTRA_URL"));
        assert!(open(Target::Github).contains("IDE_AGENTS_GITHUB_API_URL"));
    }

    #[test]
    fn errors_map_to_stable_codes_that_name_the_url() {
        let url = "http://127.0.0.1:1/x".to_string();
        let cases = [
            (
                BackendError::Unavailable {
                    url: url.clone(),
                    reason: "refused".into(),
                },
                "backend_unavailable",
            ),
            (
                BackendError::Timeout {
                    url: url.clone(),
                    after: Duration::from_secs(1),
                },
                "timeout",
            ),
            (
                BackendError::CircuitOpen {
                    url: url.clone(),
                    retry_after: Duration::from_secs(3),
                    target: Target::Backend,
                },
                "circuit_open",
            ),
            (
                BackendError::Status {
                    url: url.clone(),
                    status: 404,
                    body: json!({}),
                    headers: Headers::default(),
                },
                "not_found",
            ),
            (
                BackendError::Status {
                    url: url.clone(),
                    status: 503,
                    body: json!({"error": "busy"}),
                    headers: Headers::default(),
                },
                "backend_error",
            ),
            (
                BackendError::Garbage {
                    url: url.clone(),
                    status: 200,
                    reason: "eof".into(),
                },
                "backend_error",
            ),
        ];
        for (err, code) in cases {
            let t = err.to_tool_error();
            assert_eq!(t.code.as_str(), code);
            assert!(t.message.contains(&url), "{}", t.message);
        }
        let t = BackendError::Status {
            url,
            status: 503,
            body: json!({"error": "busy"}),
            headers: Headers::default(),
        }
        .to_tool_error();
        assert!(t.message.contains("503") && t.message.contains("busy"));
        assert_eq!(t.details["backend_status"], 503);
    }
}
