//! `ide-agentsd serve`: bind the socket, start the workers and the supervisor, run until a
//! stop signal.

use crate::actors::router::Router;
use crate::actors::supervisor::{Shutdown, Supervisor, Worker};
use crate::config::Config;
use crate::daemon::socket;
use crate::shared::Shared;
use actix::prelude::*;
use std::sync::Arc;

pub fn run(config: Config) -> Result<(), String> {
    // Bound before any thread starts: the umask dance in `bind` is process-wide.
    let bound = socket::bind(&config.socket)?;
    bound
        .listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot configure {}: {e}", bound.path.display()))?;
    let shared = Arc::new(Shared::new(config));
    if let Err(e) = shared.telemetry.start_writer() {
        bound.remove_file();
        return Err(e);
    }
    let system = System::new();
    let started = system.block_on(start(shared.clone(), &bound));
    if let Err(e) = started {
        bound.remove_file();
        return Err(e);
    }
    let outcome = system.run().map_err(|e| format!("runtime failed: {e}"));
    // The workers flushed their buffers before the system stopped (Supervisor `Shutdown`);
    // now the writer writes the last batches and fsyncs.
    shared.telemetry.close();
    bound.remove_file();
    log::info!("stopped");
    outcome
}

async fn start(shared: Arc<Shared>, bound: &socket::BoundSocket) -> Result<(), String> {
    let listener = bound
        .listener
        .try_clone()
        .and_then(tokio::net::UnixListener::from_std)
        .map_err(|e| format!("cannot listen on {}: {e}", bound.path.display()))?;
    let workers = (0..shared.config.workers)
        .map(|_| {
            let arbiter = Arbiter::new().handle();
            let shared = shared.clone();
            let router = Router::start_in_arbiter(&arbiter, move |_| Router::new(shared));
            Worker { arbiter, router }
        })
        .collect();
    let supervisor = Supervisor::new(shared.clone(), workers, listener).start();
    spawn_signal_handlers(supervisor);
    log::info!(
        "ide-agentsd {} serving on {} (pid {}, {} workers)",
        crate::tools::core::VERSION,
        bound.path.display(),
        std::process::id(),
        shared.config.workers
    );
    Ok(())
}

fn spawn_signal_handlers(supervisor: Addr<Supervisor>) {
    use tokio::signal::unix::{SignalKind, signal};
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let supervisor = supervisor.clone();
        actix_rt::spawn(async move {
            let Ok(mut stream) = signal(kind) else {
                return log::warn!("cannot watch signal {kind:?}");
            };
            if stream.recv().await.is_some() {
                log::info!("stop signal received");
                supervisor.do_send(Shutdown);
            }
        });
    }
}
