//! Draining a worker on stop: every session registers with its worker's router (same
//! thread) when it starts and unregisters when it stops. On `Drain` the router tells each
//! session to stop reading (answers to requests already read are still written) and
//! signals when its last session is gone.

use super::router::Router;
use super::session::Session;
use actix::prelude::*;
use futures_util::future::join_all;
use std::collections::HashMap;
use tokio::sync::oneshot;

/// The sessions of one worker, kept by its router.
#[derive(Default)]
pub struct Sessions {
    open: HashMap<u64, Addr<Session>>,
    draining: bool,
    /// Told when the last session is gone, once draining.
    idle: Vec<oneshot::Sender<()>>,
}

impl Sessions {
    /// Every open session of this worker.
    pub fn all(&self) -> impl Iterator<Item = &Addr<Session>> {
        self.open.values()
    }

    fn wake_if_idle(&mut self) {
        if self.draining && self.open.is_empty() {
            for tx in self.idle.drain(..) {
                let _ = tx.send(());
            }
        }
    }
}

/// A session started on this worker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionOpened {
    pub id: u64,
    pub session: Addr<Session>,
}

/// A session on this worker stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub id: u64,
}

/// Stop reading requests; close once every in-flight request is answered.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopReading;

/// Stop every session of this worker from reading.
pub struct Drain;

/// Answered once every session of the worker has stopped reading.
pub struct Draining {
    /// Sessions that were still open (they finish their in-flight requests).
    pub open: usize,
    /// Fires when the worker's last session is gone.
    pub idle: oneshot::Receiver<()>,
}

impl Message for Drain {
    type Result = Draining;
}

impl Handler<SessionOpened> for Router {
    type Result = ();

    fn handle(&mut self, msg: SessionOpened, _ctx: &mut Context<Self>) {
        if self.sessions.draining {
            // Accepted just before the stop: it reads nothing.
            msg.session.do_send(StopReading);
        }
        self.sessions.open.insert(msg.id, msg.session);
    }
}

impl Handler<SessionClosed> for Router {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, _ctx: &mut Context<Self>) {
        self.sessions.open.remove(&msg.id);
        self.forget_connection(msg.id);
        self.sessions.wake_if_idle();
    }
}

impl Handler<Drain> for Router {
    type Result = ResponseFuture<Draining>;

    fn handle(&mut self, _msg: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        let sessions = &mut self.sessions;
        sessions.draining = true;
        let (tx, idle) = oneshot::channel();
        sessions.idle.push(tx);
        let open: Vec<Addr<Session>> = sessions.open.values().cloned().collect();
        sessions.wake_if_idle();
        // Same-thread sends: waiting for the acknowledgements costs microseconds, and lets
        // the caller know that no session reads any more.
        let stopped = join_all(open.iter().map(|s| s.send(StopReading)));
        Box::pin(async move {
            stopped.await;
            Draining {
                open: open.len(),
                idle,
            }
        })
    }
}

/// The grace ran out: answer what is still in flight with an error, cancel it, and close.
/// Answered once every session of the worker did.
pub struct Abandon {
    pub grace: std::time::Duration,
}

impl Message for Abandon {
    type Result = ();
}

impl Handler<Abandon> for Router {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Abandon, _ctx: &mut Context<Self>) -> Self::Result {
        let grace = msg.grace;
        let told = join_all(
            self.sessions
                .all()
                .map(|s| s.send(SessionAbandon { grace })),
        );
        Box::pin(async move {
            told.await;
        })
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct SessionAbandon {
    grace: std::time::Duration,
}

impl Handler<SessionAbandon> for Session {
    type Result = ();

    fn handle(&mut self, msg: SessionAbandon, ctx: &mut Context<Self>) {
        self.abandon(msg.grace, ctx);
    }
}

impl Handler<StopReading> for Session {
    type Result = ();

    fn handle(&mut self, _msg: StopReading, ctx: &mut Context<Self>) {
        self.stop_reading(ctx);
    }
}
