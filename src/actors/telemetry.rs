//! The per-worker side of telemetry: the `TelemetryBuffer` actor that owns the worker's
//! spans and audit events and hands them on in batches, and [`WorkerTelemetry`], what the
//! router calls when a request finishes. A span is appended to the buffer's queue under an
//! uncontended lock (the buffer hears of it only when it starts a batch), metrics under
//! another; disk writes happen on the writer thread.

use super::router::Router;
use crate::clock::epoch_millis;
use crate::telemetry::audit::{AuditEvent, AuditRecord};
use crate::telemetry::metrics::{self, MetricsCell};
use crate::telemetry::span::{Span, SpanExtra};
use crate::telemetry::stats::TelemetryStats;
use crate::telemetry::{Telemetry, WriterHandle, anomalies::AnomalyTracker};
use crate::tools::{CallOutcome, ErrorCode, ToolError};
use actix::prelude::*;
use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// One worker's spans waiting for their batch. Spans are appended where requests finish
/// (the router, the tool-group actors: all on the worker's thread, so the lock is never
/// contended); a full batch is handed to the writer by whoever fills it.
pub struct SpanQueue {
    spans: Mutex<Vec<Span>>,
    batch: usize,
    writer: WriterHandle,
}

impl SpanQueue {
    /// Appends `span`; true when it starts a new batch (the buffer's timer then bounds its wait).
    fn push(&self, span: Span) -> bool {
        let mut spans = self.lock();
        spans.push(span);
        if spans.len() >= self.batch {
            self.send(spans);
            return false;
        }
        spans.len() == 1
    }

    fn hand_off(&self) {
        let spans = self.lock();
        if !spans.is_empty() {
            self.send(spans);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Span>> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands what `spans` holds to the writer, with the lock released first.
    fn send(&self, mut spans: MutexGuard<'_, Vec<Span>>) {
        let batch = std::mem::replace(&mut *spans, Vec::with_capacity(self.batch));
        drop(spans);
        self.writer.send_spans(batch);
    }
}

/// Owns one worker's spans and audit events and hands them to the writer in batches:
/// when `batch` are buffered, `flush` after the first one arrived, or on [`FlushTelemetry`].
pub struct TelemetryBuffer {
    writer: WriterHandle,
    batch: usize,
    flush: Duration,
    spans: Arc<SpanQueue>,
    audit: Vec<AuditRecord>,
    timer: Option<SpawnHandle>,
}

impl TelemetryBuffer {
    pub fn new(writer: WriterHandle, batch: usize, flush: Duration) -> TelemetryBuffer {
        let spans = SpanQueue {
            spans: Mutex::new(Vec::with_capacity(batch)),
            batch,
            writer: writer.clone(),
        };
        TelemetryBuffer {
            writer,
            batch,
            flush,
            spans: Arc::new(spans),
            audit: Vec::new(),
            timer: None,
        }
    }

    fn hand_off(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.spans.hand_off();
        if !self.audit.is_empty() {
            self.writer.send_audit(std::mem::take(&mut self.audit));
        }
    }

    /// After adding an item: a full batch goes now, otherwise the timer bounds the wait.
    fn added(&mut self, ctx: &mut Context<Self>) {
        if self.audit.len() >= self.batch {
            self.hand_off(ctx);
        } else if self.timer.is_none() {
            self.timer = Some(ctx.run_later(self.flush, |act, ctx| {
                act.timer = None;
                act.hand_off(ctx);
            }));
        }
    }
}

impl Actor for TelemetryBuffer {
    type Context = Context<Self>;

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        // The worker is going away without a flush: still hand on what is held.
        self.hand_off(ctx);
    }
}

/// The worker's span queue started a batch: start the timer that bounds its wait.
#[derive(Message)]
#[rtype(result = "()")]
struct BatchStarted;

impl Handler<BatchStarted> for TelemetryBuffer {
    type Result = ();

    fn handle(&mut self, _msg: BatchStarted, ctx: &mut Context<Self>) {
        self.added(ctx);
    }
}

impl Handler<AuditRecord> for TelemetryBuffer {
    type Result = ();

