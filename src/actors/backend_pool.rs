//! The BackendPool actor: one per worker, owning that worker's keep-alive HTTP clients
//! (`awc::Client` is `!Send`, so each worker has its own). It applies the circuit breaker
//! (shared per host), retries idempotent calls with backoff, maps failures to tool errors,
//! and runs the background health probe.
//!
//! Every call races the caller's cancellation signal: a cancelled call's request future is
//! dropped, which closes its connection, so the backend sees the client go away.

use super::tool_group::CancelSignal;
use crate::backend::breaker::{Breaker, Permit};
use crate::backend::health::{Health, ProbeTurn};
use crate::backend::retry::{RetryPolicy, jitter_sample, retry_after, retryable_status};
use crate::backend::stats::PoolStats;
use crate::backend::{
    BackendCall, BackendError, BackendReply, Headers, KEPT_HEADERS, Method, Target,
};
use crate::shared::Shared;
use actix::prelude::*;
use awc::error::{ConnectError, SendRequestError};
use futures_util::future::{Either, select};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::oneshot;

/// Largest backend answer read into memory.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Longest request URL sent: HTTP servers commonly refuse longer request lines, and the
/// HTTP client cannot form one past 64 KiB.
const MAX_URL_BYTES: usize = 16 * 1024;
/// How much of a URL an error message quotes.
const SHOWN_URL_CHARS: usize = 200;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_EXPIRY: Duration = Duration::from_secs(30);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

pub type BackendResult = Result<BackendReply, BackendError>;

/// Send `call`; the answer is `None` if `cancel` fired first.
pub struct SendCall {
    pub call: BackendCall,
    pub cancel: CancelSignal,
}

impl Message for SendCall {
    type Result = Option<BackendResult>;
}

/// Probe the backend's health now (sharing a probe already in flight anywhere).
pub struct ProbeHealth;

impl Message for ProbeHealth {
    type Result = Health;
}

/// Makes a backend call from a tool: the returned future holds the cancel sender, so
/// dropping it (the tool was cancelled) drops the HTTP request too.
pub async fn call(pool: &Addr<BackendPool>, call: BackendCall) -> BackendResult {
    let url_for_error = call.path.clone();
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    let outcome = pool
        .send(SendCall {
            call,
            cancel: cancel_rx,
        })
        .await;
    drop(cancel_tx);
    match outcome {
        Ok(Some(result)) => result,
        Ok(None) | Err(_) => Err(BackendError::Broken {
            url: url_for_error,
            reason: "the backend pool stopped".into(),
        }),
    }
}

pub struct BackendPool {
    shared: Arc<Shared>,
    backend: Upstream,
    ultra: Option<Upstream>,
    github: Upstream,
    /// Only one worker runs the periodic probe.
    runs_health_probe: bool,
}

/// One base URL: its client and its (process-wide) breaker.
#[derive(Clone)]
struct Upstream {
    base: String,
    client: awc::Client,
    breaker: Arc<Breaker>,
}

impl BackendPool {
    pub fn new(shared: Arc<Shared>, runs_health_probe: bool) -> Self {
        let config = &shared.config;
        let backend = Upstream::new(&config.backend_url, &shared);
        let ultra = config
            .ultra_url
            .as_ref()
            .filter(|u| **u != config.backend_url)
            .map(|u| Upstream::new(u, &shared));
        let github = Upstream::new(&config.github_api_url, &shared);
        BackendPool {
            backend,
            ultra,
            github,
            shared,
            runs_health_probe,
        }
    }

    fn upstream(&self, target: Target) -> &Upstream {
        match (target, &self.ultra) {
            (Target::Github, _) => &self.github,
            (Target::Ultra, Some(ultra)) => ultra,
            _ => &self.backend,
        }
    }
}

impl Upstream {
    fn new(base: &str, shared: &Shared) -> Self {
        let config = &shared.config;
        // awc bounds connections, not idle ones: idle connections expire after 30 s, and
        // IDE_AGENTS_POOL_MAX_IDLE=0 keeps none (a fresh connection per call).
        let keep_alive = if config.pool_max_idle == 0 {
            Duration::ZERO
        } else {
            IDLE_EXPIRY
        };
        let connector = awc::Connector::new()
            .limit(config.pool_max_connections)
            .timeout(CONNECT_TIMEOUT)
            .conn_keep_alive(keep_alive);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(config.request_timeout)
            .disable_redirects()
            .finish();
        Upstream {
            base: base.to_string(),
            client,
            breaker: shared.breaker_for(base),
        }
    }
}

