//! The control methods on the socket, `ide-agents/stop` and `ide-agents/reload`: a router
//! hands them to the root supervisor. Only the daemon's own uid and root can connect at all
//! (checked at accept), so no further check is needed here.

use super::router::{Reply, RpcResult};
use super::supervisor::Shutdown;
use crate::protocol::jsonrpc::{INTERNAL_ERROR, RpcError};
use crate::shared::Shared;
use actix::{Message, Recipient, ResponseFuture};
use serde_json::json;

/// How a worker reaches the root supervisor; set once the supervisor runs.
pub struct Control {
    pub stop: Recipient<Shutdown>,
    pub reload: Recipient<ReloadAll>,
}

/// Reload every worker; answers how many did.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct ReloadAll;

/// Serves `ide-agents/stop` or `ide-agents/reload`.
pub fn serve(shared: &Shared, method: &str) -> ResponseFuture<Option<RpcResult>> {
    let Some(control) = shared.control.get() else {
        let e = RpcError::new(INTERNAL_ERROR, "the daemon is still starting; try again");
        return Box::pin(std::future::ready(Some(Err(e))));
    };
    // Said in the log, so a stop or reload a client asked for is told from a signal's.
    log::info!("{method} asked by a client");
    if method == "ide-agents/stop" {
        // The answer is written before this connection closes: draining waits for it.
        control.stop.do_send(Shutdown);
        let reply = json!({"stopping": true, "pid": std::process::id()});
        return Box::pin(std::future::ready(Some(Ok(Reply::Value(reply)))));
    }
    let reloaded = control.reload.send(ReloadAll);
    Box::pin(async move {
        Some(match reloaded.await {
            Ok(workers) => Ok(Reply::Value(json!({"reloaded": true, "workers": workers}))),
            Err(e) => Err(RpcError::new(
                INTERNAL_ERROR,
                format!("the daemon is stopping; reload not done: {e}"),
            )),
        })
    })
}
