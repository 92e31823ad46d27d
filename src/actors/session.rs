//! One actor per client connection: framing, the protocol state of the connection, and the
//! map of in-flight requests (for cancellation and for draining on half-close).
//!
//! Requests run concurrently and answer in completion order. Read EOF means "no more
//! requests": every in-flight request still gets its answer before the session closes,
//! unless the client has gone away entirely (then the in-flight work is dropped).

use super::ask_client::{ClientAsker, ClientRequests, ToClient};
use super::batch::{BatchId, Batches};
use super::drain::{SessionClosed, SessionOpened};
use super::outbox::Outbox;
use super::read_gate::{Gate, Hold};
use super::respond::{Answer, Responder};
use super::router::{Dispatch, Reply, Router, RpcResult};
use crate::protocol::batch;
use crate::protocol::elicitation;
use crate::protocol::framing::{FrameError, LineCodec};
use crate::protocol::jsonrpc::{
    self, DecodeError, INTERNAL_ERROR, INVALID_REQUEST, Message, Notification, Request, RequestId,
    RpcError,
};
use crate::protocol::lifecycle::{self, LOG_LEVELS, ServerInfo};
use crate::protocol::version::{Era, allows_batches, check_meta_version, era_of};
use crate::shared::Shared;
use crate::telemetry::metrics::{self, MetricsCell};
use crate::tools::core::SUMMARY;
use actix::prelude::*;
use bytes::BytesMut;
use serde_json::{Value, json};
// foldhash: these maps are read on every request, and SipHash was a visible share of it.
use foldhash::{HashMap, HashMapExt};
use std::collections::hash_map::Entry;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, Ready};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;

/// Requests one connection may have in flight before the session stops reading.
const MAX_IN_FLIGHT: usize = 1024;

pub const SERVER_INFO: ServerInfo = ServerInfo {
    name: lifecycle::SERVER_NAME,
    version: lifecycle::SERVER_VERSION,
    instructions: SUMMARY,
};

pub struct Session {
    id: u64,
    shared: Arc<Shared>,
    router: Addr<Router>,
    /// This session's address, shared by the answers on their way to it (a clone of an
    /// `Addr` allocates; of an `Arc`, it does not).
    me: Arc<Addr<Session>>,
    outbox: Outbox<OwnedWriteHalf>,
    fd: RawFd,
    gate: Gate,
    /// The legacy version `initialize` negotiated, if it ran.
    negotiated: Option<&'static str>,
    /// How tool calls ask this client's user, when its `initialize` offered forms.
    asker: Option<ClientAsker>,
    /// The daemon's requests to the client awaiting answers.
    client_requests: ClientRequests,
    /// The least severe log message the client wants (`logging/setLevel`), as its position
    /// in [`LOG_LEVELS`]; warnings until it says.
    log_floor: usize,
    in_flight: HashMap<RequestId, InFlight>,
    /// Batches whose array is not written yet (protocol 2025-03-26 only).
    batches: Batches,
    /// The batch whose line is being read: what is answered now goes into its array.
    reading_batch: Option<BatchId>,
    /// Numbers this session's requests, so an answer is matched to the request it is for.
    next_seq: u64,
    reading: bool,
    /// The read loop, cancelled when the daemon drains.
    read_loop: Option<SpawnHandle>,
    /// The worker's metrics, for the methods the session answers itself.
    metrics: MetricsCell,
}

