//! The cache's contract: TTLs, the LRU bound, single flight across threads, errors not stored.

use super::*;
use futures_util::FutureExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn limits(max_bytes: usize, max_entries: usize) -> Limits {
    Limits {
        max_bytes,
        max_entries,
        ttls: [
            Duration::from_secs(300),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60),
        ],
        remote_enabled: true,
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Loads `value` through `cache`, counting loads in `loads`.
async fn load(cache: &Cache, kind: Kind, key: &str, value: Value, loads: &AtomicUsize) -> Cached {
    cache
        .fetch(key, kind, async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(value)
        })
        .await
        .expect("load")
}

#[test]
fn a_second_read_is_a_hit_until_the_ttl_runs_out() {
    let cache = Cache::new(limits(1 << 20, 100));
    let loads = AtomicUsize::new(0);
    block_on(async {
        let first = load(&cache, Kind::Resource, "a", json!("one"), &loads).await;
        assert!(!first.hit);
        let second = load(&cache, Kind::Resource, "a", json!("two"), &loads).await;
        assert!(second.hit);
        assert_eq!(*second.value, json!("one"));
        assert!(second.ttl_left <= Duration::from_secs(60) && second.ttl_left > Duration::ZERO);
        assert_eq!(loads.load(Ordering::SeqCst), 1);

        // Schemas live longer than resources.
        load(&cache, Kind::Schema, "a", json!("schema"), &loads).await;
        cache.advance_clock(Duration::from_secs(61));
        let expired = load(&cache, Kind::Resource, "a", json!("three"), &loads).await;
        assert!(!expired.hit);
        assert_eq!(*expired.value, json!("three"));
        let schema = load(&cache, Kind::Schema, "a", json!("other"), &loads).await;
        assert!(schema.hit);
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    });
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.expired), (2, 3, 1), "{s:?}");
}

#[test]
fn reads_of_the_newest_entry_keep_the_order_exact() {
    let big = "x".repeat(1000);
    let cache = Cache::new(limits(3 * 1200, 100));
    let loads = AtomicUsize::new(0);
    let present = |keys: &[&str]| keys.iter().all(|k| cache.peek(Kind::Backend, k).is_some());
    block_on(async {
        for key in ["a", "b", "c", "c", "c", "b", "d"] {
            load(&cache, Kind::Backend, key, json!(big), &loads).await;
        }
        // Use order a, c, b, d: `a` goes for `d`.
        assert!(cache.peek(Kind::Backend, "a").is_none());
        assert!(present(&["b", "c", "d"]));
        for key in ["d", "d", "c", "e"] {
            load(&cache, Kind::Backend, key, json!(big), &loads).await;
        }
        // Use order b, d, c, e: `b` goes for `e`.
        assert!(cache.peek(Kind::Backend, "b").is_none());
        assert!(present(&["c", "d", "e"]));
    });
}

#[test]
fn the_least_recently_used_entry_goes_first_at_the_byte_bound() {
    let big = "x".repeat(1000);
    // Room for three values of ~1 KiB (plus key and overhead), not four.
    let cache = Cache::new(limits(3 * 1200, 100));
    let loads = AtomicUsize::new(0);
    block_on(async {
        for key in ["a", "b", "c"] {
            load(&cache, Kind::Backend, key, json!(big), &loads).await;
        }
        assert_eq!(cache.stats().entries, 3);
        // Touch `a`, so `b` is now the least recently used.
        assert!(
            load(&cache, Kind::Backend, "a", json!(big), &loads)
                .await
                .hit
        );
        load(&cache, Kind::Backend, "d", json!(big), &loads).await;
        let s = cache.stats();
        assert_eq!((s.entries, s.evictions), (3, 1), "{s:?}");
        assert!(s.bytes <= s.max_bytes, "{s:?}");
        assert!(cache.peek(Kind::Backend, "b").is_none());
        for key in ["a", "c", "d"] {
            assert!(cache.peek(Kind::Backend, key).is_some(), "{key}");
        }
        // A value larger than the whole cache is served but not kept.
        let huge = load(
            &cache,
            Kind::Backend,
            "huge",
            json!("y".repeat(5000)),
            &loads,
        )
        .await;
        assert_eq!(huge.value.as_str().map(str::len), Some(5000));
        assert!(cache.peek(Kind::Backend, "huge").is_none());
    });
}

#[test]
fn the_entry_bound_holds_too() {
    let cache = Cache::new(limits(1 << 20, 2));
    let loads = AtomicUsize::new(0);
    block_on(async {
        for key in ["a", "b", "c"] {
            load(&cache, Kind::Github, key, json!(1), &loads).await;
        }
    });
    assert_eq!(cache.stats().entries, 2);
    assert!(cache.peek(Kind::Github, "a").is_none());
}

