//! `ide-agentsd call <tool> [--arg k=v]… [--json '{…}']`: one tool call from a shell.

use super::client::{
    CALL_TIMEOUT, Client, EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, timeout_or,
    unreachable_message,
};
use super::terminal::outln;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Builds the arguments: `--json` first, then each `--arg`. A value is taken as JSON when
/// it parses, anything else as a string; but for an argument the tool's `schema` types as a
/// string, the text is the string as written (`--arg topic=123` is `"123"`, not `123`).
pub fn build_arguments(
    json_arg: Option<&str>,
    args: &[String],
    schema: Option<&Value>,
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
        let value = match takes_string(schema, key) {
            true => Value::String(raw.to_string()),
            false => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string())),
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

fn takes_string(schema: Option<&Value>, key: &str) -> bool {
    let property = schema.and_then(|s| s.get("properties")?.get(key));
    property.and_then(|p| p.get("type")) == Some(&json!("string"))
}

/// The tool's `inputSchema` from `tools/list`, following pages; `None` if it is not listed
/// or the listing fails (then every value is read as JSON when it parses).
fn input_schema(client: &mut Client, tool: &str) -> Option<Value> {
    let mut cursor: Option<String> = None;
    // A bound, so a server handing out cursors forever cannot keep the command going.
    for _ in 0..100 {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let page = client.request("tools/list", params).ok()?;
        let tools = page.get("tools")?.as_array()?;
        if let Some(t) = tools.iter().find(|t| t["name"] == tool) {
            return t.get("inputSchema").cloned();
        }
        cursor = Some(page.get("nextCursor")?.as_str()?.to_string());
    }
    None
}

pub fn run(path: &Path, tool: &str, json_arg: Option<&str>, args: &[String]) -> i32 {
    // Usage errors first, before any connection.
    if let Err(e) = build_arguments(json_arg, args, None) {
        eprintln!("ide-agentsd call: {e}");
        return EXIT_USAGE;
    }
    let mut client = match Client::connect(path, timeout_or(CALL_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", unreachable_message(path, &e));
            return EXIT_UNREACHABLE;
        }
    };
    let schema = match args.is_empty() {
        true => None,
        false => input_schema(&mut client, tool),
    };
    let arguments = match build_arguments(json_arg, args, schema.as_ref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ide-agentsd call: {e}");
            return EXIT_USAGE;
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
        let got = build_arguments(Some(r#"{"limit": 1, "x": [1]}"#), &args, None).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"limit": 5, "query": "rust lang", "flag": true, "x": [1]})
        );
        assert!(build_arguments(None, &["novalue".to_string()], None).is_err());
        assert!(build_arguments(Some("[1]"), &[], None).is_err());
    }

    #[test]
    fn an_argument_the_schema_types_as_a_string_is_the_text_as_written() {
        let schema = json!({"type": "object", "properties": {
            "topic": {"type": "string"}, "limit": {"type": "integer"}}});
        let args = ["topic=123", "limit=5", "other=true"].map(String::from);
        let got = build_arguments(None, &args, Some(&schema)).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"topic": "123", "limit": 5, "other": true})
        );
    }
}
