//! The daemon's status report (`ide-agents/status`, read by `ide-agentsd status`) and the
//! extension point through which other components add their sections to it and to
//! `ide_agents_metrics_snapshot`.

use crate::protocol::version::{LEGACY_VERSIONS, MODERN_VERSION};
use crate::shared::Shared;
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::sync::atomic::Ordering::Relaxed;

/// Reads one component's current state as JSON. Called from any thread, so it reads what
/// the component shares (atomics, locks held briefly), never waits on a worker.
pub type Section = Box<dyn Fn() -> Value + Send + Sync>;

/// Sections owned by other components, each set once at start-up by the component that owns
/// it (`shared.sections.cache.set(Box::new(move || …))`). Until then a section reads
/// `{"available": false}`.
#[derive(Default)]
pub struct StatusSections {
    /// Cache stats: hits, misses, coalesced, evictions, entries, bytes (SPEC §7).
    pub cache: OnceLock<Section>,
    /// Backend pool stats summed over workers: open, idle, in_flight (SPEC §6).
    pub pool: OnceLock<Section>,
    /// Circuit breaker: state, consecutive_failures, … (SPEC §6).
    pub breaker: OnceLock<Section>,
    /// The background health probe: ok, latency_ms, error. `ok: false` makes status degraded.
    pub backend: OnceLock<Section>,
    /// Pending approvals: count and the pending list (SPEC §9).
    pub approvals: OnceLock<Section>,
}

fn read(section: &OnceLock<Section>) -> Value {
    section
        .get()
        .map_or_else(|| json!({"available": false}), |f| f())
}

impl StatusSections {
    pub fn cache(&self) -> Value {
        read(&self.cache)
    }
    pub fn pool(&self) -> Value {
        read(&self.pool)
    }
    pub fn breaker(&self) -> Value {
        read(&self.breaker)
    }
    pub fn backend(&self) -> Value {
        read(&self.backend)
    }
    pub fn approvals(&self) -> Value {
        read(&self.approvals)
    }
}

/// Why the daemon is degraded (empty: it is not). Degraded means it serves, but something
/// an operator should fix is wrong now: a telemetry file cannot be written (its last write
/// failed), or the backend is known down. Past drops alone stay visible in the counters
/// without keeping the daemon degraded once writing works again.
pub fn degraded_reasons(shared: &Shared, backend: &Value) -> Vec<String> {
    let mut reasons = Vec::new();
    let stats = &shared.telemetry.stats;
    if stats.spans_failing.load(Relaxed) {
        reasons.push(format!(
            "{} is not writable: {} span(s) dropped so far (check MCP_TOOL_SPANS_DIR)",
            shared.telemetry.spans_file.display(),
            stats.spans_dropped.load(Relaxed)
        ));
    }
    if stats.audit_failing.load(Relaxed) {
        reasons.push(format!(
            "{} is not writable: {} audit event(s) dropped so far",
            shared.telemetry.audit_file.display(),
            stats.audit_dropped.load(Relaxed)
        ));
    }
    if backend.get("ok") == Some(&Value::Bool(false)) {
        reasons.push(format!(
            "the backend at {} is down",
            shared.config.backend_url
        ));
    }
    reasons
}

/// The whole status report (SPEC §11).
pub fn report(shared: &Shared) -> Value {
    let metrics = shared.telemetry.metrics.snapshot();
    let config = &shared.config;
    let backend = shared.sections.backend();
    let reasons = degraded_reasons(shared, &backend);
    let mut telemetry = shared.telemetry.stats.to_json();
    telemetry["enabled"] = shared.telemetry.spans_enabled.into();
    telemetry["file"] = shared.telemetry.spans_file.display().to_string().into();
    telemetry["audit_file"] = shared.telemetry.audit_file.display().to_string().into();
    json!({
        "version": crate::tools::core::VERSION,
        "pid": std::process::id(),
        "uptime_seconds": shared.uptime_seconds(),
        "socket": config.socket.display().to_string(),
        "protocol_versions": {"legacy": LEGACY_VERSIONS, "modern": [MODERN_VERSION]},
        "workers": config.workers,
        "connections": {
            "open": shared.connections_open.load(Relaxed),
            "total": shared.connections_total.load(Relaxed),
        },
        "requests": metrics.per_method_json(),
        "tool_calls": {
            "total": metrics.tool_calls_total,
            "success": metrics.tool_calls_success,
            "failure": metrics.tool_calls_failure,
        },
        "tools": metrics.per_tool_json(),
        "cache": shared.sections.cache(),
        "pool": shared.sections.pool(),
        "breaker": shared.sections.breaker(),
        "backend": backend,
        "telemetry": telemetry,
        "tool_groups": {
            "core": true,
            "github": true,
            "ultra": config.ultra_enabled,
            "ml": {"enabled": config.ultra_enabled, "loaded": shared.ml_loaded.load(Relaxed)},
        },
        "pending_approvals": shared.sections.approvals(),
        "degraded": !reasons.is_empty(),
        "degraded_reasons": reasons,
    })
}
