//! `completion/complete`: values for prompt arguments and for the kb template's `{name}`.
//!
//! Deterministic: candidates in a fixed order, filtered by a case-insensitive prefix match
//! on what the user typed so far.

use super::builtin;
use crate::config::Config;
use crate::resources::{self, KB_TEMPLATE_URI};
use serde_json::{Value, json};

/// At most this many values per answer (MCP's limit).
const MAX_VALUES: usize = 100;

/// The `completion/complete` result for `params`, or a message for a `-32602` error.
pub fn complete(config: &Config, params: Option<&Value>) -> Result<Value, String> {
    let params = params.ok_or("completion/complete needs params.ref and params.argument")?;
    let reference = &params["ref"];
    let arg_name = params["argument"]["name"]
        .as_str()
        .ok_or("completion/complete needs params.argument.name, a string")?;
    let typed = params["argument"]["value"].as_str().unwrap_or("");
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
            resources::kb_names(config)
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
