//! `ide-agentsd serve`: take the socket (from systemd or bound here), start the workers and
//! the supervisor, tell systemd once it serves, run until stopped.

use crate::actors::control::Control;
use crate::actors::router::Router;
use crate::actors::shutdown::BeforeExit;
use crate::actors::supervisor::{Supervisor, Worker};
use crate::actors::telemetry::flush_workers;
use crate::actors::watchdog::{Ping, Watchdog};
use crate::config::Config;
use crate::daemon::activation::ListenEnv;
use crate::daemon::listener::Listening;
use crate::daemon::{notify, signals};
use crate::shared::Shared;
use actix::prelude::*;
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the workers to hand over their telemetry on stop.
const TELEMETRY_FLUSH_DEADLINE: Duration = Duration::from_secs(5);

pub fn run(mut config: Config) -> Result<(), String> {
    // Before anything is created that a stop should clean up, and before any thread starts
    // (threads inherit the mask); `ide-agentsd serve` already did it, before parsing.
    signals::hold();
    // SAFETY: no other thread exists yet (the runtime and workers start below), so changing
    // the environment races with nothing.
    let listen_env = unsafe { ListenEnv::take_from_process() };
    // SAFETY: as above.
    unsafe { notify::init_from_process() };
    // Bound before any thread starts: the umask dance in `socket::bind` is process-wide.
    let listening = Listening::open(&config.socket, &listen_env)?;
    listening
        .listener()
        .set_nonblocking(true)
        .map_err(|e| format!("cannot configure {}: {e}", listening.describe()))?;
    // A socket systemd passed is where clients reach us, whatever was configured.
    if let Some(path) = listening.path() {
        config.socket = path.to_path_buf();
    }
    let shared = Arc::new(Shared::new(config));
    if let Err(e) = shared.telemetry.start_writer() {
        listening.remove_own_file();
        return Err(e);
    }
    let system = System::new();
    let started = system.block_on(start(shared.clone(), &listening));
    if let Err(e) = started {
        listening.remove_own_file();
        return Err(e);
    }
    let outcome = system.run().map_err(|e| format!("runtime failed: {e}"));
    // The workers handed their buffers to the writer before the system stopped (the
    // before-exit hook below); now the writer writes the last batches and fsyncs.
    shared.telemetry.close(shared.config.shutdown_grace);
    listening.remove_own_file();
    log::info!("stopped");
    outcome
}

async fn start(shared: Arc<Shared>, listening: &Listening) -> Result<(), String> {
    let listener = listening
        .listener()
        .try_clone()
        .and_then(tokio::net::UnixListener::from_std)
        .map_err(|e| format!("cannot listen on {}: {e}", listening.describe()))?;
    let workers: Vec<Worker> = (0..shared.config.workers)
        .map(|index| {
            let arbiter = Arbiter::new().handle();
            // One metrics cell a worker: its router and its sessions record into it.
            let metrics = shared.telemetry.metrics.register();
            let (shared, cell) = (shared.clone(), metrics.clone());
            let router =
                Router::start_in_arbiter(&arbiter, move |_| Router::new(shared, index, cell));
            Worker {
                arbiter,
                router,
                metrics,
            }
        })
        .collect();
    let routers: Vec<Addr<Router>> = workers.iter().map(|w| w.router.clone()).collect();
    super::log_relay::attach(routers.clone());
    // The cache's background work (expiry, subscribed-file polling) runs on this thread.
    let cache_actor =
        crate::actors::cache::CacheActor::new(shared.clone(), routers.clone()).start();
    let _ = shared.cache_actor.set(cache_actor);
    let own_socket = listening.own_file().cloned();
    let supervisor = Supervisor::new(shared.clone(), workers, listener, own_socket).start();
    let _ = shared.control.set(Control {
        stop: supervisor.clone().recipient(),
        reload: supervisor.clone().recipient(),
    });
    // On stop, after the drain: every worker hands its partial telemetry batches to the writer.
    let flush_routers = routers.clone();
    supervisor.do_send(BeforeExit(Box::new(move || {
        Box::pin(flush_workers(flush_routers, TELEMETRY_FLUSH_DEADLINE))
    })));
    signals::watch(supervisor.clone());
    if let Some(interval) = notify::watchdog_interval() {
        Watchdog::new(routers.clone(), interval).start();
    }
    let summary = format!(
        "serving on {}, {} workers",
        listening.describe(),
        shared.config.workers
    );
    actix_rt::spawn(announce_when_serving(supervisor, routers, summary));
    Ok(())
}

/// Says "ready" (to systemd and in the log) once every worker's router and the supervisor
/// answered a message: their actors run, and the supervisor accepts connections.
async fn announce_when_serving(
    supervisor: Addr<Supervisor>,
    routers: Vec<Addr<Router>>,
    summary: String,
) {
    let workers = join_all(routers.iter().map(|r| r.send(Ping))).await;
    if workers.iter().any(Result::is_err) || supervisor.send(Ping).await.is_err() {
        return log::error!("a worker stopped during start-up");
    }
    // A stop that began meanwhile was already announced: systemd must not read READY after it.
    if notify::stop_announced() {
        return log::info!("stopping before serving");
    }
    notify::ready(&summary);
    log::info!(
        "ide-agentsd {} {summary} (pid {})",
        crate::tools::core::VERSION,
        std::process::id(),
    );
}
