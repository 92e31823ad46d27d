//! Requests the daemon sends to a client (`elicitation/create`), and their answers matched
//! back to the tool call that asked. The session keeps the open ones
//! ([`ClientRequests`]); a call holds a [`ClientAsker`], which knows no socket.

use crate::protocol::jsonrpc::{self, RequestId};
use actix::{Message, Recipient};
use bytes::Bytes;
use foldhash::HashMap;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::oneshot;

/// Ids of the daemon's own requests: a prefix no client request can be mistaken for in
/// logs, and a number unique in the process.
const ID_PREFIX: &str = "ide-agentsd/ask/";

/// Why no answer came.
#[derive(Debug, Clone, PartialEq)]
pub enum AskFailure {
    /// The client answered with this JSON-RPC error object.
    Refused(Value),
    /// The connection closed, or the client sent its last message, before answering.
    Gone,
    /// No answer within the wait; the client was told the request is cancelled.
    TimedOut,
    /// The client cancelled the request itself (`notifications/cancelled`).
    Cancelled,
}

type Reply = oneshot::Sender<Result<Value, AskFailure>>;

/// What a call asks of its session.
pub enum ToClient {
    /// Send request `id` and hand its answer to `reply`.
    Ask {
        id: u64,
        method: &'static str,
        params: Value,
        reply: Reply,
    },
    /// The asker stopped waiting: the client is told to drop request `id`.
    Forget { id: u64 },
}

impl Message for ToClient {
    type Result = ();
}

/// A tool call's way to ask its client; cloned per call (one `Arc`).
#[derive(Clone)]
pub struct ClientAsker {
    session: Arc<Recipient<ToClient>>,
}

impl std::fmt::Debug for ClientAsker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientAsker")
    }
}

impl ClientAsker {
    pub fn new(session: Recipient<ToClient>) -> ClientAsker {
        ClientAsker {
            session: Arc::new(session),
        }
    }

    /// Sends `method` to the client and waits for its answer, at most `wait`. Dropped while
    /// waiting (the call was cancelled) or timed out, it tells the client to drop the
    /// request, so no question stays on the user's screen for nobody.
    pub async fn ask(
        &self,
        method: &'static str,
        params: Value,
        wait: Duration,
    ) -> Result<Value, AskFailure> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Relaxed);
        let (reply, answer) = oneshot::channel();
        self.session.do_send(ToClient::Ask {
            id,
            method,
            params,
            reply,
        });
        let mut waiting = Waiting {
            session: &self.session,
            id,
            armed: true,
        };
        let outcome = match tokio::time::timeout(wait, answer).await {
            Ok(Ok(answer)) => answer,
            // The session dropped the request: it stopped, or its client stopped sending.
            Ok(Err(_)) => Err(AskFailure::Gone),
            Err(_) => Err(AskFailure::TimedOut),
        };
        waiting.armed = outcome == Err(AskFailure::TimedOut);
        outcome
    }
}

/// Armed while an answer is awaited: dropped armed, it has the session forget the request.
struct Waiting<'a> {
    session: &'a Recipient<ToClient>,
    id: u64,
    armed: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.session.do_send(ToClient::Forget { id: self.id });
        }
    }
}

/// A session's requests to its client that are not answered yet.
#[derive(Default)]
pub struct ClientRequests {
    open: HashMap<u64, Reply>,
}

impl ClientRequests {
    /// Records request `id` and returns its line (without the line end).
    pub fn open(&mut self, id: u64, method: &str, params: &Value, reply: Reply) -> Bytes {
        self.open.insert(id, reply);
        jsonrpc::encode_request(&wire_id(id), method, params)
    }

    /// Hands a client's answer to whoever asked; false if it answers no open request.
    pub fn answered(&mut self, id: &RequestId, outcome: Result<Value, Value>) -> bool {
        let Some(reply) = own_id(id).and_then(|n| self.open.remove(&n)) else {
            return false;
        };
        // The asker may have stopped waiting meanwhile; then nobody needs the answer.
        let _ = reply.send(outcome.map_err(AskFailure::Refused));
        true
    }

