//! Cache hit vs miss through the public API, with a loader that sleeps 5 ms (a stand-in for
//! a backend lookup). A benchmark, not a test:
//!
//!     cargo run --release --example cache_bench
//!
//! Prints p50/p99/mean per operation for misses (each a distinct key, so each loads) and for
//! hits (one key), on one thread and on two threads at once.

use hdrhistogram::Histogram;
use ide_agentsd::cache::{Cache, Kind, Limits};
use serde_json::json;
use std::time::{Duration, Instant};

const LOAD_DELAY: Duration = Duration::from_millis(5);
const MISSES: u64 = 200;
const HITS: u64 = 1_000_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram")
}

async fn get(cache: &Cache, key: &str) {
    let loaded = cache
        .get_or_load(key, Kind::Backend, async {
            tokio::time::sleep(LOAD_DELAY).await;
            Ok::<_, String>(json!({"documentation": "a typical backend answer, some hundred bytes of JSON text to cache"}))
        })
        .await;
    assert!(loaded.is_ok());
}

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<28} n={:<8} p50={:>10.3} µs  p99={:>10.3} µs  mean={:>10.3} µs",
        h.len(),
        h.value_at_quantile(0.50) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.mean() / 1000.0
    );
}

fn hits_on_thread(cache: Cache) -> (Histogram<u64>, Duration) {
    let rt = runtime();
    let mut h = histogram();
    let started = Instant::now();
    rt.block_on(async {
        for _ in 0..HITS {
            let t = Instant::now();
            get(&cache, "hot").await;
            let _ = h.record(t.elapsed().as_nanos().max(1) as u64);
        }
    });
    (h, started.elapsed())
}

fn main() {
    let cache = Cache::new(Limits {
        max_bytes: 64 * 1024 * 1024,
        max_entries: 10_000,
        ttls: [
            Duration::from_secs(300),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60),
        ],
        remote_enabled: true,
    });
    let rt = runtime();
    let mut misses = histogram();
    rt.block_on(async {
        for i in 0..MISSES {
            let key = format!("cold-{i}");
            let t = Instant::now();
            get(&cache, &key).await;
            let _ = misses.record(t.elapsed().as_nanos() as u64);
        }
        get(&cache, "hot").await;
    });
    report("miss (5 ms loader)", &misses);

    let (hits, took) = hits_on_thread(cache.clone());
    report("hit, 1 thread", &hits);
    println!(
        "{:<28} {:.1} M hits/s",
        "",
        HITS as f64 / took.as_secs_f64() / 1e6
    );

    let threads: Vec<_> = (0..2)
        .map(|_| {
            let cache = cache.clone();
            std::thread::spawn(move || hits_on_thread(cache))
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let (h, took) = t.join().expect("thread");
        report(&format!("hit, 2 threads (#{i})"), &h);
        println!(
            "{:<28} {:.1} M hits/s",
            "",
            HITS as f64 / took.as_secs_f64() / 1e6
        );
    }
    let s = cache.stats();
    println!(
        "p50 miss / p50 hit = {:.0}x   stats: hits {} misses {} entries {} bytes {}",
        misses.value_at_quantile(0.5) as f64 / hits.value_at_quantile(0.5) as f64,
        s.hits,
        s.misses,
        s.entries,
        s.bytes
    );
}
