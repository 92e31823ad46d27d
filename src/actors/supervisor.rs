//! The root supervisor: owns the listening socket and the workers, hands each accepted
//! connection to one worker (where it stays), and stops the daemon.

use super::router::Router;
use super::session::Session;
use super::telemetry::flush_workers;
use crate::daemon::peer;
use crate::shared::Shared;
use actix::prelude::*;
use std::sync::Arc;
use tokio::net::UnixListener;

/// One worker thread with its router.
pub struct Worker {
    pub arbiter: ArbiterHandle,
    pub router: Addr<Router>,
}

pub struct Supervisor {
    shared: Arc<Shared>,
    workers: Vec<Worker>,
    listener: Option<UnixListener>,
    next_worker: usize,
    next_connection: u64,
    own_uid: u32,
    accepting: Option<SpawnHandle>,
}

impl Supervisor {
    pub fn new(shared: Arc<Shared>, workers: Vec<Worker>, listener: UnixListener) -> Self {
        Supervisor {
            shared,
            workers,
            listener: Some(listener),
            next_worker: 0,
            next_connection: 0,
            own_uid: peer::own_uid(),
            accepting: None,
        }
    }

    fn hand_off(&mut self, stream: tokio::net::UnixStream) {
        match stream.peer_cred() {
            Ok(cred) if peer::peer_allowed(cred.uid(), self.own_uid) => {}
            Ok(cred) => {
                log::warn!(
                    "refused a connection from uid {} (only uid {} and root may connect)",
                    cred.uid(),
                    self.own_uid
                );
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
        worker.arbiter.spawn(async move {
            match tokio::net::UnixStream::from_std(std_stream) {
                Ok(stream) => {
                    Session::start(id, stream, shared, router);
                }
                Err(e) => log::warn!("could not adopt connection {id}: {e}"),
            }
        });
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(listener) = self.listener.take() {
            let accepted = futures_util::stream::unfold(listener, |l| async move {
                let next = l.accept().await.map(|(stream, _)| stream);
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
            Err(e) => log::warn!("accept failed: {e}"),
        }
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

/// Longest wait for the workers to hand over their telemetry at shutdown.
const TELEMETRY_FLUSH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Stop accepting and end the daemon.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Context<Self>) {
        if let Some(handle) = self.accepting.take() {
            ctx.cancel_future(handle);
        }
        // Every worker hands its partial telemetry batches to the writer before the system
        // stops; `serve::run` then closes the writer (write, fsync, join).
        let routers = self.workers.iter().map(|w| w.router.clone()).collect();
        let flushed = flush_workers(routers, TELEMETRY_FLUSH_DEADLINE);
        ctx.wait(
            flushed
                .into_actor(self)
                .map(|(), _act, _ctx| System::current().stop()),
        );
    }
}