impl Session {
    /// Starts a session for `stream` on the current worker.
    pub fn start(
        id: u64,
        stream: UnixStream,
        shared: Arc<Shared>,
        router: Addr<Router>,
        metrics: MetricsCell,
    ) -> Addr<Session> {
        Session::create(move |ctx| {
            let fd = stream.as_raw_fd();
            let (read, write) = stream.into_split();
            let gate = Gate::default();
            let lines = FramedRead::new(read, LineCodec::new(shared.config.max_message_bytes));
            let read_loop = ctx.add_stream(gate.wrap(lines));
            let outbox = Outbox::new(write, gate.clone());
            let flush = outbox.flusher(shared.config.write_stall);
            ctx.spawn(
                actix::fut::wrap_future::<_, Session>(flush).map(|result, act, ctx| {
                    match result {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            log::warn!("session {}: {e}; disconnecting it", act.id)
                        }
                        Err(e) => log::debug!("session {}: write error: {e}", act.id),
                    }
                    ctx.stop();
                }),
            );
            shared.connection_opened();
            // Registered before any request can reach the router, so a drain sees it.
            router.do_send(SessionOpened {
                id,
                session: ctx.address(),
            });
            Session {
                id,
                me: Arc::new(ctx.address()),
                outbox,
                shared,
                router,
                fd,
                gate,
                negotiated: None,
                asker: None,
                client_requests: ClientRequests::default(),
                log_floor: level_rank("warning"),
                in_flight: HashMap::new(),
                batches: Batches::default(),
                reading_batch: None,
                next_seq: 0,
                reading: true,
                read_loop: Some(read_loop),
                metrics,
            }
        })
    }

    fn write(&mut self, message: &[u8]) {
        self.outbox.write(&[message, b"\n"], false);
    }

    /// A notification from the daemon. Only sessions that did the handshake get them: the
    /// stateless era has none.
    fn notify_client(&mut self, method: &str, params: &Value) {
        if self.negotiated.is_some() && !self.outbox.closed() {
            let line = jsonrpc::encode_notification(method, params);
            self.write(&line);
        }
    }

    /// An error for a message of the line being read.
    fn send_error(&mut self, id: Option<&RequestId>, error: &RpcError) {
        self.send_error_to(id, error, self.reading_batch);
    }

    fn send_error_to(&mut self, id: Option<&RequestId>, error: &RpcError, to: Option<BatchId>) {
        let bytes = jsonrpc::encode_error(id, error);
        // An error under an id holds that id until its array is written, like an answer.
        match to {
            None => self.write(&bytes),
            Some(batch) => self.batches.add(batch, id, &[&bytes]),
        }
    }

    /// Answers request `id`, on a line of its own or, when it came in `batch`, in its array.
    fn respond(
        &mut self,
        id: &RequestId,
        result: RpcResult,
        era: Option<Era>,
        batch: Option<BatchId>,
    ) {
        let bytes = match result {
            Ok(Reply::Raw(raw)) => return self.write_result(id, &raw, batch),
            Ok(Reply::Encoded(raw)) => return self.write_result(id, &raw, batch),
            Ok(Reply::Value(mut value)) => {
                if era.is_some_and(Era::is_modern) {
                    lifecycle::decorate_modern(&mut value);
                }
                jsonrpc::encode_result(id, &value)
            }
            Err(e) => jsonrpc::encode_error(Some(id), &e),
        };
        self.write_answer(id, &[&bytes, b"\n"], batch);
    }

    /// Queues an answer: the last one owed is written at once, earlier ones coalesce in the
    /// flush; one for a batched request waits in the batch's array.
    fn write_answer(&mut self, id: &RequestId, parts: &[&[u8]], batch: Option<BatchId>) {
        match batch {
            None => self.outbox.write(parts, self.in_flight.is_empty()),
            Some(batch) => self.batches.add(batch, Some(id), parts),
        }
    }

    /// One answer `batch` was owed came or never will: its array is written once it owes none.
    fn settle(&mut self, batch: BatchId) {
        if let Some(array) = self.batches.settle(batch) {
            self.outbox.write(&[&array], self.in_flight.is_empty());
        }
    }

    /// Requests whose answers are not written yet: in flight, or answered in an open batch.
    fn open_requests(&self) -> usize {
        self.in_flight.len() + self.batches.held()
    }

    /// A success response around a result already serialized, written without a copy.
    fn write_result(&mut self, id: &RequestId, result: &[u8], batch: Option<BatchId>) {
        let (mut digits, mut scratch) = (itoa::Buffer::new(), Vec::new());
        let [a, b, c] = jsonrpc::id_text(id, &mut digits, &mut scratch);
        let parts = [
            jsonrpc::RESPONSE_HEAD,
            a,
            b,
            c,
            jsonrpc::RESULT_MID,
            result,
            b"}\n",
        ];
        self.write_answer(id, &parts, batch);
    }

    /// Hands `handle` the line's message or, for a batch in a session whose version has
    /// them, each of the batch's messages; their answers then leave as one array.
    fn read_line<F>(&mut self, line: &[u8], ctx: &mut Context<Self>, mut handle: F)
    where
        F: FnMut(&mut Self, Result<Message, DecodeError>, &mut Context<Self>),
    {
        if !(batch::is_batch(line) && allows_batches(self.negotiated)) {
            return handle(self, jsonrpc::decode(line), ctx);
        }
        match batch::decode(line) {
            Err(e) => handle(self, Err(e), ctx),
            Ok(messages) => {
                let batch = self.batches.open();
                self.reading_batch = Some(batch);
                for message in messages {
                    handle(self, message, ctx);
                }
                self.reading_batch = None;
                self.settle(batch);
                // Answered requests the batch held were counted as in flight.
                self.after_completion(ctx);
            }
        }
    }

    fn on_message(&mut self, message: Result<Message, DecodeError>, ctx: &mut Context<Self>) {
        match message {
            Err(e) => self.send_error(e.id.as_ref(), &e.error),
            Ok(Message::Request(req)) => self.on_request(req, ctx),
            Ok(Message::Notification(n)) => self.on_notification(n, ctx),
            Ok(Message::Response { id, outcome }) => {
                if !self.client_requests.answered(&id, outcome) {
                    log::debug!("session {}: response to no open request: {id:?}", self.id)
                }
            }
        }
    }

    fn refuse_after_stop(&mut self, message: Result<Message, DecodeError>, _: &mut Context<Self>) {
        if let Ok(Message::Request(req)) = message {
            let e = RpcError::new(
                INTERNAL_ERROR,
                "the daemon is stopping and reads no new requests; this one was not run",
            );
            self.send_error(Some(&req.id), &e);
        }
    }

    fn on_request(&mut self, req: Request, ctx: &mut Context<Self>) {
        // One rule for every method: a second answer under an id still in flight could be
        // taken for the first request's. An answer waiting in a batch's array is in flight.
        if self.in_flight.contains_key(&req.id) || self.batches.holds(&req.id) {
            let e = RpcError::new(
                INVALID_REQUEST,
                "a request with this id is already in flight",
            );
            return self.send_error(Some(&req.id), &e);
        }
        // A single line is never read past the limit (the read gate); a batch is read whole,
        // so what it asks beyond the limit is refused rather than held without bound.
        if self.reading_batch.is_some() && self.open_requests() >= MAX_IN_FLIGHT {
            let e = RpcError::new(
                INVALID_REQUEST,
                format!(
                    "{MAX_IN_FLIGHT} requests are already in flight on this connection \
                     (answers waiting in a batch count); this one was not run: send it again \
                     once answers arrive"
                ),
            );
            return self.send_error(Some(&req.id), &e);
        }
        let started = Instant::now();
        let (method, result, era) = match req.method.as_str() {
            // 2025-03-26: "The initialize request MUST NOT be part of a JSON-RPC batch".
            "initialize" if self.reading_batch.is_some() => {
                let e = RpcError::new(
                    INVALID_REQUEST,
                    "initialize must not be part of a JSON-RPC batch: send it on a line of its own",
                );
                ("initialize", Err(e), None)
            }
            "initialize" => {
                let result = check_meta_version(&req).and_then(|_| self.initialize(&req));
                ("initialize", result, None)
            }
            // Liveness and discovery are answered in any state, so probing clients never stall.
            "ping" => {
                let result = check_meta_version(&req).map(|_| Reply::Value(json!({})));
                ("ping", result, None)
            }
            // An unsupported `_meta` version is refused here too (SPEC §2.2); the error's
            // data lists the supported versions, so the client still learns them.
            "server/discover" => {
                let result = check_meta_version(&req)
                    .map(|_| Reply::Value(lifecycle::discover_result(&SERVER_INFO)));
                ("server/discover", result, None)
            }
            _ => match era_of(&req, self.negotiated) {
                Err(e) => return self.send_error(Some(&req.id), &e),
                Ok(era) if req.method == "logging/setLevel" => {
                    ("logging/setLevel", self.set_log_level(&req), Some(era))
                }
                // Subscriptions belong to the connection, so the session answers them.
                Ok(era) if req.method == "resources/subscribe" => {
                    let result = self.subscription(&req, era, ctx);
                    ("resources/subscribe", result, Some(era))
                }
                Ok(era) if req.method == "resources/unsubscribe" => {
                    let result = self.subscription(&req, era, ctx);
                    ("resources/unsubscribe", result, Some(era))
                }
                Ok(era) => return self.dispatch(req, era, ctx),
            },
        };
        // Counted beside the router's methods, so `status` shows every request served.
        metrics::lock(&self.metrics).record_method(method, started.elapsed(), result.is_ok());
        self.respond(&req.id, result, era, self.reading_batch);
    }

    fn initialize(&mut self, req: &Request) -> RpcResult {
        if self.negotiated.is_some() {
            return Err(RpcError::new(
                INVALID_REQUEST,
                "session already initialized",
            ));
        }
        // Required by every version's schema: a client that sends none (or a number) has a
        // bug worth hearing about, not a silent choice of version.
        let Some(requested) = req.param("protocolVersion").and_then(Value::as_str) else {
            return Err(RpcError::invalid_params(
                "initialize needs params.protocolVersion, a protocol version string such as \"2025-11-25\"",
            ));
        };
        let result = lifecycle::initialize_result(&SERVER_INFO, Some(requested));
        self.negotiated = result["protocolVersion"].as_str().and_then(|v| {
            crate::protocol::version::LEGACY_VERSIONS
                .into_iter()
                .find(|l| *l == v)
        });
        if let Some(version) = self.negotiated
            && elicitation::client_takes_forms(version, req.param("capabilities"))
        {
            self.asker = Some(ClientAsker::new(self.me.as_ref().clone().recipient()));
        }
        Ok(Reply::Value(result))
    }

    /// Hands an application request to this worker's router and answers when it completes.
    fn dispatch(&mut self, request: Request, era: Era, ctx: &mut Context<Self>) {
        let id = request.id.clone();
        // Dropping `cancel` (the request is cancelled, or the session stops) tells the tool
        // to drop its work; only a tool's work can be cancelled.
        let (cancel, cancelled) = match request.method.as_str() {
            "tools/call" => {
                let (tx, rx) = oneshot::channel::<()>();
                (Some(tx), Some(rx))
            }
            _ => (None, None),
        };
        let progress = progress_token(&request).map(|token| self.report_progress(token, ctx));
        let seq = self.next_seq;
        self.next_seq += 1;
        // A legacy-era call asks through this session; a stateless one asks in rounds of its
        // own, by what its `_meta` declares (the router decides).
        let asker = match (&cancelled, era.is_modern()) {
            (Some(_), false) => self.asker.clone(),
            _ => None,
        };
        self.router.do_send(Dispatch {
            request,
            era,
            connection: self.id,
            cancel: cancelled,
            asker,
            reply: Responder::new(self.me.clone(), id.clone(), seq),
        });
        let batch = self.reading_batch;
        if let Some(batch) = batch {
            self.batches.owe(batch);
        }
        let request = InFlight {
            seq,
            era,
            batch,
            _cancel: cancel,
            progress,
        };
        self.in_flight.insert(id, request);
        if self.open_requests() >= MAX_IN_FLIGHT {
            self.gate.hold(Hold::InFlight);
        }
    }

    /// `notifications/progress` for a request that carried `_meta.progressToken`: one every
    /// progress interval while it runs, so clients that wait on a long call know it is alive
    /// (and those that reset their timeout on progress do not give up on it).
    fn report_progress(&mut self, token: Value, ctx: &mut Context<Self>) -> SpawnHandle {
        let interval = self.shared.config.progress_interval;
        let mut progress = 0u64;
        ctx.run_interval(interval, move |act, _| {
            progress += 1;
            let waited = interval.as_secs_f64() * progress as f64;
            let params = json!({
                "progressToken": token,
                "progress": progress,
                "message": format!("still working after {waited:.1} s"),
            });
            act.write(&jsonrpc::encode_notification(
                "notifications/progress",
                &params,
            ));
        })
    }

    fn on_notification(&mut self, n: Notification, ctx: &mut Context<Self>) {
        if n.method == "notifications/cancelled" {
            let id = n
                .params
                .as_ref()
                .and_then(|p| p.get("requestId"))
                .and_then(RequestId::from_value);
            // Removing the request drops its cancel signal; its answer, if one comes, is
            // for no request in flight and is dropped. An id of no request of the client's
            // may name a question the daemon asked it.
            let Some(id) = id else { return };
            match self.in_flight.remove(&id) {
                Some(request) => {
                    if let Some(progress) = request.progress {
                        ctx.cancel_future(progress);
                    }
                    // Its batch completes without it.
                    if let Some(batch) = request.batch {
                        self.settle(batch);
                    }
                    self.after_completion(ctx);
                }
                None => {
                    self.client_requests.cancelled(&id);
                }
            }
        }
        // Other notifications (initialized, roots changed, …) need no action.
    }

    fn after_completion(&mut self, ctx: &mut Context<Self>) {
        if self.open_requests() < MAX_IN_FLIGHT {
            self.gate.release(Hold::InFlight);
        }
        self.close_if_done(ctx);
    }

    /// Closes once the client sent its last request and every answer is written.
    fn close_if_done(&mut self, _ctx: &mut Context<Self>) {
        if !self.reading && self.in_flight.is_empty() && !self.outbox.closed() {
            // The outbox flushes, then its flush future stops the actor.
            self.outbox.close();
        }
    }

    /// Draining: read no more requests; answer those in flight, then close.
    pub(super) fn stop_reading(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.read_loop.take() {
            ctx.cancel_future(handle);
        }
        if self.reading {
            self.reads_no_more();
            if !self.in_flight.is_empty() {
                self.watch_for_hangup(ctx);
            }
        }
        self.close_if_done(ctx);
    }

    /// Nothing more is read from the client, answers to the daemon's own requests included.
    fn reads_no_more(&mut self) {
        self.reading = false;
        for cancel in self.client_requests.fail_all() {
            if !self.outbox.closed() {
                self.write(&cancel);
            }
        }
    }

    /// The shutdown grace ran out: every request still in flight is answered with an error
    /// and its work cancelled (a tool call's span records the cancellation), then the
    /// connection closes once the answers are written.
    pub(super) fn abandon(&mut self, grace: Duration, ctx: &mut Context<Self>) {
        self.stop_reading(ctx);
        let e = RpcError::new(
            INTERNAL_ERROR,
            format!(
                "the daemon is stopping and this request did not finish within the shutdown \
                 grace of {} s (IDE_AGENTS_SHUTDOWN_GRACE_SECS)",
                grace.as_secs_f64()
            ),
        );
        let abandoned: Vec<(RequestId, InFlight)> = self.in_flight.drain().collect();
        for (id, request) in abandoned {
            if let Some(progress) = request.progress {
                ctx.cancel_future(progress);
            }
            // Dropping `request` drops its cancel sender: the tool stops.
            self.send_error_to(Some(&id), &e, request.batch);
            if let Some(batch) = request.batch {
                self.settle(batch);
            }
        }
        self.close_if_done(ctx);
    }

    /// After read EOF with work in flight: stop at once if the client closed entirely
    /// (not just its write side), so abandoned backend calls are dropped.
    fn watch_for_hangup(&mut self, ctx: &mut Context<Self>) {
        let Some(fd) = dup_fd(self.fd) else { return };
        // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, so it stays open and refers to
        // the same socket for the AsyncFd's whole life.
        let Ok(fd) = (unsafe { AsyncFd::register_with_interest(fd, Interest::WRITABLE) }) else {
            return;
        };
        let hangup = async move {
            loop {
                let Ok(mut guard) = fd.writable().await else {
                    return;
                };
                if guard.ready().is_write_closed() {
                    return;
                }
                guard.clear_ready_matching(Ready::WRITABLE);
            }
        };
        ctx.spawn(hangup.into_actor(self).map(|(), act, ctx| {
            log::debug!(
                "session {}: client went away with {} request(s) in flight",
                act.id,
                act.in_flight.len()
            );
            ctx.stop();
        }));
    }
}

