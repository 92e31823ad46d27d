//! `resources/subscribe` and `resources/unsubscribe`: validated here, registered with the
//! cache actor, which polls the subscribed sources and notifies.

use super::cache::{Subscribe, Unsubscribe};
use super::router::{Reply, RpcResult};
use super::session::Notify;
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::protocol::version::Era;
use crate::resources::{self, Target};
use crate::shared::Shared;
use actix::Recipient;
use serde_json::{Value, json};

pub fn handle(
    shared: &Shared,
    session: u64,
    req: &Request,
    era: Era,
    notify: Recipient<Notify>,
) -> RpcResult {
    if era.is_modern() {
        return Err(RpcError::method_not_found(&format!(
            "{} (subscriptions need a legacy session: send `initialize` first)",
            req.method
        )));
    }
    let uri = req
        .param("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("{} needs params.uri", req.method)))?;
    let Some(actor) = shared.cache_actor.get() else {
        return Err(RpcError::new(
            crate::protocol::jsonrpc::INTERNAL_ERROR,
            "subscriptions are not available: the cache actor is not running",
        ));
    };
    // As resources/read takes them: a full URI, a snippet with or without `.md`, encoded
    // or not.
    let target = Target::from_uri(uri);
    if req.method == "resources/unsubscribe" {
        actor.do_send(Unsubscribe {
            session,
            uri: target.map_or_else(|| uri.to_string(), |t| t.uri()),
        });
        return Ok(Reply::Value(json!({})));
    }
    let target = target.ok_or_else(|| not_found(uri, era))?;
    let fingerprint =
        resources::fingerprint(&shared.config, &target).map_err(|_| not_found(uri, era))?;
    actor.do_send(Subscribe {
        session,
        uri: uri.to_string(),
        target,
        fingerprint,
        notify,
    });
    Ok(Reply::Value(json!({})))
}

/// The unknown-resource error of the era: `-32002` (legacy) or `-32602` (modern).
pub fn not_found(uri: &str, era: Era) -> RpcError {
    resource_error(
        uri,
        era,
        format!("resource not found: {uri}; resources/list shows the resources"),
    )
}

/// A resource that exists but cannot be read (a snippet the daemon may not open): the
/// unknown-resource code, with the reason, since a server fault it is not.
pub fn not_readable(uri: &str, era: Era, reason: &str) -> RpcError {
    resource_error(uri, era, format!("resource {uri} cannot be read: {reason}"))
}

fn resource_error(uri: &str, era: Era, message: String) -> RpcError {
    let code = if era.is_modern() {
        crate::protocol::jsonrpc::INVALID_PARAMS
    } else {
        crate::protocol::jsonrpc::RESOURCE_NOT_FOUND
    };
    RpcError::new(code, message)
        .with_data(json!({"uri": uri}))
        .labelled("not_found")
}
