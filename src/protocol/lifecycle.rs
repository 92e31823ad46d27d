//! Results of the lifecycle methods: `initialize` (legacy era) and `server/discover`
//! (stateless era), built from one description of what the server offers.

use super::version;
use serde_json::{Value, json};

pub const SERVER_NAME: &str = "ide-agentsd";
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `_meta` key naming the server on stateless-era results.
pub const SERVER_INFO_META_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// `server/discover` results may be cached by clients for this long.
pub const DISCOVER_TTL_MS: u64 = 300_000;

/// Who this server is and what it says about itself.
pub struct ServerInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub instructions: &'static str,
}

/// The capabilities this server implements in a legacy session (`session`) or for
/// stateless requests. Subscribing and every change notification need a session to carry
/// them, so none is offered without one.
pub fn capabilities(session: bool) -> Value {
    json!({
        "tools": {"listChanged": session},
        "resources": {"subscribe": session, "listChanged": session},
        // The six prompts are fixed (a prompts dir overrides texts, not the list), so the
        // list never changes.
        "prompts": {"listChanged": false},
        "completions": {},
        "logging": {},
    })
}

pub fn initialize_result(info: &ServerInfo, requested: Option<&str>) -> Value {
    json!({
        "protocolVersion": version::negotiate_legacy(requested),
        "capabilities": capabilities(true),
        "serverInfo": {"name": info.name, "version": info.version},
        "instructions": info.instructions,
    })
}

/// Marks a stateless-era result: `resultType` and the server's identity in `_meta`.
pub fn decorate_modern(result: &mut Value) {
    let Some(obj) = result.as_object_mut() else {
        return;
    };
    obj.entry("resultType").or_insert_with(|| json!("complete"));
    let meta = obj.entry("_meta").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.entry(SERVER_INFO_META_KEY)
            .or_insert_with(|| json!({"name": SERVER_NAME, "version": SERVER_VERSION}));
    }
}

/// The members [`decorate_modern`] adds, serialized once, for results written as bytes.
pub fn modern_result_suffix() -> &'static [u8] {
    static SUFFIX: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut marker = json!({});
        decorate_modern(&mut marker);
        let text = marker.to_string();
        // `{"…":…}` → `,"…":…`: the members without the braces, ready to append.
        format!(",{}", &text[1..text.len() - 1]).into_bytes()
    });
    &SUFFIX
}

pub fn discover_result(info: &ServerInfo) -> Value {
    json!({
        "supportedVersions": version::supported_versions().collect::<Vec<_>>(),
        "capabilities": capabilities(false),
        "serverInfo": {"name": info.name, "version": info.version},
        "instructions": info.instructions,
        "ttlMs": DISCOVER_TTL_MS,
        "cacheScope": "private",
        "resultType": "complete",
        "_meta": {SERVER_INFO_META_KEY: {"name": info.name, "version": info.version}},
    })
}

/// The levels `logging/setLevel` accepts (syslog names, as MCP defines them).
pub const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: ServerInfo = ServerInfo {
        name: "ide-agentsd",
        version: "1.2.3",
        instructions: "hi",
    };

    #[test]
    fn initialize_echoes_a_legacy_version() {
        let r = initialize_result(&INFO, Some("2024-11-05"));
        assert_eq!(r["protocolVersion"], "2024-11-05");
        assert_eq!(
            r["serverInfo"],
            json!({"name": "ide-agentsd", "version": "1.2.3"})
        );
        assert_eq!(r["capabilities"]["tools"]["listChanged"], true);
        assert_eq!(r["capabilities"]["resources"]["subscribe"], true);
        assert_eq!(r["capabilities"]["resources"]["listChanged"], true);
        assert_eq!(r["capabilities"]["prompts"]["listChanged"], false);
        assert_eq!(r["capabilities"]["completions"], json!({}));
        assert_eq!(r["instructions"], "hi");
    }

    #[test]
    fn discover_lists_every_version_and_cache_hints() {
        let r = discover_result(&INFO);
        assert_eq!(r["supportedVersions"][0], "2026-07-28");
        assert_eq!(r["ttlMs"], DISCOVER_TTL_MS);
        assert_eq!(r["cacheScope"], "private");
        assert_eq!(r["_meta"][SERVER_INFO_META_KEY]["name"], "ide-agentsd");
        // Stateless requests cannot subscribe (resources/subscribe needs a legacy session),
        // and no notification reaches them.
        assert_eq!(r["capabilities"]["resources"]["subscribe"], false);
        assert_eq!(r["capabilities"]["resources"]["listChanged"], false);
        assert_eq!(r["capabilities"]["tools"]["listChanged"], false);
    }

    #[test]
    fn the_byte_suffix_matches_the_decoration() {
        let mut with_suffix = br#"{"a":1"#.to_vec();
        with_suffix.extend_from_slice(modern_result_suffix());
        with_suffix.push(b'}');
        let mut decorated = json!({"a": 1});
        decorate_modern(&mut decorated);
        assert_eq!(
            serde_json::from_slice::<Value>(&with_suffix).unwrap(),
            decorated
        );
    }

    #[test]
    fn modern_results_are_marked_complete_and_signed() {
        let mut r = json!({"tools": []});
        decorate_modern(&mut r);
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["_meta"][SERVER_INFO_META_KEY]["version"], SERVER_VERSION);
    }
}
