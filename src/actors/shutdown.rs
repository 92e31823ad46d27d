//! The stop sequence (SIGTERM, SIGINT, `ide-agentsd stop`), run by the root supervisor once
//! it stopped accepting: every worker drains (its sessions read no more requests and finish
//! those in flight) within `shutdown_grace`, then the before-exit hooks run (telemetry and
//! audit flushing plug in there), then the System stops and `serve` removes its socket.

use super::drain::{Abandon, Drain, Draining};
use super::router::Router;
use crate::daemon::notify;
use actix::Addr;
use futures_util::future::{BoxFuture, join_all};
use std::time::Duration;
use tokio::time::{Instant, timeout, timeout_at};

/// How long the workers get to answer and cancel what the grace cut off.
const ABANDON_WAIT: Duration = Duration::from_secs(1);

/// Work that must finish before the process exits, e.g. flushing buffered telemetry spans
/// and audit entries. Register one with [`BeforeExit`]; each gets its own `shutdown_grace`.
pub type ExitHook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// Adds a hook to run on stop, after the drain and before exit.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct BeforeExit(pub ExitHook);

/// Drains every worker, then runs the before-exit hooks.
pub async fn run(routers: Vec<Addr<Router>>, grace: Duration, hooks: Vec<ExitHook>) {
    notify::stopping("stopping: finishing in-flight requests");
    let deadline = Instant::now() + grace;
    let asked = join_all(routers.iter().map(|r| r.send(Drain)));
    let draining: Vec<Draining> = match timeout_at(deadline, asked).await {
        Ok(answers) => answers.into_iter().filter_map(Result::ok).collect(),
        Err(_) => Vec::new(),
    };
    let open: usize = draining.iter().map(|d| d.open).sum();
    log::info!(
        "draining {open} connection(s): no new requests are read, in-flight requests get up to {grace:?}"
    );
    notify::status(&format!("draining {open} connections"));
    let idle = join_all(draining.into_iter().map(|d| d.idle));
    if timeout_at(deadline, idle).await.is_err() {
        log::warn!(
            "shutdown grace of {grace:?} (IDE_AGENTS_SHUTDOWN_GRACE_SECS) ended with requests in flight; answering them with an error and closing their connections"
        );
        // Before the hooks: the cancelled calls' spans reach the buffers they flush.
        let told = join_all(routers.iter().map(|r| r.send(Abandon { grace })));
        let _ = timeout(ABANDON_WAIT, told).await;
    }
    for hook in hooks {
        if timeout(grace, hook()).await.is_err() {
            log::warn!("a before-exit step did not finish within {grace:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn before_exit_hooks_run_and_a_stuck_one_is_bounded() {
        let system = actix::System::new();
        system.block_on(async {
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            let flush: ExitHook =
                Box::new(move || Box::pin(async move { flag.store(true, Ordering::SeqCst) }));
            let stuck: ExitHook = Box::new(|| Box::pin(std::future::pending()));
            run(Vec::new(), Duration::from_millis(50), vec![stuck, flush]).await;
            assert!(ran.load(Ordering::SeqCst));
        });
    }
}
