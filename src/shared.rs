//! State every worker reads: configuration, the tool catalog, and counters.
//! Only atomics and immutable data live here, so reading it never waits on another thread.

use crate::actors::cache::CacheActor;
use crate::actors::control::Control;
use crate::approvals::Approvals;
use crate::backend::breaker::Breaker;
use crate::backend::health::HealthBoard;
use crate::backend::stats::PoolStats;
use crate::cache::Cache;
use crate::config::Config;
use crate::telemetry::Telemetry;
use crate::tools::{Catalog, GroupId};
use dashmap::DashMap;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

pub struct Shared {
    pub config: Config,
    pub catalog: Catalog,
    pub started: Instant,
    pub started_epoch_ms: u64,
    /// Set once the first worker has started its ML group.
    pub ml_loaded: AtomicBool,
    /// ML group starts, all workers together: at most one per worker (`actors::groups`).
    pub ml_starts: AtomicU64,
    /// What the latest ML group start cost, in nanoseconds.
    pub ml_start_ns: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    /// One circuit breaker per backend base URL, shared by every worker.
    pub breakers: DashMap<String, Arc<Breaker>>,
    pub health: HealthBoard,
    pub approvals: Approvals,
    /// How a worker reaches the root supervisor (stop, reload); set once it runs.
    pub control: OnceLock<Control>,
    /// The one cache every worker reads through (schemas, resources, prompts, lookups).
    pub cache: Cache,
    /// The actor that expires entries and watches subscribed resources; set once at start.
    pub cache_actor: OnceLock<actix::Addr<CacheActor>>,
    /// Span/audit channel, counters, metrics registry, anomaly counts.
    pub telemetry: Telemetry,
    /// Counters of every worker's backend pool.
    pub pool_stats: PoolStats,
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        let ultra = config.ultra_enabled;
        let auto_approve = config.auto_approve.clone();
        let catalog = Catalog::new(
            |g| match g {
                GroupId::Core | GroupId::Github => true,
                GroupId::Ultra | GroupId::Ml => ultra,
            },
            config.page_size,
        );
        let cache = Cache::from_config(&config);
        let telemetry = Telemetry::new(&config);
        Shared {
            cache,
            cache_actor: OnceLock::new(),
            config,
            catalog,
            started: Instant::now(),
            started_epoch_ms: crate::clock::epoch_millis(),
            ml_loaded: AtomicBool::new(false),
            ml_starts: AtomicU64::new(0),
            ml_start_ns: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            breakers: DashMap::new(),
            health: HealthBoard::default(),
            approvals: Approvals::new(auto_approve),
            control: OnceLock::new(),
            telemetry,
            pool_stats: PoolStats::default(),
        }
    }

    /// The breaker of a backend base URL (created on first use, then shared).
    pub fn breaker_for(&self, base_url: &str) -> Arc<Breaker> {
        let c = &self.config;
        self.breakers
            .entry(base_url.to_string())
            .or_insert_with(|| {
                Arc::new(Breaker::new(
                    c.breaker_fail_threshold,
                    c.breaker_reset_timeout,
                    c.breaker_half_open_max_calls,
                ))
            })
            .clone()
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
