//! A message response that is sent at once when it is already known, and only otherwise
//! becomes a spawned task. actix's `ResponseFuture` always spawns a task, which costs a
//! task allocation and a scheduler round even for answers computed in the handler. A
//! handler may also forward the reply channel to another actor that answers in its place.

use actix::dev::{MessageResponse, OneshotSender};
use actix::{Actor, Message};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;

pub enum Respond<T> {
    Now(T),
    Later(LocalBoxFuture<'static, T>),
    /// Called with the reply channel, to hand it on (dropping it answers with an error).
    Forward(Box<dyn FnOnce(Option<OneshotSender<T>>)>),
}

impl<T: 'static> Respond<T> {
    /// Polls `fut` once: a future that is already done is answered without a task.
    pub fn from_future(mut fut: LocalBoxFuture<'static, T>) -> Self {
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        match fut.poll_unpin(&mut cx) {
            std::task::Poll::Ready(v) => Respond::Now(v),
            // Polled again by its task, with a real waker.
            std::task::Poll::Pending => Respond::Later(fut),
        }
    }
}

impl<A, M, T> MessageResponse<A, M> for Respond<T>
where
    A: Actor,
    M: Message<Result = T>,
    T: 'static,
{
    fn handle(self, _ctx: &mut A::Context, tx: Option<OneshotSender<T>>) {
        match self {
            Respond::Now(value) => {
                if let Some(tx) = tx {
                    let _ = tx.send(value);
                }
            }
            Respond::Forward(forward) => forward(tx),
            Respond::Later(fut) => {
                actix_rt::spawn(async move {
                    let value = fut.await;
                    if let Some(tx) = tx {
                        let _ = tx.send(value);
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_futures_are_answered_now() {
        assert!(matches!(
            Respond::from_future(Box::pin(async { 5 })),
            Respond::Now(5)
        ));
        let pending = Respond::from_future(Box::pin(futures_util::future::pending::<u8>()));
        assert!(matches!(pending, Respond::Later(_)));
    }
}