    fn handle(&mut self, record: AuditRecord, ctx: &mut Context<Self>) {
        self.audit.push(record);
        self.added(ctx);
    }
}

/// Hand every buffered span and audit event to the writer now (a clean stop). Sent to a
/// worker's `Router`, which passes it to its buffer; answered once the batch is queued.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushTelemetry;

impl Handler<FlushTelemetry> for TelemetryBuffer {
    type Result = ();

    fn handle(&mut self, _msg: FlushTelemetry, ctx: &mut Context<Self>) {
        self.hand_off(ctx);
    }
}

/// The shutdown hook: every worker hands its partial batches to the writer. Run it after
/// in-flight requests are answered and before `System::stop`; then call
/// [`Telemetry::close`] once the system has stopped, which writes, fsyncs and joins.
pub async fn flush_workers(routers: Vec<Addr<Router>>, deadline: Duration) {
    let all = futures_util::future::join_all(routers.iter().map(|r| r.send(FlushTelemetry)));
    if tokio::time::timeout(deadline, all).await.is_err() {
        log::warn!("a worker did not flush its telemetry within {deadline:?}");
    }
}

/// Emits audit events from one worker (approvals, command execution, rate limiting, tool
/// failures). Cheap to clone; every component on the worker can hold one.
#[derive(Clone)]
pub struct AuditLog {
    buffer: Addr<TelemetryBuffer>,
    tracker: Arc<AnomalyTracker>,
}

impl AuditLog {
    /// Counts a rate-limit refusal for the anomaly report, audited now or with later ones.
    pub fn refusal(&self) {
        self.tracker.record("rate_limited", epoch_millis());
    }

    pub fn emit(&self, event: AuditEvent) {
        let ts = epoch_millis();
        // Refusals are counted as they happen (`refusal`); one event gathers several.
        if !matches!(event, AuditEvent::RateLimited { .. }) {
            self.tracker.record(event.kind(), ts);
        }
        self.buffer.do_send(AuditRecord { ts, event });
    }
}

/// What a `tools/call` span needs, captured when the call starts.
pub struct CallRecord {
    pub started: Instant,
    pub timestamp_ms: u64,
    pub tool_name: Cow<'static, str>,
    /// The catalog name, when the tool exists (keys the per-tool metrics).
    pub known: Option<&'static str>,
    pub method: Option<String>,
    pub extra: SpanExtra,
}

/// Longest unknown tool name copied into a span.
const NAME_LOG_CHARS: usize = 200;

impl CallRecord {
    /// Starts the clock; the tool's name is set once it is looked up.
    pub fn start(extra: SpanExtra) -> CallRecord {
        CallRecord {
            started: Instant::now(),
            timestamp_ms: epoch_millis(),
            tool_name: Cow::Borrowed(""),
            known: None,
            method: None,
            extra,
        }
    }

    pub fn known_tool(&mut self, name: &'static str) {
        self.known = Some(name);
        self.tool_name = Cow::Borrowed(name);
    }

    /// A span for an MCP method (`resources/read`, `prompts/get`), named after it.
    pub fn method(&mut self, method: &'static str) {
        self.tool_name = Cow::Borrowed(method);
    }

    /// A name not in the catalog: copied (cut short) so the span says what was asked for.
    pub fn unknown_tool(&mut self, name: &str) {
        self.tool_name = Cow::Owned(loggable(name));
    }
}

/// Text a client chose, as a span may hold it: cut to [`NAME_LOG_CHARS`] characters.
pub fn loggable(text: &str) -> String {
    // No more bytes than the limit is no more characters: nothing to count.
    if text.len() <= NAME_LOG_CHARS {
        return text.to_string();
    }
    match text.char_indices().nth(NAME_LOG_CHARS) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text.to_string(),
    }
}

/// One worker's telemetry: its buffer, its metrics, its audit handle.
pub struct WorkerTelemetry {
    pub audit: AuditLog,
    buffer: Addr<TelemetryBuffer>,
    spans: Arc<SpanQueue>,
    spans_enabled: bool,
    metrics: MetricsCell,
    stats: Arc<TelemetryStats>,
}

