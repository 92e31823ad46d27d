//! What a reload does (SIGHUP, `ide-agentsd reload`, the `ide_agents_reload` tool): drop
//! every cached value, so resources and prompts are read again from their files on next
//! use, and report the anomaly thresholds in force.

use crate::shared::Shared;
use serde_json::{Value, json};

/// Clears the caches and re-reads what can be re-read; the `ide_agents_reload` result.
pub fn reload(shared: &Shared) -> Value {
    shared.cache.clear();
    json!({"reloaded": true, "thresholds": thresholds(shared)})
}

/// The anomaly thresholds (SPEC §3.1 `ide_agents_security_anomalies`). They come from the
/// environment and flags, which a running process cannot read anew, so a reload reports
/// the values in force; changing them takes a restart.
pub fn thresholds(shared: &Shared) -> Value {
    let c = &shared.config;
    json!({
        "rate_limited": c.anomaly_rate_limited,
        "approval_requested": c.anomaly_approval_requested,
        "tool_failure": c.anomaly_tool_failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::router::{Reload, Router};
    use crate::cache::Kind;
    use crate::config::{Config, Sources};
    use actix::Actor;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn shared() -> Arc<Shared> {
        let flags = HashMap::new();
        let env = |_: &str| None;
        let config = Config::load(
            &Sources {
                flags: &flags,
                env: &env,
            },
            std::path::Path::new("/tmp"),
        )
        .expect("default config");
        Arc::new(Shared::new(config))
    }

    async fn fill(shared: &Shared) {
        let loaded = shared
            .cache
            .get_or_load("x", Kind::Resource, async { Ok::<_, String>(json!("v")) })
            .await;
        assert!(loaded.is_ok());
        assert_eq!(shared.cache.stats().entries, 1);
    }

    #[test]
    fn the_tool_and_the_router_message_both_clear_the_cache() {
        let system = actix::System::new();
        system.block_on(async {
            let shared = shared();
            fill(&shared).await;
            let r = reload(&shared);
            assert_eq!(r["reloaded"], true);
            assert_eq!(r["thresholds"]["tool_failure"], 15);
            assert_eq!(shared.cache.stats().entries, 0);

            // SIGHUP and `ide-agentsd reload` reach every worker's router as `Reload`.
            fill(&shared).await;
            let metrics = shared.telemetry.metrics.register();
            let router = Router::new(shared.clone(), 0, metrics).start();
            router.send(Reload).await.expect("router alive");
            assert_eq!(shared.cache.stats().entries, 0);
        });
    }
}