impl Actor for BackendPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.runs_health_probe {
            let interval = self.shared.config.health_interval;
            ctx.notify(ProbeInBackground);
            ctx.run_interval(interval, |_, ctx| ctx.notify(ProbeInBackground));
        }
    }
}

/// The periodic probe: its result only updates the shared health board.
struct ProbeInBackground;

impl Message for ProbeInBackground {
    type Result = ();
}

impl Handler<ProbeInBackground> for BackendPool {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: ProbeInBackground, ctx: &mut Context<Self>) -> Self::Result {
        let probe = self.handle(ProbeHealth, ctx);
        Box::pin(async move {
            probe.await;
        })
    }
}

impl Handler<ProbeHealth> for BackendPool {
    type Result = ResponseFuture<Health>;

    fn handle(&mut self, _msg: ProbeHealth, _ctx: &mut Context<Self>) -> Self::Result {
        let shared = self.shared.clone();
        let upstream = self.backend.clone();
        Box::pin(async move {
            match shared.health.take_turn() {
                ProbeTurn::Run => {
                    let guard = AbandonOnDrop(Some(shared.clone()));
                    let health = probe(&upstream).await;
                    std::mem::forget(guard);
                    shared.health.publish(health.clone());
                    health
                }
                ProbeTurn::Wait(mut rx) => {
                    let waited = actix_rt::time::timeout(HEALTH_TIMEOUT * 2, rx.changed()).await;
                    if waited.is_err() {
                        log::debug!(
                            "health probe of another caller is late; using the last result"
                        );
                    }
                    shared.health.latest()
                }
            }
        })
    }
}

/// Hands the probing turn back if a probe is dropped before it publishes.
struct AbandonOnDrop(Option<Arc<Shared>>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.health.abandon();
        }
    }
}

async fn probe(upstream: &Upstream) -> Health {
    let url = format!("{}/health", upstream.base);
    let started = Instant::now();
    let request = upstream.client.get(&url).timeout(HEALTH_TIMEOUT).send();
    let outcome = match request.await {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            match resp.body().limit(MAX_BODY_BYTES).await {
                Ok(bytes) => Ok((status, serde_json::from_slice::<Value>(&bytes).ok())),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut health = Health::unknown();
    health.checked_at_ms = Some(crate::clock::epoch_millis());
    match outcome {
        Ok((status, body)) => {
            let body = body.unwrap_or(Value::Null);
            let ok = status == 200 && body.get("ok").and_then(Value::as_bool).unwrap_or(false);
            health.ok = Some(ok);
            health.latency_ms = Some(latency_ms);
            health.models = body
                .get("ml_models")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            if status != 200 {
                health.error = Some(format!("GET {url} answered {status}"));
            } else if !ok {
                // The backend is up and says it is not well.
                health.error = Some(format!(
                    "GET {url} answered 200 without \"ok\": true (the backend reports itself unhealthy)"
                ));
            }
        }
        Err(e) => {
            health.ok = Some(false);
            health.error = Some(format!("GET {url} failed: {e}"));
        }
    }
    health
}

impl Handler<SendCall> for BackendPool {
    type Result = ResponseFuture<Option<BackendResult>>;

    fn handle(&mut self, msg: SendCall, _ctx: &mut Context<Self>) -> Self::Result {
        let upstream = self.upstream(msg.call.target).clone();
        let config = &self.shared.config;
        let policy = RetryPolicy {
            attempts: if msg.call.idempotent {
                config.retry_attempts.max(1)
            } else {
                1
            },
            base: config.retry_backoff_base,
            factor: config.retry_backoff_factor,
            max: config.retry_backoff_max,
        };
        let timeout = config.request_timeout;
        let cancel = msg.cancel;
        let shared = self.shared.clone();
        Box::pin(async move {
            let stats = &shared.pool_stats;
            let _counted = stats.start();
            let work = Box::pin(execute(upstream, msg.call, policy, timeout, stats));
            match select(work, cancel).await {
                Either::Left((result, _)) => {
                    if result.as_ref().is_err_and(BackendError::counts_as_failure) {
                        stats
                            .failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Some(result)
                }
                Either::Right(_) => None,
            }
        })
    }
}

/// Frees a half-open probe slot if the call is dropped before its outcome is known.
struct PermitGuard<'a> {
    breaker: &'a Breaker,
    permit: Option<Permit>,
}

impl PermitGuard<'_> {
    fn record(mut self, failure: bool) {
        if let Some(p) = self.permit.take() {
            self.breaker.record(p, failure, Instant::now());
        }
    }
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            self.breaker.release(p);
        }
    }
}

