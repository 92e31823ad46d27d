//! Signals: SIGTERM and SIGINT stop the daemon (draining first), SIGHUP reloads it.
//!
//! They are held back (blocked) from the start of `serve` until their handlers exist: one
//! arriving in the first milliseconds would otherwise end the daemon by its default action,
//! with its socket file left behind, or end it instead of reloading it.

use crate::actors::control::ReloadAll;
use crate::actors::supervisor::{Shutdown, Supervisor};
use actix::Addr;
use tokio::signal::unix::{SignalKind, signal};

const HANDLED: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Blocks the handled signals in this thread and every thread started after it; a signal
/// sent meanwhile stays pending until [`watch`] takes it.
pub fn hold() {
    mask(libc::SIG_BLOCK);
}

fn mask(how: libc::c_int) {
    // SAFETY: a sigset on the stack, filled by sigemptyset/sigaddset before use; the daemon
    // starts no child processes, which would inherit the mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in HANDLED {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Watches the signals on the current (main) arbiter, then lets them through on this
/// thread (the other threads keep them blocked); call before announcing readiness.
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
    // A signal that came during start-up is taken now, by the handlers just installed.
    mask(libc::SIG_UNBLOCK);
}
