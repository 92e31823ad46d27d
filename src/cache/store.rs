//! The cache store and its handle: lookups, single-flight loads, TTLs, the LRU bound, stats.

use super::striped::StripedCounter;
use crate::config::Config;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;
use serde_json::{Value, json};
use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What a cached value is; each kind has its own TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Tool schemas and lists (300 s).
    Schema,
    /// Resources and prompts (`IDE_AGENTS_RESOURCE_TTL_SECS`, 60 s).
    Resource,
    /// Agents backend lookups (60 s).
    Backend,
    /// GitHub API lookups (60 s).
    Github,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Schema => "schema",
            Kind::Resource => "resource",
            Kind::Backend => "backend",
            Kind::Github => "github",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Lookups of a remote service: the ones `IDE_AGENTS_CACHE_ENABLED=false` bypasses.
    fn remote(self) -> bool {
        matches!(self, Kind::Backend | Kind::Github)
    }
}

/// Entries beyond this count are evicted like bytes beyond the byte bound.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// The bounds and TTLs of a cache.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_entries: usize,
    /// TTL per [`Kind`], in declaration order.
    pub ttls: [Duration; 4],
    /// When false, backend and GitHub lookups are not cached (benchmarks).
    pub remote_enabled: bool,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            max_bytes: config.cache_max_bytes,
            max_entries: DEFAULT_MAX_ENTRIES,
            ttls: [
                Duration::from_secs(300),
                config.resource_ttl,
                Duration::from_secs(60),
                Duration::from_secs(60),
            ],
            remote_enabled: config.cache_enabled,
        }
    }
}

/// A value served from (or just stored in) the cache.
#[derive(Debug, Clone)]
pub struct Cached {
    pub value: Arc<Value>,
    /// The real time left before this value expires (zero when it was not stored).
    pub ttl_left: Duration,
    /// True when no load ran for this call.
    pub hit: bool,
}

struct Entry {
    value: Arc<Value>,
    bytes: usize,
    expires: Instant,
    last_used: AtomicU64,
}

/// The slot concurrent misses wait on: `None` until the leading load finishes.
type Flight<E> = watch::Sender<Option<Result<Cached, E>>>;

struct Inner {
    limits: Limits,
    map: DashMap<String, Arc<Entry>, foldhash::fast::RandomState>,
    /// In-flight loads by key; the concrete type is `Flight<E>` for the loader's error type.
    flights: DashMap<String, Arc<dyn Any + Send + Sync>, foldhash::fast::RandomState>,
    bytes: AtomicUsize,
    /// LRU clock: every hit stamps its entry with the next tick.
    tick: AtomicU64,
    /// Bumped by every invalidation, so a load that raced one is not stored.
    generation: AtomicU64,
    /// One evictor at a time (only on the miss path).
    evicting: Mutex<()>,
    /// Added to the real clock; tests move time forward with it.
    skew_ms: AtomicU64,
    hits: StripedCounter,
    misses: AtomicU64,
    coalesced: AtomicU64,
    evictions: AtomicU64,
    expired: AtomicU64,
    invalidations: AtomicU64,
}

/// The cheap, cloneable, thread-safe handle every worker reads through.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

/// Counters for `status` and `ide_agents_metrics_snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub hits: u64,
    /// Lookups that found nothing usable; coalesced waiters are counted here too.
    pub misses: u64,
    /// Misses that waited for another caller's load instead of loading.
    pub coalesced: u64,
    pub evictions: u64,
    pub expired: u64,
    pub invalidations: u64,
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl CacheStats {
    pub fn to_json(&self) -> Value {
        json!({
            "hits": self.hits,
            "misses": self.misses,
            "coalesced": self.coalesced,
            "evictions": self.evictions,
            "expired": self.expired,
            "invalidations": self.invalidations,
            "entries": self.entries,
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "max_entries": self.max_entries,
        })
    }
}