impl Session {
    /// `resources/subscribe` / `resources/unsubscribe` (legacy sessions): registers this
    /// session with the cache actor, which sends `notifications/resources/updated`.
    fn subscription(&mut self, req: &Request, era: Era, ctx: &mut Context<Self>) -> RpcResult {
        let notify = ctx.address().recipient();
        super::subscriptions::handle(&self.shared, self.id, req, era, notify)
    }
}

/// A request being answered.
struct InFlight {
    seq: u64,
    era: Era,
    /// The batch it came in, whose array waits for its answer.
    batch: Option<BatchId>,
    /// Dropped with the request: the tool's signal to stop.
    _cancel: Option<oneshot::Sender<()>>,
    /// Its progress reports, if it asked for them.
    progress: Option<SpawnHandle>,
}

impl Handler<Answer> for Session {
    type Result = ();

    fn handle(&mut self, answer: Answer, ctx: &mut Context<Self>) {
        // A cancelled request, or an earlier one under an id used again, gets no answer.
        let (id, request) = match self.in_flight.entry(answer.id) {
            Entry::Occupied(e) if e.get().seq == answer.seq => e.remove_entry(),
            other => {
                log::debug!(
                    "session {}: answer for no request in flight: {:?}",
                    self.id,
                    other.key()
                );
                return;
            }
        };
        if let Some(progress) = request.progress {
            ctx.cancel_future(progress);
        }
        self.respond(&id, answer.result, Some(request.era), request.batch);
        if let Some(batch) = request.batch {
            self.settle(batch);
        }
        self.after_completion(ctx);
    }
}

