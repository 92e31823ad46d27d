//! The load harness: open all connections, start the load on every client thread at once,
//! report. What a connection is and says is a [`Workload`] (MCP sessions, HTTP).
//!
//! Each client thread owns a current-thread runtime and its share of the connections.
//! Session setup is not timed: threads report ready, then the main thread fixes one
//! start instant for all of them.

use std::cell::RefCell;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::join_all;
use futures_util::stream::FuturesUnordered;
use tokio::runtime::Builder;

use crate::connection::{Budget, Timing};
use crate::stats::{Stats, Summary};

/// How much load a run offers and how it reports, whatever it talks to.
pub struct LoadConfig {
    pub connections: usize,
    pub window: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub max_requests: Option<u64>,
    pub threads: usize,
    pub json: bool,
}

/// What a run drives: how a connection is opened and how the load runs on it.
/// Shared read-only by every client thread; a connection stays on the thread that opened it.
pub trait Workload: Send + Sync + 'static {
    type Conn;

    /// The scenario's name in the report.
    fn name(&self) -> &'static str;

    /// `--max-requests`, shared by all connections.
    fn budget(&self) -> Option<&Budget>;

    /// Opens one connection, ready for load (not timed).
    async fn open(&self) -> Result<Self::Conn, String>;

    /// Runs the load until `timing.send_end` (or the budget is spent), then waits for the
    /// outstanding responses. Results go to `stats`, shared by the thread's connections.
    async fn drive(&self, conn: Self::Conn, timing: Timing, stats: &RefCell<Stats>);

    /// Closes a connection that will not be driven (the run was abandoned).
    async fn close(&self, conn: Self::Conn);
}

pub fn run<W: Workload>(workload: W, cfg: &LoadConfig) -> ExitCode {
    let workload = Arc::new(workload);
    let (stats, timing) = match load(cfg, &workload) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    // A run cut short by --max-requests ends with its last response; otherwise the
    // window is at least the requested duration (even if the server went quiet).
    let budget_spent = workload.budget().is_some_and(Budget::exhausted);
    let mut end = stats.last_ok.unwrap_or(timing.send_end);
    if !budget_spent {
        end = end.max(timing.send_end);
    }
    let summary = Summary {
        scenario: workload.name(),
        connections: cfg.connections,
        window: cfg.window,
        elapsed: end.saturating_duration_since(timing.measure_start),
        stats: &stats,
    };
    if cfg.json {
        match serde_json::to_string(&summary.to_json()) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("error: cannot serialize the summary: {e}"),
        }
    } else {
        println!("{summary}");
    }
    if stats.errors() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs the client threads; fails if any connection could not be set up.
fn load<W: Workload>(cfg: &LoadConfig, workload: &Arc<W>) -> Result<(Stats, Timing), String> {
    let threads = cfg.threads.clamp(1, cfg.connections);
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut workers = Vec::with_capacity(threads);
    for index in 0..threads {
        // Spread connections as evenly as possible.
        let count = cfg.connections / threads + usize::from(index < cfg.connections % threads);
        let (go_tx, go_rx) = mpsc::channel();
        let (workload, ready) = (Arc::clone(workload), ready_tx.clone());
        let handle = thread::Builder::new()
            .name(format!("client-{index}"))
            .spawn(move || client_thread(count, &*workload, &ready, &go_rx))
            .map_err(|e| format!("cannot start client thread: {e}"))?;
        workers.push((go_tx, handle));
    }
    drop(ready_tx);

    let mut failure = None;
    for _ in 0..threads {
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("a client thread died during setup".into()));
        if let Err(e) = ready {
            failure.get_or_insert(e);
        }
    }
    let start = Instant::now();
    let measure_start = start + cfg.warmup;
    let timing = Timing {
        measure_start,
        send_end: measure_start + cfg.duration,
    };
    for (go, _) in &workers {
        // A thread that already gave up has dropped its receiver; nothing to tell it.
        let _ = go.send(failure.is_none().then_some(timing));
    }

    let mut total = Stats::new();
    for (_, handle) in workers {
        match handle.join() {
            Ok(Some(stats)) => total.merge(&stats),
            Ok(None) => {}
            Err(_) => {
                failure.get_or_insert_with(|| "a client thread panicked".into());
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((total, timing)),
    }
}

/// Sets up `count` sessions, reports ready, waits for the start signal, runs the load.
/// Returns `None` if the run was abandoned (after reporting why on `ready`).
fn client_thread<W: Workload>(
    count: usize,
    workload: &W,
    ready: &Sender<Result<(), String>>,
    go: &Receiver<Option<Timing>>,
) -> Option<Stats> {
    let rt = match Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot start tokio runtime: {e}")));
            return None;
        }
    };
    let opened = rt.block_on(join_all((0..count).map(|_| workload.open())));
    let (sessions, errors): (Vec<_>, Vec<_>) = opened.into_iter().partition(Result::is_ok);
    let sessions: Vec<W::Conn> = sessions.into_iter().flatten().collect();
    let first_error = errors.into_iter().find_map(Result::err);
    let _ = ready.send(first_error.map_or(Ok(()), Err));

    let Ok(Some(timing)) = go.recv() else {
        rt.block_on(join_all(sessions.into_iter().map(|s| workload.close(s))));
        return None;
    };
    let stats = RefCell::new(Stats::new());
    rt.block_on(async {
        // Polls only the connections that were woken, unlike a plain join.
        let mut running: FuturesUnordered<_> = sessions
            .into_iter()
            .map(|s| workload.drive(s, timing, &stats))
            .collect();
        while running.next().await.is_some() {}
    });
    Some(stats.into_inner())
}
