//! The systemd watchdog, on the main thread: every half `WATCHDOG_USEC` it pings every
//! worker's router and sends `WATCHDOG=1` only when all of them answered in time, so a
//! wedged main loop or a wedged worker thread gets the daemon restarted.

use super::router::Router;
use super::supervisor::Supervisor;
use crate::daemon::notify;
use actix::prelude::*;
use futures_util::future::join_all;
use std::time::Duration;

/// A cheap "are you running?" to an actor; answered by its message loop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ping;

impl Handler<Ping> for Router {
    type Result = ();

    fn handle(&mut self, _msg: Ping, _ctx: &mut Context<Self>) {}
}

impl Handler<Ping> for Supervisor {
    type Result = ();

    fn handle(&mut self, _msg: Ping, _ctx: &mut Context<Self>) {}
}

pub struct Watchdog {
    workers: Vec<Recipient<Ping>>,
    interval: Duration,
    /// A round of pings is still out: a tick never overlaps the previous one.
    waiting: bool,
    /// Called after every round with whether all workers answered.
    on_round: Box<dyn FnMut(bool)>,
}

impl Watchdog {
    /// Feeds systemd's watchdog while every router answers.
    pub fn new(routers: Vec<Addr<Router>>, interval: Duration) -> Self {
        let workers = routers.into_iter().map(Addr::recipient).collect();
        Watchdog::with_round(workers, interval, |alive| {
            if alive {
                notify::watchdog();
            }
        })
    }

    fn with_round(
        workers: Vec<Recipient<Ping>>,
        interval: Duration,
        on_round: impl FnMut(bool) + 'static,
    ) -> Self {
        Watchdog {
            workers,
            interval,
            waiting: false,
            on_round: Box::new(on_round),
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.waiting {
            return;
        }
        self.waiting = true;
        let pings = join_all(self.workers.iter().map(|w| w.send(Ping)));
        let round = tokio::time::timeout(self.interval, pings);
        ctx.spawn(round.into_actor(self).map(|answers, act, _ctx| {
            act.waiting = false;
            let alive = match answers {
                Ok(answers) => match answers.iter().position(Result::is_err) {
                    None => true,
                    Some(w) => {
                        log::error!("worker {w} is gone; not telling systemd we are alive");
                        false
                    }
                },
                Err(_) => {
                    log::error!(
                        "a worker did not answer within {:?}; not telling systemd we are alive",
                        act.interval
                    );
                    false
                }
            };
            (act.on_round)(alive);
        }));
    }
}

impl Actor for Watchdog {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.tick(ctx);
        ctx.run_interval(self.interval, Self::tick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A worker whose thread can be wedged on demand.
    struct Worker;

    impl Actor for Worker {
        type Context = Context<Self>;
    }

    impl Handler<Ping> for Worker {
        type Result = ();

        fn handle(&mut self, _msg: Ping, _ctx: &mut Context<Self>) {}
    }

    /// Blocks the worker's thread until the sender side is used or dropped.
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Wedge(mpsc::Receiver<()>);

    impl Handler<Wedge> for Worker {
        type Result = ();

        fn handle(&mut self, msg: Wedge, _ctx: &mut Context<Self>) {
            let _ = msg.0.recv();
        }
    }

    #[test]
    fn a_wedged_worker_thread_stops_the_watchdog_until_it_recovers() {
        let system = System::new();
        system.block_on(async {
            let arbiter = Arbiter::new();
            let worker = Worker::start_in_arbiter(&arbiter.handle(), |_| Worker);
            let (tx, mut rounds) = tokio::sync::mpsc::unbounded_channel();
            let dog = Watchdog::with_round(
                vec![worker.clone().recipient()],
                Duration::from_millis(20),
                move |alive| {
                    let _ = tx.send(alive);
                },
            );
            dog.start();
            assert_eq!(rounds.recv().await, Some(true));
            let (release, wedged) = mpsc::channel();
            worker.do_send(Wedge(wedged));
            // A round already answered may still report alive; a wedged one never does.
            let mut saw_dead = false;
            for _ in 0..200 {
                if rounds.recv().await == Some(false) {
                    saw_dead = true;
                    break;
                }
            }
            assert!(
                saw_dead,
                "the watchdog kept reporting a wedged worker alive"
            );
            release.send(()).unwrap();
            let mut recovered = false;
            for _ in 0..200 {
                if rounds.recv().await == Some(true) {
                    recovered = true;
                    break;
                }
            }
            assert!(recovered);
            arbiter.stop();
        });
    }
}