/// What one attempt produced.
enum Attempt {
    Answered {
        status: u16,
        body: bytes::Bytes,
        headers: Headers,
    },
    /// Nothing reached the backend (no connection, or writing the request failed): safe to
    /// retry for idempotent calls.
    ConnectionFailed(String),
    /// The request was sent and the connection closed before an answer began: a stale
    /// kept-alive connection (worth a retry for idempotent calls) or a backend that died while
    /// handling it, so a call sent once may have been processed.
    NoAnswer,
    /// The request could not be formed (a URL or header the HTTP client refuses): nothing
    /// was sent, and the backend is not to blame.
    Unsendable(String),
    /// An answer longer than [`MAX_BODY_BYTES`], with its status.
    TooLarge(u16),
    Failed(String),
    TimedOut,
}

async fn execute(
    upstream: Upstream,
    call: BackendCall,
    policy: RetryPolicy,
    timeout: Duration,
    stats: &PoolStats,
) -> BackendResult {
    let full_url = format!("{}{}", upstream.base, call.path);
    let url = shown(&full_url);
    // A request that cannot be made says nothing about the backend: it is refused before
    // the breaker is asked, so it cannot open it for every other call.
    if full_url.len() > MAX_URL_BYTES {
        return Err(BackendError::Unsendable {
            url,
            reason: format!(
                "its URL would be {} bytes, over the {MAX_URL_BYTES}-byte limit",
                full_url.len()
            ),
        });
    }
    // The timeout bounds the whole call, retries and their backoff included.
    let deadline = tokio::time::Instant::now() + timeout;
    let mut attempt = 0;
    // The failure a retry would have answered: if this call's own failures open the breaker,
    // the caller hears what went wrong, not that the breaker is open.
    let mut failed_before: Option<BackendError> = None;
    loop {
        attempt += 1;
        let permit = match upstream.breaker.acquire(Instant::now()) {
            Ok(p) => p,
            Err(rejected) => {
                return Err(failed_before.unwrap_or(BackendError::CircuitOpen {
                    url,
                    retry_after: rejected.retry_after,
                    target: call.target,
                }));
            }
        };
        let guard = PermitGuard {
            breaker: &upstream.breaker,
            permit: Some(permit),
        };
        // Counted once it is sure to be sent: a retry the breaker holds back is none.
        if attempt > 1 {
            stats
                .retries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let outcome =
            match tokio::time::timeout_at(deadline, send_once(&upstream.client, &full_url, &call))
                .await
            {
                Ok(outcome) => outcome,
                Err(_) => Attempt::TimedOut,
            };
        let mut delay = policy.delay(attempt, jitter_sample());
        // Another attempt only if its wait still ends before the deadline.
        let may_retry = |delay: Duration| {
            call.idempotent
                && attempt < policy.attempts
                && tokio::time::Instant::now()
                    .checked_add(delay)
                    .is_some_and(|at| at < deadline)
        };
        let result = match outcome {
            Attempt::Answered {
                status,
                body,
                headers,
            } => {
                guard.record(status >= 500);
                // GitHub's rate limit lasts until its reset time: retrying soon cannot help.
                let rate_limited = call.target == Target::Github && status == 429;
                // A backend that says how long to wait is not asked again sooner.
                if let Some(asked) = retry_after(&headers, SystemTime::now()) {
                    delay = delay.max(asked);
                }
                let answer = interpret(&url, status, &body, headers);
                if may_retry(delay) && retryable_status(status) && !rate_limited {
                    failed_before = answer.err();
                    None
                } else {
                    Some(answer)
                }
            }
            Attempt::ConnectionFailed(reason) => {
                guard.record(true);
                let failure = BackendError::Unavailable {
                    url: url.clone(),
                    reason,
                };
                if may_retry(delay) {
                    failed_before = Some(failure);
                    None
                } else {
                    Some(Err(failure))
                }
            }
            Attempt::NoAnswer => {
                guard.record(true);
                let failure = BackendError::Broken {
                    url: url.clone(),
                    reason: "the connection closed after the request was sent, before any answer"
                        .into(),
                };
                if may_retry(delay) {
                    failed_before = Some(failure);
                    None
                } else {
                    Some(Err(failure))
                }
            }
            Attempt::Unsendable(reason) => {
                // Dropping the guard frees its probe slot without an outcome.
                drop(guard);
                Some(Err(BackendError::Unsendable {
                    url: url.clone(),
                    reason,
                }))
            }
            Attempt::TooLarge(status) => {
                // The backend answered; what it said is more than this daemon reads.
                guard.record(status >= 500);
                Some(Err(BackendError::Broken {
                    url: url.clone(),
                    reason: format!(
                        "the answer is larger than the {} MiB this daemon reads",
                        MAX_BODY_BYTES >> 20
                    ),
                }))
            }
            Attempt::Failed(reason) => {
                guard.record(true);
                Some(Err(BackendError::Broken {
                    url: url.clone(),
                    reason,
                }))
            }
            Attempt::TimedOut => {
                guard.record(true);
                Some(Err(BackendError::Timeout {
                    url: url.clone(),
                    after: timeout,
                }))
            }
        };
        if let Some(result) = result {
            return result;
        }
        actix_rt::time::sleep(delay).await;
    }
}

async fn send_once(client: &awc::Client, url: &str, call: &BackendCall) -> Attempt {
    let request = match call.method {
        Method::Get => client.get(url),
        Method::Post => client.post(url),
    }
    .insert_header(("accept", "application/json"));
    let request = call.headers.iter().fold(request, |r, (name, value)| {
        r.insert_header((*name, value.as_str()))
    });
    let sent = match &call.body {
        Some(body) => request.send_json(body).await,
        None => request.send().await,
    };
    let mut response = match sent {
        Ok(r) => r,
        Err(SendRequestError::Connect(ConnectError::Timeout)) => {
            return Attempt::ConnectionFailed("connect timed out".into());
        }
        // awc says "disconnected" when the connection ends while it waits for the answer's head,
        // after the request was written.
        Err(SendRequestError::Connect(ConnectError::Disconnected)) => return Attempt::NoAnswer,
        Err(SendRequestError::Connect(e)) => return Attempt::ConnectionFailed(connect_reason(&e)),
        // Writing the request failed (a kept-alive connection the backend had closed): no whole
        // request reached it.
        Err(SendRequestError::Send(e)) => return Attempt::ConnectionFailed(e.to_string()),
        Err(SendRequestError::Timeout) => return Attempt::TimedOut,
        Err(
            e @ (SendRequestError::Url(_) | SendRequestError::Http(_) | SendRequestError::Body(_)),
        ) => return Attempt::Unsendable(e.to_string()),
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    let status = response.status().as_u16();
    let declared_length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let headers = Headers(
        KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = response.headers().get(*name)?.to_str().ok()?;
                Some((*name, value.to_string()))
            })
            .collect(),
    );
    match response.body().limit(MAX_BODY_BYTES).await {
        Ok(body) => match declared_length {
            // awc ends a body at the connection's close without an error, even one cut short
            // of its declared length: that is a broken answer, not a short one.
            Some(declared) if body.len() < declared => Attempt::Failed(format!(
                "the answer broke off after {} of its {declared} bytes",
                body.len()
            )),
            _ => Attempt::Answered {
                status,
                body,
                headers,
            },
        },
        Err(awc::error::PayloadError::Overflow) => Attempt::TooLarge(status),
        Err(e) => Attempt::Failed(format!("the answer broke off ({e})")),
    }
}

/// `url` as an error message quotes it: an argument in its query can be any length.
fn shown(url: &str) -> String {
    match url.char_indices().nth(SHOWN_URL_CHARS) {
        Some((cut, _)) => format!("{}…", &url[..cut]),
        None => url.to_string(),
    }
}

fn connect_reason(e: &ConnectError) -> String {
    match e {
        ConnectError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        other => other.to_string(),
    }
}

fn interpret(url: &str, status: u16, body: &[u8], headers: Headers) -> BackendResult {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    if (200..300).contains(&status) {
        return match parsed {
            Ok(body) => Ok(BackendReply {
                status,
                body,
                headers,
            }),
            Err(e) => Err(BackendError::Garbage {
                url: url.to_string(),
                status,
                reason: e.to_string(),
            }),
        };
    }
    Err(BackendError::Status {
        url: url.to_string(),
        status,
        body: parsed.unwrap_or(Value::Null),
        headers,
    })
}
