//! Core tools that report on the daemon's own traffic: `ide_agents_metrics_snapshot` and
//! `ide_agents_security_anomalies`. Both read daemon-wide state (every worker's metrics,
//! the shared anomaly counts), so they answer the same whichever worker runs them.

use super::spec::{Annotations, GroupId, ToolSpec, no_arguments, object_schema};
use super::{ToolError, ToolResult};
use crate::shared::Shared;
use crate::telemetry::anomalies::Thresholds;
use serde_json::{Map, Value, json};

pub fn specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "ide_agents_metrics_snapshot",
            group: GroupId::Core,
            description: "Tool call counters and latencies (p50/p99 per tool) across the whole daemon, with breaker, cache and pool state.",
            input_schema: no_arguments(),
            annotations: Annotations::LOCAL_READ,
        },
        ToolSpec {
            name: "ide_agents_security_anomalies",
            group: GroupId::Core,
            description: "Security audit events in the last window_seconds (default 3600) by type, and the types over their anomaly threshold.",
            input_schema: object_schema(
                json!({"window_seconds": {"type": "number", "exclusiveMinimum": 0,
                    "description": "how far back to count, in seconds (default 3600)"}}),
                &[],
            ),
            annotations: Annotations::LOCAL_READ,
        },
    ]
}

pub fn metrics_snapshot(shared: &Shared) -> ToolResult {
    let m = shared.telemetry.metrics.snapshot();
    Ok(json!({
        "tool_calls_total": m.tool_calls_total,
        "tool_calls_success": m.tool_calls_success,
        "tool_calls_failure": m.tool_calls_failure,
        "per_tool": m.per_tool_json(),
        "success_rate": m.success_rate(),
        "uptime_seconds": shared.uptime_seconds(),
        "breaker": crate::status::breaker(shared),
        "cache": crate::status::cache(shared),
        "pool": crate::status::pool(shared),
    }))
}

pub fn security_anomalies(shared: &Shared, args: &Map<String, Value>) -> ToolResult {
    let window = match args.get("window_seconds") {
        None | Some(Value::Null) => 3600.0,
        Some(v) => match v.as_f64() {
            Some(w) if w.is_finite() && w > 0.0 => w,
            _ => {
                return Err(ToolError::invalid_arguments(
                    "window_seconds must be a positive number",
                ));
            }
        },
    };
    let config = &shared.config;
    let thresholds = Thresholds {
        rate_limited: config.anomaly_rate_limited,
        approval_requested: config.anomaly_approval_requested,
        tool_failure: config.anomaly_tool_failure,
    };
    let now = crate::clock::epoch_millis();
    Ok(shared.telemetry.anomalies.report(now, window, &thresholds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::validate;

    #[test]
    fn the_advertised_schema_refuses_a_window_that_is_not_positive() {
        let spec = specs()
            .into_iter()
            .find(|s| s.name == "ide_agents_security_anomalies")
            .unwrap();
        let args = |w: Value| json!({"window_seconds": w}).as_object().unwrap().clone();
        assert!(validate(&spec.input_schema, &args(json!(0))).is_err());
        assert!(validate(&spec.input_schema, &args(json!(-5))).is_err());
        assert_eq!(validate(&spec.input_schema, &args(json!(0.5))), Ok(()));
    }
}
