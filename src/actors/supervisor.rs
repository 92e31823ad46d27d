//! The root supervisor: owns the listening socket and the workers, hands each accepted
//! connection to one worker (where it stays), and stops the daemon.

use super::control::ReloadAll;
use super::router::Reload;
use super::router::Router;
use super::session::Session;
use super::shutdown::{BeforeExit, ExitHook};
use crate::daemon::peer;
use crate::daemon::socket::SocketFile;
use crate::shared::Shared;
use crate::telemetry::metrics::MetricsCell;
use actix::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UnixListener;

/// How long accepting pauses after running out of descriptors or memory: the connection
/// stays queued, so accepting again at once would fail again at once, in a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one "accept failed" line per this interval; it counts the failures it stands for.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// One worker thread with its router.
pub struct Worker {
    pub arbiter: ArbiterHandle,
    pub router: Addr<Router>,
    /// The worker's metrics, where its sessions record the methods they answer themselves.
    pub metrics: MetricsCell,
}

pub struct Supervisor {
    shared: Arc<Shared>,
    workers: Vec<Worker>,
    listener: Option<UnixListener>,
    next_worker: usize,
    next_connection: u64,
    own_uid: u32,
    accepting: Option<SpawnHandle>,
    /// Accept failures not yet logged, and when the last line was.
    accept_failures: u64,
    accept_logged: Option<Instant>,
    own_socket: Option<SocketFile>,
    /// Set once a stop began; later stop requests are ignored.
    stopping: bool,
    /// Run after the drain, before exit (see `shutdown.rs`).
    before_exit: Vec<ExitHook>,
}

impl Supervisor {
    /// `own_socket` is the socket file this daemon created (not one systemd passed): it is
    /// removed as soon as a stop begins, so clients meanwhile find no daemon at once
    /// instead of waiting on a connection nobody will accept.
    pub fn new(
        shared: Arc<Shared>,
        workers: Vec<Worker>,
        listener: UnixListener,
        own_socket: Option<SocketFile>,
    ) -> Self {
        Supervisor {
            shared,
            workers,
            listener: Some(listener),
            own_socket,
            next_worker: 0,
            next_connection: 0,
            own_uid: peer::own_uid(),
            accepting: None,
            accept_failures: 0,
            accept_logged: None,
            stopping: false,
            before_exit: Vec::new(),
        }
    }

    fn hand_off(&mut self, stream: tokio::net::UnixStream) {
        if self.accept_failures > 0 {
            log::info!(
                "accepting again, after {} more failure(s)",
                std::mem::take(&mut self.accept_failures)
            );
        }
        match stream.peer_cred() {
            Ok(cred) if peer::peer_allowed(cred.uid(), self.own_uid) => {}
            Ok(cred) => {
                log::warn!(
                    "refused a connection from uid {} (only uid {} and root may connect)",
                    cred.uid(),
                    self.own_uid
                );
                // Told why before the close, if its socket buffer has room: not waited for.
                let refusal = format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{{\"code\":-32600,\"message\":\
                     \"not allowed: this daemon serves uid {} and root only\"}}}}\n",
                    self.own_uid
                );
                let _ = stream.try_write(refusal.as_bytes());
                return;
            }
            Err(e) => {
                log::warn!("refused a connection whose peer credentials are unreadable: {e}");
                return;
            }
        }
        // A tokio stream is bound to the reactor of its thread: move it as a std stream.
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => return log::warn!("could not hand off a connection: {e}"),
        };
        self.next_connection += 1;
        let id = self.next_connection;
        let worker = &self.workers[self.next_worker % self.workers.len()];
        self.next_worker = self.next_worker.wrapping_add(1);
        let (shared, router) = (self.shared.clone(), worker.router.clone());
        let metrics = worker.metrics.clone();
        worker.arbiter.spawn(async move {
            match tokio::net::UnixStream::from_std(std_stream) {
                Ok(stream) => {
                    Session::start(id, stream, shared, router, metrics);
                }
                Err(e) => log::warn!("could not adopt connection {id}: {e}"),
            }
        });
    }

    fn accept_failed(&mut self, e: &std::io::Error) {
        self.accept_failures += 1;
        let now = Instant::now();
        if self
            .accept_logged
            .is_some_and(|t| now.duration_since(t) < ACCEPT_LOG_EVERY)
        {
            return;
        }
        log::warn!(
            "accept failed: {e} ({} time(s) since the last report); new connections wait \
             in the queue, the connections already open are served",
            self.accept_failures
        );
        self.accept_failures = 0;
        self.accept_logged = Some(now);
    }
}

/// Failures that last until something is freed, unlike a connection that vanished.
fn out_of_resources(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(listener) = self.listener.take() {
            let accepted = futures_util::stream::unfold(listener, |l| async move {
                let next = l.accept().await.map(|(stream, _)| stream);
                if next.as_ref().is_err_and(out_of_resources) {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                Some((next, l))
            });
            self.accepting = Some(ctx.add_stream(accepted));
        }
    }
}

impl StreamHandler<std::io::Result<tokio::net::UnixStream>> for Supervisor {
    fn handle(&mut self, item: std::io::Result<tokio::net::UnixStream>, _ctx: &mut Context<Self>) {
        match item {
            Ok(stream) => self.hand_off(stream),
            // EMFILE and friends: keep serving the connections we have.
            Err(e) => self.accept_failed(&e),
        }
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

/// Stop accepting, drain every worker within `shutdown_grace`, run the before-exit hooks,
/// then end the daemon.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Context<Self>) {
        if std::mem::replace(&mut self.stopping, true) {
            return log::info!("already stopping");
        }
        if let Some(handle) = self.accepting.take() {
            ctx.cancel_future(handle);
        }
        // The lock file stays held until exit, so no other daemon can bind this path
        // meanwhile (and `serve`'s own removal at exit cannot take a newer daemon's socket).
        if let Some(file) = self.own_socket.take() {
            file.remove();
        }
        let routers = self.workers.iter().map(|w| w.router.clone()).collect();
        let hooks = std::mem::take(&mut self.before_exit);
        let stop = super::shutdown::run(routers, self.shared.config.shutdown_grace, hooks);
        ctx.spawn(stop.into_actor(self).map(|(), _act, _ctx| {
            System::current().stop();
        }));
    }
}

impl Handler<BeforeExit> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: BeforeExit, _ctx: &mut Context<Self>) {
        self.before_exit.push(msg.0);
    }
}

impl Handler<ReloadAll> for Supervisor {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, _msg: ReloadAll, _ctx: &mut Context<Self>) -> Self::Result {
        let sent: Vec<_> = self.workers.iter().map(|w| w.router.send(Reload)).collect();
        Box::pin(async move {
            let done = futures_util::future::join_all(sent).await;
            let workers = done.iter().filter(|r| r.is_ok()).count();
            log::info!("reloaded ({workers} workers)");
            workers
        })
    }
}