impl WorkerTelemetry {
    /// Starts this worker's buffer on the current thread; `metrics` is the worker's
    /// registered cell.
    pub fn start(telemetry: &Telemetry, metrics: MetricsCell) -> WorkerTelemetry {
        let buffer = TelemetryBuffer::new(telemetry.handle(), telemetry.batch, telemetry.flush);
        let spans = buffer.spans.clone();
        let buffer = buffer.start();
        WorkerTelemetry {
            spans,
            audit: AuditLog {
                buffer: buffer.clone(),
                tracker: telemetry.anomalies.clone(),
            },
            buffer,
            spans_enabled: telemetry.spans_enabled,
            metrics,
            stats: telemetry.stats.clone(),
        }
    }

    pub fn method_done(&self, method: &'static str, elapsed: Duration, ok: bool) {
        metrics::lock(&self.metrics).record_method(method, elapsed, ok);
    }

    /// A `tools/call` finished: metrics (the tool's and the `tools/call` method's, answered
    /// unless cancelled), a span, and a `tool_failure` audit event for a failed result.
    /// `None`: no result (cancelled, or the worker is stopping).
    /// Rate-limited calls and approval requests have their own events (`rate_limited`,
    /// `approval_requested`), so they add no `tool_failure`.
    pub fn tool_done(&self, mut record: CallRecord, outcome: Option<&CallOutcome>) {
        // A backend that answered with an error status is named in the error.
        if let Some(Err(e)) = outcome
            && record.extra.backend_status.is_none()
        {
            record.extra.backend_status = e
                .details
                .get("backend_status")
                .or_else(|| e.details.get("github_status"))
                .and_then(serde_json::Value::as_u64)
                .and_then(|s| u16::try_from(s).ok());
        }
        let elapsed = record.started.elapsed();
        let ok = matches!(outcome, Some(Ok(_)));
        {
            let mut metrics = metrics::lock(&self.metrics);
            metrics.record_tool(record.known, elapsed, ok);
            metrics.record_method("tools/call", elapsed, outcome.is_some());
        }
        let error_code = match outcome {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(e.code.as_str()),
            None => Some("cancelled"),
        };
        if let Some(Err(e)) = outcome
            && !audited_already(e)
        {
            self.audit.emit(AuditEvent::ToolFailure {
                tool: record.tool_name.to_string(),
                error_code: e.code.as_str(),
                session: record.extra.session,
            });
        }
        self.span(record, elapsed, ok, error_code);
    }

    /// A `resources/read` or `prompts/get` finished: its span (its latency is in the
    /// per-method metrics already).
    pub fn content_done(&self, record: CallRecord, error_code: Option<&'static str>) {
        let elapsed = record.started.elapsed();
        self.span(record, elapsed, error_code.is_none(), error_code);
    }

    fn span(
        &self,
        record: CallRecord,
        elapsed: Duration,
        success: bool,
        error_code: Option<&'static str>,
    ) {
        if self.spans_enabled {
            // Counted here, not when the buffer takes it, so a caller that has its answer
            // already sees the span as buffered.
            self.stats.spans_buffered.fetch_add(1, Relaxed);
            let started_batch = self.spans.push(Span {
                timestamp_ms: record.timestamp_ms,
                tool_name: record.tool_name,
                method: record.method,
                duration_ms: elapsed.as_secs_f64() * 1000.0,
                success,
                error_code,
                extra: Some(record.extra),
            });
            if started_batch {
                self.buffer.do_send(BatchStarted);
            }
        }
    }

    /// Hands this worker's partial batches to the writer.
    pub fn flush(&self) -> Request<TelemetryBuffer, FlushTelemetry> {
        self.buffer.send(FlushTelemetry)
    }
}

/// Failures with an audit event of their own: the daemon's rate limit (GitHub's carries the
/// status GitHub answered) and a command waiting for approval.
fn audited_already(e: &ToolError) -> bool {
    match e.code {
        ErrorCode::RateLimited => !e.details.contains_key("github_status"),
        ErrorCode::ApprovalRequired => true,
        _ => false,
    }
}