/// `params._meta.progressToken` of a request, if it has one.
fn progress_token(request: &Request) -> Option<Value> {
    let token = request.meta()?.get("progressToken")?;
    (token.is_string() || token.is_number()).then(|| token.clone())
}

/// A server-to-client notification for this session's connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Notify {
    pub method: &'static str,
    pub params: Value,
}

impl Handler<Notify> for Session {
    type Result = ();

    fn handle(&mut self, msg: Notify, _ctx: &mut Context<Self>) {
        self.notify_client(msg.method, &msg.params);
    }
}

impl Handler<ToClient> for Session {
    type Result = ();

    fn handle(&mut self, msg: ToClient, _ctx: &mut Context<Self>) {
        match msg {
            // A client that sent its last message cannot answer: the asker hears so at once
            // (`reply` is dropped).
            ToClient::Ask { .. } if !self.reading || self.outbox.closed() => {}
            ToClient::Ask {
                id,
                method,
                params,
                reply,
            } => {
                let line = self.client_requests.open(id, method, &params, reply);
                self.write(&line);
            }
            ToClient::Forget { id } => {
                if let Some(line) = self.client_requests.forget(id)
                    && !self.outbox.closed()
                {
                    self.write(&line);
                }
            }
        }
    }
}

/// How long the rest of a refused line is read and dropped.
const REFUSED_INPUT_LINGER: Duration = Duration::from_secs(5);