impl Cache {
    pub fn new(limits: Limits) -> Cache {
        Cache {
            inner: Arc::new(Inner {
                limits,
                map: DashMap::default(),
                flights: DashMap::default(),
                bytes: AtomicUsize::new(0),
                tick: AtomicU64::new(0),
                generation: AtomicU64::new(0),
                evicting: Mutex::new(()),
                skew_ms: AtomicU64::new(0),
                hits: StripedCounter::default(),
                misses: AtomicU64::new(0),
                coalesced: AtomicU64::new(0),
                evictions: AtomicU64::new(0),
                expired: AtomicU64::new(0),
                invalidations: AtomicU64::new(0),
            }),
        }
    }

    pub fn from_config(config: &Config) -> Cache {
        Cache::new(Limits::from_config(config))
    }

    /// The TTL values of `kind` live for.
    pub fn ttl(&self, kind: Kind) -> Duration {
        self.inner.limits.ttls[kind.index()]
    }

    /// Whether values of `kind` are cached at all.
    pub fn caches(&self, kind: Kind) -> bool {
        !kind.remote() || self.inner.limits.remote_enabled
    }

    /// The cached value for `key`, loading it with `load` on a miss.
    ///
    /// `load` is a future created on the caller's worker and polled there only (it may hold
    /// `!Send` clients such as awc's); on a hit it is dropped unpolled. Concurrent misses for
    /// the same key, from any thread, wait for that one load and share its result; an error
    /// goes to every waiter of that load but is not stored.
    pub async fn get_or_load<Fut, E>(
        &self,
        key: &str,
        kind: Kind,
        load: Fut,
    ) -> Result<Arc<Value>, E>
    where
        Fut: Future<Output = Result<Value, E>>,
        E: Clone + Send + Sync + 'static,
    {
        self.fetch(key, kind, load).await.map(|c| c.value)
    }

    /// As [`Cache::get_or_load`], with whether it was a hit and the real TTL left (for
    /// spans' `cache: "hit"|"miss"` and the stateless era's `ttlMs`).
    pub async fn fetch<Fut, E>(&self, key: &str, kind: Kind, load: Fut) -> Result<Cached, E>
    where
        Fut: Future<Output = Result<Value, E>>,
        E: Clone + Send + Sync + 'static,
    {
        self.fetch_valid(key, kind, |_| true, load).await
    }

    /// As [`Cache::fetch`], but a stored value for which `valid` is false (its file changed,
    /// say) is dropped and loaded again.
    pub async fn fetch_valid<V, Fut, E>(
        &self,
        key: &str,
        kind: Kind,
        valid: V,
        load: Fut,
    ) -> Result<Cached, E>
    where
        V: Fn(&Value) -> bool,
        Fut: Future<Output = Result<Value, E>>,
        E: Clone + Send + Sync + 'static,
    {
        if !self.caches(kind) {
            return load.await.map(|value| Cached {
                value: Arc::new(value),
                ttl_left: Duration::ZERO,
                hit: false,
            });
        }
        let inner = &*self.inner;
        let full = full_key(kind, key);
        let mut counted = false;
        let leader = loop {
            if let Some(hit) = self.lookup(&full, &valid) {
                // A caller already counted as a miss (its leader was cancelled) stays one.
                if !counted {
                    inner.hits.add(1);
                }
                return Ok(hit);
            }
            if !counted {
                inner.misses.fetch_add(1, Ordering::Relaxed);
            }
            let existing = match inner.flights.entry(full.clone()) {
                MapEntry::Occupied(o) => o.get().clone(),
                MapEntry::Vacant(v) => {
                    let flight: Arc<Flight<E>> = Arc::new(watch::Sender::new(None));
                    v.insert(flight.clone());
                    break flight;
                }
            };
            let Ok(flight) = existing.downcast::<Flight<E>>() else {
                // The same key loaded with another error type: a caller's mistake; load alone.
                let generation = inner.generation.load(Ordering::Acquire);
                let value = load.await?;
                return Ok(self.store(full, kind, value, generation));
            };
            if !counted {
                inner.coalesced.fetch_add(1, Ordering::Relaxed);
            }
            counted = true;
            let mut rx = flight.subscribe();
            drop(flight);
            match rx.wait_for(Option::is_some).await {
                Ok(done) => {
                    if let Some(result) = done.clone() {
                        return result.map(|c| Cached { hit: false, ..c });
                    }
                }
                // The leader was cancelled before finishing: look again, maybe lead.
                Err(_) => continue,
            }
        };
        let guard = FlightGuard {
            inner,
            key: &full,
            flight: &leader,
        };
        let generation = inner.generation.load(Ordering::Acquire);
        let outcome = match load.await {
            Ok(value) => Ok(self.store(full.clone(), kind, value, generation)),
            Err(e) => Err(e),
        };
        leader.send_replace(Some(outcome.clone()));
        drop(guard);
        outcome
    }