    /// Drops request `id`; the `notifications/cancelled` line to tell the client, if it
    /// was still open.
    pub fn forget(&mut self, id: u64) -> Option<Bytes> {
        self.open.remove(&id)?;
        let params = json!({
            "requestId": wire_id(id).to_value(),
            "reason": "the tool call that asked no longer waits for the answer",
        });
        Some(jsonrpc::encode_notification(
            "notifications/cancelled",
            &params,
        ))
    }

    /// The client cancelled request `id` of the daemon's: its asker hears so at once. False
    /// if `id` names no open request of the daemon's.
    pub fn cancelled(&mut self, id: &RequestId) -> bool {
        let Some(reply) = own_id(id).and_then(|n| self.open.remove(&n)) else {
            return false;
        };
        let _ = reply.send(Err(AskFailure::Cancelled));
        true
    }

    /// No answer can come any more (the client sent its last message, or the daemon stops
    /// reading): every asker hears [`AskFailure::Gone`], and the returned lines tell the
    /// client to drop each question, so none stays on the user's screen for nobody.
    pub fn fail_all(&mut self) -> Vec<Bytes> {
        let ids: Vec<u64> = self.open.keys().copied().collect();
        ids.into_iter().filter_map(|id| self.forget(id)).collect()
    }
}

fn wire_id(id: u64) -> RequestId {
    RequestId::Str(format!("{ID_PREFIX}{id}"))
}

fn own_id(id: &RequestId) -> Option<u64> {
    match id {
        RequestId::Str(s) => s.strip_prefix(ID_PREFIX)?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reaches_the_asker_of_its_id_only() {
        let mut open = ClientRequests::default();
        let (tx, mut rx) = oneshot::channel();
        let line = open.open(7, "elicitation/create", &json!({"message": "m"}), tx);
        let sent: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(sent["id"], "ide-agentsd/ask/7");
        assert_eq!(sent["method"], "elicitation/create");
        assert_eq!(sent["params"]["message"], "m");
        // A client's own ids, or one never sent, answer nothing.
        assert!(!open.answered(&RequestId::Number(7), Ok(json!({}))));
        assert!(!open.answered(&RequestId::Str("ide-agentsd/ask/8".into()), Ok(json!({}))));
        assert!(rx.try_recv().is_err());
        let error = json!({"code": -32601, "message": "no"});
        assert!(open.answered(&wire_id(7), Err(error.clone())));
        assert_eq!(rx.try_recv().unwrap(), Err(AskFailure::Refused(error)));
        // Answered once: a second answer is for no open request.
        assert!(!open.answered(&wire_id(7), Ok(json!({}))));
    }

    #[test]
    fn a_forgotten_request_is_cancelled_once_and_closing_fails_the_rest() {
        let mut open = ClientRequests::default();
        let (tx, _rx) = oneshot::channel();
        open.open(1, "elicitation/create", &json!({}), tx);
        let cancel: Value = serde_json::from_slice(&open.forget(1).unwrap()).unwrap();
        assert_eq!(cancel["method"], "notifications/cancelled");
        assert_eq!(cancel["params"]["requestId"], "ide-agentsd/ask/1");
        assert!(open.forget(1).is_none());
        let (tx, mut rx) = oneshot::channel();
        open.open(2, "elicitation/create", &json!({}), tx);
        let told = open.fail_all();
        assert_eq!(told.len(), 1);
        let cancel: Value = serde_json::from_slice(&told[0]).unwrap();
        assert_eq!(cancel["params"]["requestId"], "ide-agentsd/ask/2");
        assert!(rx.try_recv().is_err(), "the sender is dropped");
        assert!(open.forget(2).is_none());
        // The client's own cancel of the daemon's request reaches the asker.
        let (tx, mut rx) = oneshot::channel();
        open.open(3, "elicitation/create", &json!({}), tx);
        assert!(!open.cancelled(&RequestId::Number(3)));
        assert!(open.cancelled(&wire_id(3)));
        assert_eq!(rx.try_recv().unwrap(), Err(AskFailure::Cancelled));
    }
}