#[test]
fn errors_reach_the_caller_and_are_not_stored() {
    let cache = Cache::new(limits(1 << 20, 100));
    let loads = AtomicUsize::new(0);
    block_on(async {
        for _ in 0..2 {
            let r = cache
                .fetch("k", Kind::Backend, async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Err::<Value, _>("backend down".to_string())
                })
                .await;
            assert_eq!(r.unwrap_err(), "backend down");
        }
    });
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn fifty_concurrent_misses_on_four_threads_make_one_load() {
    let cache = Cache::new(limits(1 << 20, 100));
    let loads = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (cache, loads, released) = (cache.clone(), loads.clone(), released.clone());
            std::thread::spawn(move || {
                let callers = if t < 2 { 13 } else { 12 };
                block_on(futures_util::future::join_all((0..callers).map(|_| {
                    let (cache, loads, mut released) =
                        (cache.clone(), loads.clone(), released.clone());
                    async move {
                        cache
                            .fetch("shared", Kind::Backend, async move {
                                loads.fetch_add(1, Ordering::SeqCst);
                                // Hold the load open until every caller is waiting on it.
                                let _ = released.wait_for(|r| *r).await;
                                Ok::<_, String>(json!({"answer": 42}))
                            })
                            .await
                    }
                })))
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    while cache.stats().coalesced < 49 {
        assert!(
            Instant::now() < deadline,
            "callers never all waited: {:?}",
            cache.stats()
        );
        std::thread::yield_now();
    }
    release.send_replace(true);
    let mut answers = 0;
    for t in threads {
        for r in t.join().expect("caller thread") {
            assert_eq!(*r.expect("result").value, json!({"answer": 42}));
            answers += 1;
        }
    }
    assert_eq!(answers, 50);
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    let s = cache.stats();
    assert_eq!((s.misses, s.coalesced, s.hits), (50, 49, 0), "{s:?}");
}

#[test]
fn waiters_of_a_cancelled_load_load_again() {
    let cache = Cache::new(limits(1 << 20, 100));
    block_on(async {
        let mut leader = Box::pin(cache.fetch(
            "k",
            Kind::Resource,
            std::future::pending::<Result<Value, String>>(),
        ));
        assert!((&mut leader).now_or_never().is_none());
        let mut waiter = Box::pin(cache.get_or_load("k", Kind::Resource, async {
            Ok::<_, String>(json!("second"))
        }));
        assert!((&mut waiter).now_or_never().is_none());
        drop(leader);
        let got = waiter.await.expect("the waiter loads itself");
        assert_eq!(*got, json!("second"));
    });
}

#[test]
fn disabled_remote_caching_still_caches_resources() {
    let mut l = limits(1 << 20, 100);
    l.remote_enabled = false;
    let cache = Cache::new(l);
    let loads = AtomicUsize::new(0);
    block_on(async {
        for _ in 0..2 {
            load(&cache, Kind::Backend, "k", json!(1), &loads).await;
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        for _ in 0..2 {
            load(&cache, Kind::Resource, "k", json!(1), &loads).await;
        }
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn invalid_values_and_invalidation_force_a_reload() {
    let cache = Cache::new(limits(1 << 20, 100));
    let loads = AtomicUsize::new(0);
    block_on(async {
        load(&cache, Kind::Resource, "r/a", json!(1), &loads).await;
        load(&cache, Kind::Resource, "r/b", json!(1), &loads).await;
        let stale = cache
            .fetch_valid("r/a", Kind::Resource, |v| v != &json!(1), async {
                Ok::<_, String>(json!(2))
            })
            .await
            .expect("reload");
        assert_eq!((*stale.value).clone(), json!(2));
        assert!(cache.invalidate(Kind::Resource, "r/a"));
        cache.invalidate_prefix(Kind::Resource, "r/");
        assert_eq!(cache.stats().entries, 0);
        load(&cache, Kind::Resource, "x", json!(1), &loads).await;
        cache.clear();
        let s = cache.stats();
        assert_eq!((s.entries, s.bytes), (0, 0), "{s:?}");
    });
}

#[test]
fn expired_entries_are_purged_in_the_background() {
    let cache = Cache::new(limits(1 << 20, 100));
    let loads = AtomicUsize::new(0);
    block_on(load(&cache, Kind::Resource, "a", json!(1), &loads));
    assert_eq!(cache.purge_expired(), 0);
    cache.advance_clock(Duration::from_secs(61));
    assert_eq!(cache.purge_expired(), 1);
    assert_eq!(cache.stats().bytes, 0);
}
