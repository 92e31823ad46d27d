//! The resource, prompt and completion methods the router serves: `resources/list`,
//! `resources/templates/list`, `resources/read`, `prompts/list`, `prompts/get`,
//! `completion/complete`. The content comes from `resources` and `prompts` (the same code
//! the `ide_agents_resource` / `ide_agents_prompt` tools use); this file shapes it for MCP.
//!
//! Stateless-era results carry `ttlMs`, the real time left on the cached item, and
//! `cacheScope: "private"`.

use super::router::{Reply, RpcResult};
use super::subscriptions::{not_found, not_readable};
use crate::cache::{Cached, Kind};
use crate::prompts::{self, PromptError};
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::protocol::version::Era;
use crate::protocol::{cursor, json_text, lifecycle};
use crate::resources::{self, ResourceError, Target};
use crate::shared::Shared;
use crate::tools::CallNotes;
use actix::ResponseFuture;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The name of a method [`serve`] answers (static, for metrics), or `None`.
pub fn served(method: &str) -> Option<&'static str> {
    [
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
    ]
    .into_iter()
    .find(|m| *m == method)
}

/// Whether `method` gets a telemetry span of its own (SPEC §8.1).
pub fn has_span(method: &str) -> bool {
    matches!(method, "resources/read" | "prompts/get")
}

pub fn serve(
    shared: Arc<Shared>,
    req: Request,
    era: Era,
    notes: Arc<CallNotes>,
) -> ResponseFuture<Option<RpcResult>> {
    Box::pin(async move {
        let result = match req.method.as_str() {
            "resources/list" => resources_list(&shared, &req, era).await,
            "resources/templates/list" => templates_list(&shared, &req, era),
            "resources/read" => resources_read(&shared, &req, era, &notes).await,
            "prompts/list" => prompts_list(&shared, &req, era).await,
            "prompts/get" => prompts_get(&shared, &req, era).await,
            "completion/complete" => {
                let params = req.json_params();
                // From the cached list: no kb directory scan per keystroke.
                let snippets = if prompts::complete::wants_snippet_names(params) {
                    resources::snippet_names(&resources::list(&shared.cache, &shared.config).await)
                } else {
                    Vec::new()
                };
                prompts::complete::complete(params, snippets)
                    .map(Reply::Value)
                    .map_err(RpcError::invalid_params)
            }
            other => Err(RpcError::method_not_found(other)),
        };
        Some(result)
    })
}

fn param<'a>(req: &'a Request, name: &str) -> Option<&'a Value> {
    req.param(name)
}

fn cursor_param(req: &Request) -> Result<Option<&str>, RpcError> {
    match param(req, "cursor") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) => Ok(Some(c)),
        Some(other) => Err(RpcError::invalid_params(format!(
            "cursor must be a string, got {other}"
        ))),
    }
}

/// One page of `items` under `key`, with `nextCursor` when more remain.
fn paged(
    shared: &Shared,
    req: &Request,
    list: &str,
    key: &str,
    items: &[Value],
) -> Result<Value, RpcError> {
    let (page, next) = cursor::page(list, items, cursor_param(req)?, shared.config.page_size)
        .map_err(RpcError::invalid_params)?;
    Ok(page_result(key, page, next))
}

fn page_result(key: &str, page: &[Value], next: Option<String>) -> Value {
    let mut result = json!({ key: page });
    if let Some(next) = next {
        result["nextCursor"] = next.into();
    }
    result
}

/// Adds the stateless era's cache hints.
fn with_ttl(mut result: Value, era: Era, ttl_left: Duration) -> Reply {
    if era.is_modern() {
        result["ttlMs"] = (ttl_left.as_millis() as u64).into();
        result["cacheScope"] = "private".into();
    }
    Reply::Value(result)
}

/// The `resources/read` result, written from the stored, already escaped text: a hit
/// copies the text once instead of cloning it into a `Value` and escaping it again.
fn read_result(uri: &str, read: &Cached, era: Era, fresh_for: Duration) -> Vec<u8> {
    let v = &read.value;
    let text = v["text_json"].as_str().unwrap_or("\"\"");
    let mut out = Vec::with_capacity(text.len() + uri.len() + 200);
    out.extend_from_slice(b"{\"contents\":[{\"uri\":");
    json_text::write_str(&mut out, uri);
    out.extend_from_slice(b",\"mimeType\":");
    json_text::write_str(&mut out, v["mimeType"].as_str().unwrap_or_default());
    out.extend_from_slice(b",\"text\":");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"}]");
    if era.is_modern() {
        let ttl_ms = fresh_for.as_millis() as u64;
        out.extend_from_slice(b",\"ttlMs\":");
        out.extend_from_slice(itoa::Buffer::new().format(ttl_ms).as_bytes());
        out.extend_from_slice(b",\"cacheScope\":\"private\"");
        out.extend_from_slice(lifecycle::modern_result_suffix());
    }
    out.push(b'}');
    out
}

