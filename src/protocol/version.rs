//! Protocol versions and the two eras: the legacy `initialize` handshake and the stateless
//! 2026-07-28 revision where every request names its version in `_meta`.

use super::jsonrpc::{INVALID_REQUEST, Request, RpcError, UNSUPPORTED_VERSION};
use serde_json::json;

/// Versions negotiated through `initialize`, oldest first.
pub const LEGACY_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless revision, served per request without a handshake.
pub const MODERN_VERSION: &str = "2026-07-28";
/// Every version this server speaks, newest first (as `server/discover` lists them).
pub const SUPPORTED_VERSIONS: [&str; 5] = [
    MODERN_VERSION,
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

/// The one version with JSON-RPC batches (2025-06-18 removed them).
pub const BATCH_VERSION: &str = "2025-03-26";

/// The `_meta` key that marks a request of the stateless era.
pub const META_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// Where a stateless request declares its client's capabilities.
pub const META_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

/// Which rules a request is served under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Inside an initialized legacy session, with the negotiated version.
    Legacy(&'static str),
    /// Stateless 2026-07-28.
    Modern,
}

impl Era {
    pub fn version(self) -> &'static str {
        match self {
            Era::Legacy(v) => v,
            Era::Modern => MODERN_VERSION,
        }
    }

    pub fn is_modern(self) -> bool {
        matches!(self, Era::Modern)
    }
}

/// Every supported version, newest first.
pub fn supported_versions() -> impl Iterator<Item = &'static str> {
    SUPPORTED_VERSIONS.into_iter()
}

/// The version `initialize` answers: the client's if it is a legacy one, else the newest legacy.
pub fn negotiate_legacy(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| LEGACY_VERSIONS.iter().find(|v| **v == r).copied())
        .unwrap_or(LEGACY_VERSIONS[LEGACY_VERSIONS.len() - 1])
}

/// Whether a session that negotiated `negotiated` reads a JSON array as a batch.
pub fn allows_batches(negotiated: Option<&str>) -> bool {
    negotiated == Some(BATCH_VERSION)
}

/// Decides the era of a request given the connection's negotiated legacy version (if any).
///
/// A `_meta` version of 2026-07-28 is served statelessly; a legacy version in `_meta` is served
/// under the legacy rules (so it needs the handshake); anything else is `-32022`.
pub fn era_of(req: &Request, negotiated: Option<&'static str>) -> Result<Era, RpcError> {
    match check_meta_version(req)? {
        Some(MODERN_VERSION) => Ok(Era::Modern),
        _ => legacy_era(negotiated),
    }
}

/// The version a request names in `_meta`, if any; `-32022` when it is not one this server
/// speaks. Requests served in any state (`ping`, `initialize`) check it too.
pub fn check_meta_version(req: &Request) -> Result<Option<&'static str>, RpcError> {
    let Some(requested) = req.meta().and_then(|m| m.get(META_VERSION_KEY)) else {
        return Ok(None);
    };
    // A version that is not a string is a malformed request, not one to negotiate: -32022's
    // data names the requested version as a string.
    let Some(requested) = requested.as_str() else {
        // Named by its type: the value itself can be any size.
        let kind = match requested {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::Object(_) => "an object",
            serde_json::Value::String(_) => "a string",
        };
        return Err(RpcError::invalid_params(format!(
            "params._meta[\"{META_VERSION_KEY}\"] must be a protocol version string, got {kind}"
        )));
    };
    let known = SUPPORTED_VERSIONS.into_iter().find(|s| *s == requested);
    known.map(Some).ok_or_else(|| unsupported(requested))
}

fn legacy_era(negotiated: Option<&'static str>) -> Result<Era, RpcError> {
    negotiated.map(Era::Legacy).ok_or_else(|| {
        RpcError::new(
            INVALID_REQUEST,
            "session not initialized: send `initialize` first, or name protocol version \
             2026-07-28 in params._meta",
        )
    })
}

fn unsupported(requested: &str) -> RpcError {
    RpcError::new(
        UNSUPPORTED_VERSION,
        format!("unsupported protocol version {requested:?}"),
    )
    .with_data(json!({
        "supported": supported_versions().collect::<Vec<_>>(),
        "requested": requested,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::{Message, decode};

    fn req(params: &str) -> Request {
        let line = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{params}}}"#);
        match decode(line.as_bytes()).unwrap() {
            Message::Request(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn five_versions_newest_first() {
        let all: Vec<_> = supported_versions().collect();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0], MODERN_VERSION);
        assert_eq!(all[4], "2024-11-05");
    }

    #[test]
    fn legacy_negotiation_echoes_known_versions_only() {
        for v in LEGACY_VERSIONS {
            assert_eq!(negotiate_legacy(Some(v)), v);
        }
        assert_eq!(negotiate_legacy(Some("1999-01-01")), "2025-11-25");
        assert_eq!(negotiate_legacy(Some(MODERN_VERSION)), "2025-11-25");
        assert_eq!(negotiate_legacy(None), "2025-11-25");
    }

    #[test]
    fn era_follows_meta_then_session() {
        let modern = req(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#);
        assert_eq!(era_of(&modern, None), Ok(Era::Modern));
        assert_eq!(
            era_of(&req("{}"), Some("2025-06-18")),
            Ok(Era::Legacy("2025-06-18"))
        );
        assert_eq!(era_of(&req("{}"), None).unwrap_err().code, INVALID_REQUEST);
        let bad = req(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}"#);
        let e = era_of(&bad, Some("2025-06-18")).unwrap_err();
        assert_eq!(e.code, UNSUPPORTED_VERSION);
        let data = e.data.unwrap();
        assert_eq!(data["requested"], "2099-01-01");
        assert_eq!(data["supported"].as_array().unwrap().len(), 5);
    }
}