/// After an oversized line the client may still be writing it. A socket closed with input
/// unread resets the connection, and the client loses the error it was sent, so the rest is
/// read and dropped on a duplicate of the socket (which keeps it open after the session
/// stops) until the client closes or `REFUSED_INPUT_LINGER` passes. The buffer is fixed:
/// memory does not grow with the line.
fn drain_refused_input(fd: RawFd) {
    let Some(fd) = dup_fd(fd) else { return };
    let socket = std::os::unix::net::UnixStream::from(fd);
    // SAFETY: the stream owns its descriptor, so it stays open and refers to the same
    // socket for the AsyncFd's whole life.
    let Ok(socket) = (unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) })
    else {
        return;
    };
    actix::spawn(async move {
        let drain = async {
            let mut sink = [0u8; 16 * 1024];
            loop {
                let Ok(mut ready) = socket.readable().await else {
                    return;
                };
                // Ends at EOF or an error; `Err` from `try_io` only means not ready yet.
                let read = ready.try_io(|s| std::io::Read::read(&mut s.get_ref(), &mut sink));
                if let Ok(Ok(0) | Err(_)) = read {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(REFUSED_INPUT_LINGER, drain).await;
    });
}

fn dup_fd(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: `fd` is the session's open socket; dup returns a new descriptor we own.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    // SAFETY: a non-negative result is a fresh descriptor owned by nobody else.
    (new >= 0).then(|| unsafe { OwnedFd::from_raw_fd(new) })
}

impl Session {
    fn set_log_level(&mut self, req: &Request) -> RpcResult {
        let level = req.param("level").and_then(Value::as_str);
        match level {
            Some(l) if LOG_LEVELS.contains(&l) => {
                self.log_floor = level_rank(l);
                Ok(Reply::Value(json!({})))
            }
            _ => Err(RpcError::invalid_params(format!(
                "logging/setLevel needs params.level, one of {}",
                LOG_LEVELS.join(", ")
            ))),
        }
    }
}

/// A level's severity: its position in [`LOG_LEVELS`] (least severe first).
fn level_rank(level: &str) -> usize {
    LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(0)
}

/// One of the daemon's log messages for the client (`notifications/message`), from
/// `daemon::log_relay` through the routers.
#[derive(Clone, Message)]
#[rtype(result = "()")]
pub struct ClientLog {
    pub level: &'static str,
    /// `{level, logger, data}`.
    pub params: Value,
}

impl Handler<ClientLog> for Session {
    type Result = ();

    fn handle(&mut self, log: ClientLog, _ctx: &mut Context<Self>) {
        // At the level the client asked for.
        if level_rank(log.level) >= self.log_floor {
            self.notify_client("notifications/message", &log.params);
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if !self.in_flight.is_empty() {
            log::debug!(
                "session {}: closed with {} request(s) unanswered",
                self.id,
                self.in_flight.len()
            );
        }
        self.shared.connection_closed();
        self.router.do_send(SessionClosed { id: self.id });
    }
}

impl StreamHandler<Result<BytesMut, FrameError>> for Session {
    fn handle(&mut self, item: Result<BytesMut, FrameError>, ctx: &mut Context<Self>) {
        match item {
            // A line already read when the drain cancelled the read loop (a cancelled stream
            // can still hand over the lines it holds): the session may be closing, so nothing
            // that would need an answer later is started; a request is told so at once.
            Ok(line) if self.read_loop.is_none() => {
                self.read_line(&line, ctx, Self::refuse_after_stop)
            }
            Ok(line) => self.read_line(&line, ctx, Self::on_message),
            Err(FrameError::TooLong { limit }) => {
                let e = RpcError::new(
                    INVALID_REQUEST,
                    format!(
                        "message longer than {limit} bytes (IDE_AGENTS_MAX_MESSAGE_BYTES); closing the connection"
                    ),
                );
                self.send_error(None, &e);
                self.reads_no_more();
                drain_refused_input(self.fd);
            }
            Err(FrameError::Io(e)) => {
                log::debug!("session {}: read error: {e}", self.id);
                self.reads_no_more();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.reads_no_more();
        if !self.in_flight.is_empty() {
            self.watch_for_hangup(ctx);
        }
        self.close_if_done(ctx);
    }
}
