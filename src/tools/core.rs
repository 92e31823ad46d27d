//! The core group: tools that describe and check the daemon itself.

use super::spec::{Annotations, GroupId, ToolSpec, no_arguments};
use super::{ToolCall, ToolError, ToolFuture, ToolGroup, ToolResult};
use crate::clock;
use crate::shared::Shared;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use crate::protocol::lifecycle::SERVER_VERSION as VERSION;

/// What the server offers, in a few sentences for the agent reading `instructions`.
pub const SUMMARY: &str = "ide-agentsd is the local MCP server for this user's IDE agents. \
It offers tools to check the daemon (ide_agents_health, ide_agents_healthz), to run approved \
commands and read documentation through the agents backend, to rank GitHub repositories and \
issues, and (when ULTRA is enabled) ML scoring tools. Commands that change things need the \
user's approval: `ide-agentsd approve <action_id>`.";

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
    ];
    specs.extend(super::observe::specs());
    specs
}

pub struct CoreTools {
    shared: Arc<Shared>,
}

impl CoreTools {
    pub fn new(shared: Arc<Shared>) -> Self {
        CoreTools { shared }
    }

    fn server_instructions(&self) -> ToolResult {
        let tools: Vec<&str> = self.shared.catalog.tools().iter().map(|t| t.name).collect();
        Ok(json!({
            "version": VERSION,
            "summary": SUMMARY,
            "tools": tools,
            "resources": [],
            "prompts": [],
        }))
    }

    fn health(&self) -> ToolResult {
        let config = &self.shared.config;
        Ok(json!({
            "ok": true,
            "version": VERSION,
            "ultra_enabled": config.ultra_enabled,
            "ml_loaded": self.shared.ml_loaded.load(Ordering::Relaxed),
            "backend_url": config.backend_url,
            "backend_ok": null,
            "backend_latency_ms": null,
            "models": {},
        }))
    }
}

impl ToolGroup for CoreTools {
    fn call(&mut self, call: ToolCall) -> ToolFuture {
        let result = match call.tool.name {
            "ide_agents_server_instructions" => self.server_instructions(),
            "ide_agents_healthz" => Ok(json!({
                "status": "live",
                "time": clock::rfc3339_utc(clock::epoch_millis()),
            })),
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
        Box::pin(std::future::ready(result))
    }
}