async fn resources_list(shared: &Shared, req: &Request, era: Era) -> RpcResult {
    let listed = resources::list(&shared.cache, &shared.config).await;
    // Paged in place: the list can hold every snippet of a large kb directory.
    let items = listed.value["resources"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    // Snippets come and go between pages: the cursor names a place in the order, not an
    // offset.
    let (page, next) = cursor::page_by_key(
        "resources",
        items,
        cursor_param(req)?,
        shared.config.page_size,
        resources::list_key,
    )
    .map_err(RpcError::invalid_params)?;
    Ok(with_ttl(
        page_result("resources", page, next),
        era,
        listed.ttl_left,
    ))
}

fn templates_list(shared: &Shared, req: &Request, era: Era) -> RpcResult {
    let result = paged(
        shared,
        req,
        "templates",
        "resourceTemplates",
        &resources::templates(),
    )?;
    // Fixed for the daemon's life: cached by clients like schemas.
    Ok(with_ttl(result, era, shared.cache.ttl(Kind::Schema)))
}

async fn resources_read(shared: &Shared, req: &Request, era: Era, notes: &CallNotes) -> RpcResult {
    let uri = param(req, "uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("resources/read needs params.uri, a string"))?;
    let target = Target::from_uri(uri).ok_or_else(|| not_found(uri, era))?;
    match resources::read(&shared.cache, &shared.config, &target).await {
        Ok(read) => {
            notes.cache(read.hit);
            let fresh_for = target.fresh_for(read.ttl_left);
            Ok(Reply::Encoded(read_result(uri, &read, era, fresh_for)))
        }
        Err(ResourceError::NotFound(_)) => Err(not_found(uri, era)),
        Err(ResourceError::Unreadable(reason)) => Err(not_readable(uri, era, &reason)),
    }
}

async fn prompts_list(shared: &Shared, req: &Request, era: Era) -> RpcResult {
    let listed = prompts::list(&shared.cache).await;
    let items = listed.value["prompts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let result = paged(shared, req, "prompts", "prompts", &items)?;
    Ok(with_ttl(result, era, listed.ttl_left))
}

async fn prompts_get(shared: &Shared, req: &Request, era: Era) -> RpcResult {
    let name = param(req, "name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("prompts/get needs params.name, a string"))?;
    let arguments = match param(req, "arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "prompts/get params.arguments must be an object, got {other}"
            )));
        }
    };
    match prompts::get(&shared.cache, &shared.config, name, &arguments).await {
        Ok((result, ttl_left)) => Ok(with_ttl(result, era, ttl_left)),
        Err(PromptError::Unknown(m)) => Err(RpcError::invalid_params(m).labelled("not_found")),
        Err(PromptError::BadArguments(m)) => Err(RpcError::invalid_params(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_millis(1234);

    fn cached(text: &str) -> Cached {
        Cached {
            value: Arc::new(json!({
                "mimeType": "text/plain",
                "text_json": serde_json::to_string(text).unwrap(),
            })),
            ttl_left: TTL,
            hit: true,
        }
    }

    #[test]
    fn a_read_result_written_as_bytes_is_the_json_of_its_parts() {
        let text = "line \"one\"\n\ttab \\ é";
        let uri = "ide-agents://kb.snippet/a\"b";
        let legacy: Value = serde_json::from_slice(&read_result(
            uri,
            &cached(text),
            Era::Legacy("2025-06-18"),
            TTL,
        ))
        .expect("valid JSON");
        assert_eq!(
            legacy,
            json!({"contents": [{"uri": uri, "mimeType": "text/plain", "text": text}]})
        );
        let modern: Value =
            serde_json::from_slice(&read_result(uri, &cached(text), Era::Modern, TTL))
                .expect("valid JSON");
        assert_eq!(modern["contents"], legacy["contents"]);
        assert_eq!(modern["ttlMs"], 1234);
        assert_eq!(modern["cacheScope"], "private");
        assert_eq!(modern["resultType"], "complete");
    }
}
