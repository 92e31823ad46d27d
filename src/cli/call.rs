//! `ide-agentsd call <tool> [--arg k=v]… [--json '{…}']`: one tool call from a shell.

use super::client::{
    CALL_TIMEOUT, Client, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, timeout_or,
    unreachable_message,
};
use super::terminal::outln;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Builds the arguments: `--json` first, then each `--arg` (values that parse as JSON are
/// taken as JSON, anything else as a string).
pub fn build_arguments(
    json_arg: Option<&str>,
    args: &[String],
) -> Result<Map<String, Value>, String> {
    let mut out = match json_arg {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err("--json must be a JSON object".into()),
            Err(e) => return Err(format!("--json is not valid JSON: {e}")),
        },
    };
    for arg in args {
        let (key, raw) = arg
            .split_once('=')
            .ok_or_else(|| format!("--arg {arg:?} must look like key=value"))?;
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

pub fn run(path: &Path, tool: &str, json_arg: Option<&str>, args: &[String]) -> i32 {
    let arguments = match build_arguments(json_arg, args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ide-agentsd call: {e}");
            return EXIT_USAGE;
        }
    };
    let mut client = match Client::connect(path, timeout_or(CALL_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", unreachable_message(path, &e));
            return EXIT_UNREACHABLE;
        }
    };
    let result = match client.request("tools/call", json!({"name": tool, "arguments": arguments})) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ide-agentsd call: {e}");
            return EXIT_ERROR;
        }
    };
    let structured = result
        .get("structuredContent")
        .cloned()
        .unwrap_or(Value::Null);
    outln!(
        "{}",
        serde_json::to_string_pretty(&structured).unwrap_or_default()
    );
    if result["isError"] == json!(true) {
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or("tool failed");
        eprintln!("ide-agentsd call: {tool} failed: {text}");
        return EXIT_ERROR;
    }
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_merge_json_then_pairs() {
        let args = vec![
            "limit=5".to_string(),
            "query=rust lang".to_string(),
            "flag=true".to_string(),
        ];
        let got = build_arguments(Some(r#"{"limit": 1, "x": [1]}"#), &args).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"limit": 5, "query": "rust lang", "flag": true, "x": [1]})
        );
        assert!(build_arguments(None, &["novalue".to_string()]).is_err());
        assert!(build_arguments(Some("[1]"), &[]).is_err());
    }
}
