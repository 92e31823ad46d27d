//! Security audit events (SPEC §8.2): `{ts, type, …}` lines in `security_audit.jsonl`.
//!
//! Arguments are never logged in full: commands have their secrets taken out
//! (`redact`) and are cut to [`COMMAND_LOG_CHARS`] characters when serialized, so no
//! caller can forget to, and no event carries tool arguments.

use serde::{Serialize, Serializer};

/// Longest command text written to the audit log.
pub const COMMAND_LOG_CHARS: usize = 200;

/// The audit event types, as written in `type`.
pub const EVENT_TYPES: [&str; 6] = [
    "rate_limited",
    "approval_requested",
    "approval_granted",
    "approval_denied",
    "command_executed",
    "tool_failure",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditEvent {
    /// `refused` calls refused since the previous event of this (connection, tool), the
    /// latest just before `ts`: refusals are gathered for a second, so a flood of them cannot
    /// push the other records out of the log.
    RateLimited {
        tool: String,
        session: u64,
        retry_after_ms: u64,
        refused: u64,
    },
    ApprovalRequested {
        action_id: String,
        #[serde(serialize_with = "truncated")]
        command: String,
        session: u64,
    },
    /// `via` names the client's question (`elicitation`) when the user answered there; such
    /// a grant is for the asking call alone, so it has no `ttl_secs`.
    ApprovalGranted {
        action_id: String,
        #[serde(serialize_with = "truncated")]
        command: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        ttl_secs: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<&'static str>,
    },
    ApprovalDenied {
        action_id: String,
        #[serde(serialize_with = "truncated")]
        command: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<&'static str>,
    },
    CommandExecuted {
        action_id: Option<String>,
        #[serde(serialize_with = "truncated")]
        command: String,
        /// Null when no answer came back (the call was cancelled, or the connection broke
        /// after the request was sent): the command may have run, and `note` says why.
        success: Option<bool>,
        session: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<&'static str>,
    },
    ToolFailure {
        tool: String,
        error_code: &'static str,
        session: u64,
    },
}

impl AuditEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::RateLimited { .. } => "rate_limited",
            AuditEvent::ApprovalRequested { .. } => "approval_requested",
            AuditEvent::ApprovalGranted { .. } => "approval_granted",
            AuditEvent::ApprovalDenied { .. } => "approval_denied",
            AuditEvent::CommandExecuted { .. } => "command_executed",
            AuditEvent::ToolFailure { .. } => "tool_failure",
        }
    }
}

/// One line of the audit log: the event stamped with when it happened.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// Epoch seconds with millisecond precision (the Python server's `time.time()` form).
    #[serde(serialize_with = "epoch_seconds")]
    pub ts: u64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

impl actix::Message for AuditRecord {
    type Result = ();
}

fn epoch_seconds<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*ms as f64 / 1000.0)
}

/// A command as the log may hold it: its secrets taken out, then cut.
fn truncated<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    let text = super::redact::redact(text);
    match text.char_indices().nth(COMMAND_LOG_CHARS) {
        Some((cut, _)) => s.serialize_str(&text[..cut]),
        None => s.serialize_str(&text),
    }
}

/// Reads `(ts in epoch ms, type)` back from an audit line; `None` for lines it cannot use.
/// An audit line's time (epoch ms), type and how many events it stands for (`refused`).
pub fn parse_line(line: &str) -> Option<(u64, &'static str, u64)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let ts = v.get("ts")?.as_f64()?;
    let kind = v.get("type")?.as_str()?;
    let kind = EVENT_TYPES.into_iter().find(|t| *t == kind)?;
    let count = v.get("refused").and_then(|n| n.as_u64()).unwrap_or(1);
    Some(((ts * 1000.0).round() as u64, kind, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_start_with_ts_and_type() {
        let r = AuditRecord {
            ts: 1_795_542_865_123,
            event: AuditEvent::ToolFailure {
                tool: "ide_agents_fetch_doc".into(),
                error_code: "not_found",
                session: 4,
            },
        };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            r#"{"ts":1795542865.123,"type":"tool_failure","tool":"ide_agents_fetch_doc","error_code":"not_found","session":4}"#
        );
        assert_eq!(
            parse_line(&line),
            Some((1_795_542_865_123, "tool_failure", 1))
        );
    }

    #[test]
    fn commands_are_cut_to_200_characters() {
        let command = "é".repeat(500);
        let r = AuditRecord {
            ts: 0,
            event: AuditEvent::ApprovalRequested {
                action_id: "a1".into(),
                command,
                session: 1,
            },
        };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["command"].as_str().unwrap().chars().count(), 200);
        assert_eq!(v["type"], "approval_requested");
    }

    #[test]
    fn secrets_in_commands_are_not_written() {
        let r = AuditRecord {
            ts: 0,
            event: AuditEvent::CommandExecuted {
                action_id: None,
                command: "curl -H 'Authorization: token ghp_s3cr3t' https://x".into(),
                success: Some(true),
                session: None,
                note: None,
            },
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("s3cr3t"), "{line}");
        assert!(line.contains("Authorization: token [redacted]"), "{line}");
    }

    #[test]
    fn unusable_lines_are_skipped() {
        assert_eq!(parse_line("not json"), None);
        assert_eq!(parse_line(r#"{"ts":1,"type":"something_else"}"#), None);
        assert_eq!(parse_line(r#"{"type":"rate_limited"}"#), None);
    }
}
