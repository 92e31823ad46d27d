//! `completion/complete`: values for prompt arguments and for the kb template's `{name}`.
//!
//! Deterministic: candidates in a fixed order, filtered by a case-insensitive prefix match
//! on what the user typed so far.

use super::builtin;
use crate::resources::KB_TEMPLATE_URI;
use serde_json::{Value, json};

/// At most this many values per answer (MCP's limit).
const MAX_VALUES: usize = 100;

/// Whether `params` ask for kb snippet names (the kb template's `{name}`), which the caller
/// then hands to [`complete`] from the resource list it keeps.
pub fn wants_snippet_names(params: Option<&Value>) -> bool {
    params.is_some_and(|p| p["ref"]["type"] == "ref/resource")
}

/// The `completion/complete` result for `params`, or a message for a `-32602` error;
/// `snippet_names` are the kb snippets listed now.
pub fn complete(params: Option<&Value>, snippet_names: Vec<String>) -> Result<Value, String> {
    let params = params.ok_or("completion/complete needs params.ref and params.argument")?;
    let reference = &params["ref"];
    let arg_name = params["argument"]["name"]
        .as_str()
        .ok_or("completion/complete needs params.argument.name, a string")?;
    // Absent is what the user typed so far when nothing was: every candidate.
    let typed = match &params["argument"]["value"] {
        Value::Null => "",
        Value::String(s) => s.as_str(),
        other => {
            return Err(format!(
                "params.argument.value must be a string, got {other}"
            ));
        }
    };
    let candidates: Vec<String> = match reference["type"].as_str() {
        Some("ref/prompt") => {
            let name = reference["name"]
                .as_str()
                .ok_or("a ref/prompt needs a name")?;
            let def = super::find(name).map_err(|e| e.message().to_string())?;
            let arg = def
                .arguments
                .iter()
                .find(|a| a.name == arg_name)
                .ok_or_else(|| format!("prompt {} has no argument {arg_name:?}", def.name))?;
            arg.suggestions.iter().map(|s| s.to_string()).collect()
        }
        Some("ref/resource") => {
            let uri = reference["uri"]
                .as_str()
                .ok_or("a ref/resource needs a uri")?;
            if uri != KB_TEMPLATE_URI {
                return Err(format!(
                    "no resource template {uri:?}; resources/templates/list shows them"
                ));
            }
            if arg_name != "name" {
                return Err(format!("{KB_TEMPLATE_URI} has no variable {arg_name:?}"));
            }
            snippet_names
        }
        _ => return Err("params.ref.type must be ref/prompt or ref/resource".into()),
    };
    let prefix = typed.to_lowercase();
    let matching: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.to_lowercase().starts_with(&prefix))
        .collect();
    let total = matching.len();
    let values: Vec<String> = matching.into_iter().take(MAX_VALUES).collect();
    Ok(json!({
        "completion": {"values": values, "total": total, "hasMore": total > MAX_VALUES},
    }))
}

/// Every argument that offers completions, for tests and documentation.
pub fn completable_arguments() -> impl Iterator<Item = (&'static str, &'static str)> {
    builtin::PROMPTS.iter().flat_map(|p| {
        p.arguments
            .iter()
            .filter(|a| !a.suggestions.is_empty())
            .map(move |a| (p.name, a.name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_value_is_a_string_or_absent() {
        let (prompt, argument) = completable_arguments().next().unwrap();
        let ask = |value: Value| {
            let mut params = json!({"ref": {"type": "ref/prompt", "name": prompt},
                                    "argument": {"name": argument}});
            if !value.is_null() {
                params["argument"]["value"] = value;
            }
            complete(Some(&params), Vec::new())
        };
        let all = ask(Value::Null).unwrap();
        assert!(all["completion"]["total"].as_u64().unwrap() > 1, "{all}");
        let some = ask(json!("b")).unwrap();
        assert!(
            some["completion"]["values"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v.as_str().unwrap().starts_with('b'))
        );
        assert!(ask(json!(5)).unwrap_err().contains("must be a string"));
    }
}
