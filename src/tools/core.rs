//! The core group: tools that describe and check the daemon itself.

use super::backend::BackendTools;
use super::spec::{Annotations, GroupId, ToolSpec, no_arguments, object_schema};
use super::{
    ErrorCode, ToolCall, ToolError, ToolGroup, ToolOutput, ToolResult, ToolWork, arg_str, boxed,
};
use crate::actors::backend_pool::BackendPool;
use crate::actors::telemetry::AuditLog;
use crate::clock;
use crate::prompts::{self, PromptError};
use crate::resources::{self, ResourceError, Target};
use crate::shared::Shared;
use actix::Addr;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use crate::protocol::lifecycle::SERVER_VERSION as VERSION;

/// What the server offers, in a few sentences for the agent reading `instructions`.
pub const SUMMARY: &str = "ide-agentsd is the local MCP server for this user's IDE agents. \
It offers tools to check the daemon (ide_agents_health, ide_agents_healthz), to run approved \
commands and read documentation through the agents backend, to rank GitHub repositories and \
issues, and (when ULTRA is enabled) ML scoring tools. Resources: repo.graph (the workspace \
graph), build.logs (the build log tail) and kb.snippet/{name} (knowledge-base snippets). \
Prompts: diff_review, test_failures, hotfix_plan, rank_github_repos, rank_github_all, \
rank_top_bug_prs. Commands that change things need the user's approval: \
`ide-agentsd approve <action_id>`.";

pub fn specs() -> Vec<ToolSpec> {
    let core = |name, description| ToolSpec {
        name,
        group: GroupId::Core,
        description,
        input_schema: no_arguments(),
        annotations: Annotations::LOCAL_READ,
    };
    let mut specs = vec![
        core(
            "ide_agents_server_instructions",
            "Describe this server: version, a summary, and the names of its tools, resources and prompts.",
        ),
        core(
            "ide_agents_healthz",
            "Liveness check: answers at once with the daemon's current UTC time.",
        ),
        core(
            "ide_agents_health",
            "Daemon health: version, tool groups, and the backend's last probed state (never waits on the backend).",
        ),
        ToolSpec {
            input_schema: object_schema(
                json!({
                    "method": {"type": "string", "enum": ["list", "get"], "default": "list",
                               "description": "list the resources, or get one by name"},
                    "name": {"type": "string",
                             "description": "for get: repo.graph, build.logs, kb.snippet or kb.snippet/<name> (or the full ide-agents:// URI)"},
                }),
                &[],
            ),
            ..core(
                "ide_agents_resource",
                "The MCP resources as a tool: list them, or get one's content (the workspace graph, the build log tail, knowledge-base snippets).",
            )
        },
        ToolSpec {
            input_schema: object_schema(
                json!({
                    "method": {"type": "string", "enum": ["list", "get"], "default": "list",
                               "description": "list the prompts, or get one rendered"},
                    "name": {"type": "string",
                             "description": "for get: the prompt name, with or without a leading /"},
                    "arguments": {"type": "object",
                                  "description": "for get: the prompt's arguments, strings by name"},
                }),
                &[],
            ),
            ..core(
                "ide_agents_prompt",
                "The MCP prompts as a tool: list them, or get one rendered with its arguments.",
            )
        },
        ToolSpec {
            annotations: Annotations {
                read_only: false,
                destructive: false,
                idempotent: true,
                open_world: false,
            },
            ..core(
                "ide_agents_reload",
                "Clear the daemon's caches and re-read resource and prompt files and the anomaly thresholds.",
            )
        },
    ];
    specs.extend(super::observe::specs());
    specs
}

pub struct CoreTools {
    shared: Arc<Shared>,
    backend: BackendTools,
}

impl CoreTools {
    pub fn new(shared: Arc<Shared>, pool: Addr<BackendPool>, audit: Option<AuditLog>) -> Self {
        let backend = BackendTools::new(shared.clone(), pool, audit);
        CoreTools { shared, backend }
    }

    async fn server_instructions(shared: Arc<Shared>) -> ToolResult {
        let tools: Vec<&str> = shared.catalog.tools().iter().map(|t| t.name).collect();
        let listed = resources::list(&shared.cache, &shared.config).await;
        Ok(json!({
            "version": VERSION,
            "summary": SUMMARY,
            "tools": tools,
            "resources": resource_names(&listed.value),
            "prompts": prompts::names(),
        }))
    }

