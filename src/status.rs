//! The daemon's status report (`ide-agents/status`, read by `ide-agentsd status`) and the
//! component sections it shares with `ide_agents_metrics_snapshot`. Every read is of
//! atomics or briefly held locks: status never waits on a worker.

use crate::protocol::version::{LEGACY_VERSIONS, MODERN_VERSION};
use crate::shared::Shared;
use crate::telemetry::log_file::dir_writable;
use crate::telemetry::stats::WRITER_STUCK_AFTER_MS;
use serde_json::{Value, json};
use std::sync::atomic::Ordering::Relaxed;

/// Cache stats: hits, misses, coalesced, evictions, entries, bytes (SPEC §7).
pub fn cache(shared: &Shared) -> Value {
    shared.cache.stats().to_json()
}

/// Backend pool counters, summed over workers (SPEC §6).
pub fn pool(shared: &Shared) -> Value {
    let c = &shared.config;
    shared
        .pool_stats
        .to_json(c.pool_max_connections, c.pool_max_idle)
}

/// The circuit breaker of the backend, with those of the ULTRA URL (when it has its own)
/// and of the GitHub API nested under `ultra` and `github`.
pub fn breaker(shared: &Shared) -> Value {
    let now = std::time::Instant::now();
    let c = &shared.config;
    let mut main = shared.breaker_for(&c.backend_url).snapshot(now);
    let others = [
        ("ultra", c.ultra_url.as_ref()),
        ("github", Some(&c.github_api_url)),
    ];
    for (name, url) in others {
        if let Some(url) = url.filter(|u| **u != c.backend_url) {
            main[name] = shared.breaker_for(url).snapshot(now);
        }
    }
    main
}

/// The background health probe's last result: `ok` false makes status degraded.
pub fn backend(shared: &Shared) -> Value {
    let h = shared.health.latest();
    json!({
        "url": shared.config.backend_url,
        "ok": h.ok,
        "latency_ms": h.latency_ms,
        "error": h.error,
        "checked_at_ms": h.checked_at_ms,
    })
}

/// Commands waiting for approval (SPEC §9), with their count first.
pub fn approvals(shared: &Shared) -> Value {
    let listed = shared.approvals.list(std::time::Instant::now());
    json!({
        "count": listed["pending"].as_array().map_or(0, Vec::len),
        "pending": listed["pending"],
        "grants": listed["grants"],
    })
}

/// Why the daemon is degraded (empty: it is not). Degraded means it serves, but something
/// an operator should fix is wrong now: a telemetry file cannot be written (its last write
/// failed, or its directory does not take writes), or the backend is known down. Past drops alone stay visible in the counters
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
    // Known before the first batch fails, as `ide_agents_readyz` knows it.
    let dir = &shared.config.logs_dir;
    if !stats.spans_failing.load(Relaxed) && !dir_writable(dir) {
        reasons.push(format!(
            "{} is not writable: telemetry is dropped from the next rotation or reopen of its files (check MCP_TOOL_SPANS_DIR)",
            dir.display()
        ));
    }
    if stats.audit_failing.load(Relaxed) {
        reasons.push(format!(
            "{} is not writable: {} audit event(s) dropped so far",
            shared.telemetry.audit_file.display(),
            stats.audit_dropped.load(Relaxed)
        ));
    }
    let busy_since = stats.writer_busy_since_ms.load(Relaxed);
    let busy_for = crate::clock::epoch_millis().saturating_sub(busy_since);
    if busy_since > 0 && busy_for >= WRITER_STUCK_AFTER_MS {
        reasons.push(format!(
            "the telemetry writer has been in one write to {} for {} s, {} span(s) waiting: \
             its filesystem may have stopped taking writes",
            dir.display(),
            busy_for / 1000,
            stats.spans_queued.load(Relaxed)
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
    let backend = backend(shared);
    let reasons = degraded_reasons(shared, &backend);
    let mut telemetry = shared.telemetry.stats.to_json();
    telemetry["writable"] =
        (shared.telemetry.stats.writable() && dir_writable(&config.logs_dir)).into();
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
        "cache": cache(shared),
        "pool": pool(shared),
        "breaker": breaker(shared),
        "backend": backend,
        "telemetry": telemetry,
        "tool_groups": {
            "core": true,
            "github": true,
            "ultra": config.ultra_enabled,
            "ml": {
                "enabled": config.ultra_enabled,
                "loaded": shared.ml_loaded.load(Relaxed),
                "starts": shared.ml_starts.load(Relaxed),
            },
        },
        "pending_approvals": approvals(shared),
        "degraded": !reasons.is_empty(),
        "degraded_reasons": reasons,
    })
}