    /// The stored value for `key`, without loading or counting.
    pub fn peek(&self, kind: Kind, key: &str) -> Option<Cached> {
        let now = self.now();
        let entry = self.inner.map.get(&full_key(kind, key))?;
        (entry.expires > now).then(|| Cached {
            value: entry.value.clone(),
            ttl_left: entry.expires - now,
            hit: true,
        })
    }

    /// Drops one stored value (its source changed).
    pub fn invalidate(&self, kind: Kind, key: &str) -> bool {
        let inner = &*self.inner;
        inner.generation.fetch_add(1, Ordering::AcqRel);
        let removed = inner.map.remove(&full_key(kind, key));
        if let Some((_, e)) = &removed {
            inner.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
            inner.invalidations.fetch_add(1, Ordering::Relaxed);
        }
        removed.is_some()
    }

    /// Drops every stored value of `kind` whose key starts with `prefix`.
    pub fn invalidate_prefix(&self, kind: Kind, prefix: &str) {
        let inner = &*self.inner;
        inner.generation.fetch_add(1, Ordering::AcqRel);
        let prefix = full_key(kind, prefix);
        inner.map.retain(|k, e| {
            let keep = !k.starts_with(&prefix);
            if !keep {
                inner.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
                inner.invalidations.fetch_add(1, Ordering::Relaxed);
            }
            keep
        });
    }

    /// Drops everything (reload).
    pub fn clear(&self) {
        let inner = &*self.inner;
        inner.generation.fetch_add(1, Ordering::AcqRel);
        inner.map.retain(|_, e| {
            inner.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
            inner.invalidations.fetch_add(1, Ordering::Relaxed);
            false
        });
    }

    /// Drops expired entries; the cache actor calls this periodically so memory held by
    /// values nobody asks for again is given back.
    pub fn purge_expired(&self) -> usize {
        let inner = &*self.inner;
        let now = self.now();
        let mut purged = 0;
        inner.map.retain(|_, e| {
            let keep = e.expires > now;
            if !keep {
                inner.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
                purged += 1;
            }
            keep
        });
        inner.expired.fetch_add(purged as u64, Ordering::Relaxed);
        purged
    }

    pub fn stats(&self) -> CacheStats {
        let inner = &*self.inner;
        CacheStats {
            hits: inner.hits.get(),
            misses: inner.misses.load(Ordering::Relaxed),
            coalesced: inner.coalesced.load(Ordering::Relaxed),
            evictions: inner.evictions.load(Ordering::Relaxed),
            expired: inner.expired.load(Ordering::Relaxed),
            invalidations: inner.invalidations.load(Ordering::Relaxed),
            entries: inner.map.len() as u64,
            bytes: inner.bytes.load(Ordering::Relaxed) as u64,
            max_bytes: inner.limits.max_bytes as u64,
            max_entries: inner.limits.max_entries as u64,
        }
    }

    /// Moves this cache's clock forward (tests of expiry).
    #[doc(hidden)]
    pub fn advance_clock(&self, by: Duration) {
        self.inner
            .skew_ms
            .fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }

    fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.inner.skew_ms.load(Ordering::Relaxed))
    }

    /// The hit path: one map read and an atomic stamp, no waiting on other threads.
    fn lookup(&self, key: &str, valid: &impl Fn(&Value) -> bool) -> Option<Cached> {
        let inner = &*self.inner;
        let now = self.now();
        // Clone the entry out so the validity check (maybe a `stat`) runs without the shard lock.
        let entry = inner.map.get(key).map(|e| e.value().clone())?;
        let stale = entry.expires <= now;
        if !stale && valid(&entry.value) {
            // An entry that already holds the newest stamp stays the most recent without
            // one: a hot key read by every worker is then only read, never written.
            if entry.last_used.load(Ordering::Relaxed) + 1 != inner.tick.load(Ordering::Relaxed) {
                let tick = inner.tick.fetch_add(1, Ordering::Relaxed);
                entry.last_used.store(tick, Ordering::Relaxed);
            }
            return Some(Cached {
                value: entry.value.clone(),
                ttl_left: entry.expires - now,
                hit: true,
            });
        }
        // Remove only the entry we judged, not one a concurrent load just stored.
        let removed = inner.map.remove_if(key, |_, e| Arc::ptr_eq(e, &entry));
        if removed.is_some() {
            inner.bytes.fetch_sub(entry.bytes, Ordering::Relaxed);
            let counter = if stale {
                &inner.expired
            } else {
                &inner.invalidations
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        None
    }

    fn store(&self, key: String, kind: Kind, value: Value, generation: u64) -> Cached {
        let inner = &*self.inner;
        let ttl = self.ttl(kind);
        let bytes = json_size(&value) + key.len() + ENTRY_OVERHEAD;
        let value = Arc::new(value);
        let cached = Cached {
            value: value.clone(),
            ttl_left: ttl,
            hit: false,
        };
        // Too big to ever fit, or invalidated while it loaded: serve it, do not keep it.
        if bytes > inner.limits.max_bytes
            || ttl.is_zero()
            || inner.generation.load(Ordering::Acquire) != generation
        {
            return Cached {
                ttl_left: Duration::ZERO,
                ..cached
            };
        }
        let entry = Arc::new(Entry {
            value,
            bytes,
            expires: self.now() + ttl,
            last_used: AtomicU64::new(inner.tick.fetch_add(1, Ordering::Relaxed)),
        });
        inner.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(old) = inner.map.insert(key, entry) {
            inner.bytes.fetch_sub(old.bytes, Ordering::Relaxed);
        }
        self.evict_to_bounds();
        cached
    }

    fn over_bounds(&self) -> bool {
        let inner = &*self.inner;
        inner.bytes.load(Ordering::Relaxed) > inner.limits.max_bytes
            || inner.map.len() > inner.limits.max_entries
    }

    /// Evicts least recently used entries until both bounds hold.
    fn evict_to_bounds(&self) {
        if !self.over_bounds() {
            return;
        }
        let inner = &*self.inner;
        let _one_evictor = inner.evicting.lock().unwrap_or_else(|p| p.into_inner());
        if !self.over_bounds() {
            return;
        }
        let mut by_age: Vec<(u64, String)> = inner
            .map
            .iter()
            .map(|e| (e.last_used.load(Ordering::Relaxed), e.key().clone()))
            .collect();
        by_age.sort_unstable();
        for (_, key) in by_age {
            if !self.over_bounds() {
                break;
            }
            if let Some((_, e)) = inner.map.remove(&key) {
                inner.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
                inner.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Bytes charged per entry beyond its key and value: the map slot, the Arc, the stamps.
const ENTRY_OVERHEAD: usize = 96;

fn full_key(kind: Kind, key: &str) -> String {
    let mut full = String::with_capacity(kind.as_str().len() + 1 + key.len());
    full.push_str(kind.as_str());
    full.push(':');
    full.push_str(key);
    full
}

/// The serialized size of a value, counted without allocating it.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Removes a flight from the map when its leader finishes or is dropped mid-load (then the
/// waiters see the channel close and look again).
struct FlightGuard<'a, E> {
    inner: &'a Inner,
    key: &'a str,
    flight: &'a Arc<Flight<E>>,
}

impl<E> Drop for FlightGuard<'_, E> {
    fn drop(&mut self) {
        let ours = Arc::as_ptr(self.flight) as *const ();
        self.inner
            .flights
            .remove_if(self.key, |_, f| Arc::as_ptr(f) as *const () == ours);
    }
}