    /// `ide_agents_resource`: the same listing and content as `resources/list` and
    /// `resources/read`.
    async fn resource(shared: Arc<Shared>, call: ToolCall) -> ToolResult {
        let args = call.args;
        match arg_str(&args, "method").unwrap_or("list") {
            "list" => {
                let listed = resources::list(&shared.cache, &shared.config).await;
                let entries: Vec<Value> = listed.value["resources"]
                    .as_array()
                    .map(|all| {
                        all.iter()
                            .map(|r| json!({"name": r["name"], "uri": r["uri"]}))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(json!({"resources": entries}))
            }
            _ => {
                let name = arg_str(&args, "name").ok_or_else(|| {
                    ToolError::invalid_arguments(
                        "ide_agents_resource get needs `name` (method list shows the names)",
                    )
                })?;
                let target = Target::parse(name).ok_or_else(|| unknown_resource(name))?;
                match resources::read(&shared.cache, &shared.config, &target).await {
                    Ok(read) => {
                        call.ctx.notes.cache(read.hit);
                        Ok(json!({"name": target.name(), "content": resources::text_of(&read)}))
                    }
                    Err(ResourceError::NotFound(m)) => {
                        Err(ToolError::new(ErrorCode::NotFound, m).with("name", name))
                    }
                    Err(ResourceError::Unreadable(m)) => {
                        Err(ToolError::new(ErrorCode::NotFound, m).with("name", name))
                    }
                }
            }
        }
    }

    /// `ide_agents_prompt`: the same listing and rendering as `prompts/list` and `prompts/get`.
    async fn prompt(shared: Arc<Shared>, args: Map<String, Value>) -> ToolResult {
        match arg_str(&args, "method").unwrap_or("list") {
            "list" => Ok((*prompts::list(&shared.cache).await.value).clone()),
            _ => {
                let name = arg_str(&args, "name").ok_or_else(|| {
                    ToolError::invalid_arguments(
                        "ide_agents_prompt get needs `name` (method list shows the names)",
                    )
                })?;
                let arguments = match args.get("arguments") {
                    Some(Value::Object(a)) => a.clone(),
                    _ => Map::new(),
                };
                match prompts::get(&shared.cache, &shared.config, name, &arguments).await {
                    Ok((mut result, _)) => {
                        let bare = name.strip_prefix('/').unwrap_or(name);
                        result["name"] = bare.into();
                        Ok(result)
                    }
                    Err(PromptError::Unknown(m)) => {
                        Err(ToolError::new(ErrorCode::NotFound, m).with("name", name))
                    }
                    Err(PromptError::BadArguments(m)) => Err(ToolError::invalid_arguments(m)),
                }
            }
        }
    }

    /// Which tool groups run: ML is `not_started` until a worker first needs it. The ML
    /// counters are for all workers together (at most one start per worker).
    fn groups(&self) -> Value {
        let shared = &self.shared;
        let catalog = &shared.catalog;
        let eager = |g| {
            if catalog.has_group(g) {
                "started"
            } else {
                "disabled"
            }
        };
        let ml = match (
            catalog.has_group(GroupId::Ml),
            shared.ml_loaded.load(Ordering::Relaxed),
        ) {
            (false, _) => "disabled",
            (true, true) => "started",
            (true, false) => "not_started",
        };
        json!({
            "core": "started",
            "github": eager(GroupId::Github),
            "ultra": eager(GroupId::Ultra),
            "ml": ml,
            "ml_starts": shared.ml_starts.load(Ordering::Relaxed),
            "ml_start_us": shared.ml_start_ns.load(Ordering::Relaxed) as f64 / 1000.0,
        })
    }

    /// From the background probe's last result: never waits on the backend. `ok` is false
    /// only when the backend is known to be down.
    fn health(&self) -> ToolResult {
        let config = &self.shared.config;
        let backend = self.shared.health.latest();
        Ok(json!({
            "ok": backend.ok != Some(false),
            "version": VERSION,
            "ultra_enabled": config.ultra_enabled,
            "ml_loaded": self.shared.ml_loaded.load(Ordering::Relaxed),
            "groups": self.groups(),
            "backend_url": config.backend_url,
            "backend_ok": backend.ok,
            "backend_latency_ms": backend.latency_ms,
            "backend_error": backend.error,
            "models": backend.models,
        }))
    }
}

fn resource_names(listed: &Value) -> Vec<Value> {
    listed["resources"]
        .as_array()
        .map(|all| all.iter().map(|r| r["name"].clone()).collect())
        .unwrap_or_default()
}

fn unknown_resource(name: &str) -> ToolError {
    ToolError::new(
        ErrorCode::NotFound,
        format!(
            "no resource {name:?}: use repo.graph, build.logs, kb.snippet or kb.snippet/<name> \
             (method list shows them)"
        ),
    )
    .with("name", name)
}

impl ToolGroup for CoreTools {
    fn call(&mut self, call: ToolCall) -> ToolWork {
        if BackendTools::handles(call.tool.name) {
            return self.backend.call(call);
        }
        match call.tool.name {
            "ide_agents_server_instructions" => {
                return boxed(Self::server_instructions(self.shared.clone()));
            }
            "ide_agents_resource" => return boxed(Self::resource(self.shared.clone(), call)),
            "ide_agents_prompt" => return boxed(Self::prompt(self.shared.clone(), call.args)),
            // The liveness check is the call clients make most: its two fields are written
            // as text at once.
            "ide_agents_healthz" => {
                let text = healthz_json(clock::epoch_millis());
                return ToolWork::Done(Ok(ToolOutput::Json(text)));
            }
            _ => {}
        }
        let result = match call.tool.name {
            "ide_agents_reload" => Ok(crate::reload::reload(&self.shared)),
            "ide_agents_health" => self.health(),
            "ide_agents_metrics_snapshot" => super::observe::metrics_snapshot(&self.shared),
            "ide_agents_security_anomalies" => {
                super::observe::security_anomalies(&self.shared, &call.args)
            }
            other => Err(ToolError::new(
                super::ErrorCode::UnknownTool,
                format!("the core group has no tool {other}"),
            )),
        };
        ToolWork::value(result)
    }
}

/// `{"status":"live","time":"<RFC 3339 UTC>"}`, the healthz result.
fn healthz_json(epoch_ms: u64) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(r#"{"status":"live","time":""#);
    clock::write_rfc3339_utc(&mut out, epoch_ms);
    out.push_str(r#""}"#);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_healthz_text_is_what_its_value_serializes_to() {
        let ms = 1_795_542_865_123;
        let value = json!({"status": "live", "time": clock::rfc3339_utc(ms)});
        assert_eq!(healthz_json(ms), serde_json::to_string(&value).unwrap());
    }
}
