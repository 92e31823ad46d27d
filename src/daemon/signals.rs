//! Signals: SIGTERM and SIGINT stop the daemon (draining first), SIGHUP reloads it.

use crate::actors::control::ReloadAll;
use crate::actors::supervisor::{Shutdown, Supervisor};
use actix::Addr;
use tokio::signal::unix::{SignalKind, signal};

/// Watches the signals on the current (main) arbiter; call before announcing readiness.
pub fn watch(supervisor: Addr<Supervisor>) {
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let supervisor = supervisor.clone();
        let Ok(mut stream) = signal(kind) else {
            log::warn!("cannot watch signal {kind:?}");
            continue;
        };
        actix_rt::spawn(async move {
            while stream.recv().await.is_some() {
                log::info!("stop signal received");
                supervisor.do_send(Shutdown);
            }
        });
    }
    match signal(SignalKind::hangup()) {
        Ok(mut stream) => {
            actix_rt::spawn(async move {
                while stream.recv().await.is_some() {
                    log::info!("SIGHUP received: reloading");
                    supervisor.do_send(ReloadAll);
                }
            });
        }
        Err(e) => log::warn!("cannot watch SIGHUP: {e}"),
    }
}
