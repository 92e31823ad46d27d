//! State every worker reads: configuration, the tool catalog, and counters.
//! Only atomics and immutable data live here, so reading it never waits on another thread.

use crate::config::Config;
use crate::status::StatusSections;
use crate::telemetry::Telemetry;
use crate::tools::{Catalog, GroupId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

pub struct Shared {
    pub config: Config,
    pub catalog: Catalog,
    pub started: Instant,
    pub started_epoch_ms: u64,
    /// Set once the first worker has started its ML group.
    pub ml_loaded: AtomicBool,
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    /// Span/audit channel, counters, metrics registry, anomaly counts.
    pub telemetry: Telemetry,
    /// Status and metrics sections other components fill (cache, pool, breaker, …).
    pub sections: StatusSections,
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        let ultra = config.ultra_enabled;
        let catalog = Catalog::new(
            |g| match g {
                GroupId::Core | GroupId::Github => true,
                GroupId::Ultra | GroupId::Ml => ultra,
            },
            config.page_size,
        );
        Shared {
            catalog,
            started: Instant::now(),
            started_epoch_ms: crate::clock::epoch_millis(),
            ml_loaded: AtomicBool::new(false),
            connections_open: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            telemetry: Telemetry::new(&config),
            sections: StatusSections::default(),
            config,
        }
    }

    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}
