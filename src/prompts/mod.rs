//! MCP prompts: the built-in templates (`builtin`), optionally replaced by files in
//! `IDE_AGENTS_PROMPTS_DIR`, rendered with the caller's arguments.
//!
//! Templates are cached (kind `Resource`) with the fingerprint of their override file, so
//! editing, adding or removing `<name>.md` takes effect on the next `prompts/get`.

pub mod builtin;
pub mod complete;

use crate::cache::{Cache, Cached, Kind};
use crate::config::Config;
use builtin::{PROMPTS, PromptDef};
use serde_json::{Map, Value, json};
use std::os::unix::fs::MetadataExt;

const OVERRIDE_EXT: &str = ".md";
const LIST_KEY: &str = "list:prompts";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    Unknown(String),
    BadArguments(String),
}

impl PromptError {
    pub fn message(&self) -> &str {
        match self {
            PromptError::Unknown(m) | PromptError::BadArguments(m) => m,
        }
    }
}

/// The names of every prompt, in listing order.
pub fn names() -> Vec<&'static str> {
    PROMPTS.iter().map(|p| p.name).collect()
}

/// `{prompts: [entry…]}`, the `prompts/list` result (the list is fixed; the cache gives it
/// a real TTL to report).
pub async fn list(cache: &Cache) -> Cached {
    let loaded = cache
        .fetch(LIST_KEY, Kind::Resource, async {
            let prompts: Vec<Value> = PROMPTS.iter().map(list_entry).collect();
            Ok::<_, PromptError>(json!({"prompts": prompts}))
        })
        .await;
    loaded.unwrap_or_else(|_| Cached {
        value: std::sync::Arc::new(json!({"prompts": []})),
        ttl_left: std::time::Duration::ZERO,
        hit: false,
    })
}

fn list_entry(p: &PromptDef) -> Value {
    let arguments: Vec<Value> = p
        .arguments
        .iter()
        .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
        .collect();
    json!({
        "name": p.name,
        "title": p.title,
        "description": p.description,
        "arguments": arguments,
    })
}

/// Looks a prompt up by name; a leading `/` (slash-command spelling) is accepted.
pub fn find(name: &str) -> Result<&'static PromptDef, PromptError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    builtin::find(bare).ok_or_else(|| {
        PromptError::Unknown(format!(
            "unknown prompt {name:?}; prompts/list shows the prompts: {}",
            names().join(", ")
        ))
    })
}

/// The `prompts/get` result, `{description, messages}`, and the template's remaining TTL.
pub async fn get(
    cache: &Cache,
    config: &Config,
    name: &str,
    arguments: &Map<String, Value>,
) -> Result<(Value, std::time::Duration), PromptError> {
    let def = find(name)?;
    let mut values = Vec::with_capacity(def.arguments.len());
    for arg in def.arguments {
        match arguments.get(arg.name) {
            Some(Value::String(s)) => values.push((arg.name, s.clone())),
            None | Some(Value::Null) if !arg.required => values.push((arg.name, String::new())),
            None | Some(Value::Null) => {
                return Err(PromptError::BadArguments(format!(
                    "prompt {} needs the argument {:?}: {}",
                    def.name, arg.name, arg.description
                )));
            }
            Some(other) => {
                return Err(PromptError::BadArguments(format!(
                    "argument {:?} of prompt {} must be a string, got {other}",
                    arg.name, def.name
                )));
            }
        }
    }
    let template = template(cache, config, def).await;
    let source = template.value["text"].as_str().unwrap_or(def.template);
    let text = render(source, &values);
    let result = json!({
        "description": def.description,
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
    });
    Ok((result, template.ttl_left))
}

/// The template text, from the override file when there is one: `{text, fp}`.
async fn template(cache: &Cache, config: &Config, def: &'static PromptDef) -> Cached {
    let path = config
        .prompts_dir
        .as_ref()
        .map(|d| d.join(format!("{}{OVERRIDE_EXT}", def.name)));
    let fp = match &path {
        Some(p) => p.metadata().map_or(Value::Null, |m| {
            json!([m.mtime(), m.mtime_nsec(), m.len(), m.ino()])
        }),
        None => Value::Null,
    };
    let key = format!("prompt:{}", def.name);
    let loaded = cache
        .fetch_valid(&key, Kind::Resource, |v| v["fp"] == fp, async {
            // The prompt names are fixed words, so the override path cannot escape the
            // directory; an unreadable override falls back to the built-in text.
            let text = path
                .as_ref()
                .filter(|_| !fp.is_null())
                .and_then(|p| match crate::resources::regular_file::read_text(p) {
                    // An empty file is an override begun, not a prompt that says nothing
                    // (it would drop the user's arguments without a word).
                    Ok(t) if t.trim().is_empty() => {
                        log::warn!(
                            "prompt override {} is empty; using the built-in prompt",
                            p.display()
                        );
                        None
                    }
                    Ok(t) => Some(t),
                    Err(e) => {
                        log::warn!("prompt override {} unreadable: {e}", p.display());
                        None
                    }
                })
                .unwrap_or_else(|| def.template.to_string());
            Ok::<_, PromptError>(json!({"text": text, "fp": fp.clone()}))
        })
        .await;
    loaded.unwrap_or_else(|_| Cached {
        value: std::sync::Arc::new(json!({"text": def.template})),
        ttl_left: std::time::Duration::ZERO,
        hit: false,
    })
}

/// Replaces each `{{name}}` with its value in one pass (so a value is never re-expanded);
/// unknown placeholders and other braces are left alone.
pub fn render(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let known = after.find("}}").and_then(|end| {
            let name = &after[..end];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v, end))
        });
        match known {
            Some((value, end)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_others_kept() {
        let r = render(
            "a {{x}} b {{y}} {c}",
            &[("y", "{{x}}".into()), ("x", "1".into())],
        );
        assert_eq!(r, "a 1 b {{x}} {c}");
        assert_eq!(render("{{x}} {{z}} {{", &[("x", "v".into())]), "v {{z}} {{");
    }

    #[test]
    fn every_prompt_is_listed_in_order_with_its_placeholders() {
        let names = names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert_eq!(
            names,
            [
                "diff_review",
                "hotfix_plan",
                "rank_github_all",
                "rank_github_repos",
                "rank_top_bug_prs",
                "test_failures"
            ]
        );
        for p in PROMPTS {
            for a in p.arguments {
                assert!(
                    p.template.contains(&format!("{{{{{}}}}}", a.name)),
                    "{} lacks {{{{{}}}}}",
                    p.name,
                    a.name
                );
            }
        }
        assert!(find("/diff_review").is_ok());
        assert!(matches!(find("nope"), Err(PromptError::Unknown(_))));
    }
}
