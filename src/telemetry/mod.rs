//! Telemetry: spans (SPEC §8.1), the audit log (§8.2), metrics (§8.3) and the anomaly
//! counts built on the audit events.
//!
//! Per worker, a `TelemetryBuffer` actor (`actors::telemetry`) collects spans and audit
//! events on the worker's own thread and hands whole batches to the one writer thread
//! (`writer`) over a bounded channel. [`Telemetry`] is the daemon-wide part: the channel,
//! the counters, the metrics registry and the anomaly tracker.

pub mod anomalies;
pub mod audit;
pub mod log_file;
pub mod metrics;
pub mod redact;
pub mod span;
pub mod stats;
pub mod writer;

use crate::config::Config;
use anomalies::AnomalyTracker;
use audit::AuditRecord;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use metrics::MetricsRegistry;
use span::Span;
use stats::TelemetryStats;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use writer::{WriterFiles, WriterMsg};

pub use audit::AuditEvent;

pub struct Telemetry {
    /// Spans are recorded (`IDE_AGENTS_TELEMETRY_ENABLED`); audit events always are.
    pub spans_enabled: bool,
    /// Items a worker's buffer holds before handing them on: its share of
    /// `IDE_AGENTS_TELEMETRY_BATCH`, so that the workers together never hold a whole batch
    /// unwritten for the flush interval (each keeps its own buffer, unshared on the path).
    pub batch: usize,
    pub flush: Duration,
    pub spans_file: PathBuf,
    pub audit_file: PathBuf,
    pub stats: Arc<TelemetryStats>,
    pub anomalies: Arc<AnomalyTracker>,
    pub metrics: MetricsRegistry,
    max_bytes: u64,
    keep: usize,
    sender: Sender<WriterMsg>,
    /// Taken by [`Telemetry::start_writer`].
    receiver: Mutex<Option<Receiver<WriterMsg>>>,
    thread: Mutex<Option<Writing>>,
}

/// The running writer thread, and the channel that disconnects when it ends.
struct Writing {
    thread: JoinHandle<()>,
    ended: Receiver<()>,
}

impl Telemetry {
    /// Sets up the channel and counters; nothing is written until `start_writer`.
    pub fn new(config: &Config) -> Telemetry {
        let (sender, receiver) = crossbeam_channel::bounded(writer::QUEUE_BATCHES);
        Telemetry {
            spans_enabled: config.telemetry_enabled,
            batch: config.telemetry_batch.div_ceil(config.workers.max(1)),
            flush: config.telemetry_flush,
            spans_file: config.logs_dir.join(writer::SPANS_FILE),
            audit_file: config.logs_dir.join(writer::AUDIT_FILE),
            stats: Arc::default(),
            anomalies: Arc::default(),
            metrics: MetricsRegistry::default(),
            max_bytes: config.telemetry_max_bytes,
            keep: config.telemetry_keep,
            sender,
            receiver: Mutex::new(Some(receiver)),
            thread: Mutex::new(None),
        }
    }

    /// Seeds the anomaly counts from the existing audit file (read once, here) and starts
    /// the writer thread. An unreadable file is logged, not fatal: the daemon still serves.
    pub fn start_writer(&self) -> Result<(), String> {
        match self.anomalies.seed_from(&self.audit_file) {
            Ok(n) if n > 0 => {
                log::info!("read {n} audit event(s) from {}", self.audit_file.display())
            }
            Ok(_) => {}
            Err(e) => log::warn!("cannot read {}: {e}", self.audit_file.display()),
        }
        let Some(rx) = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Ok(()); // already started
        };
        let files = WriterFiles {
            spans: self.spans_file.clone(),
            audit: self.audit_file.clone(),
            max_bytes: self.max_bytes,
            keep: self.keep,
        };
        let (ended_tx, ended) = crossbeam_channel::bounded(0);
        let thread = writer::spawn(files, rx, self.stats.clone(), ended_tx)
            .map_err(|e| format!("cannot start the telemetry writer thread: {e}"))?;
        *self.thread.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Writing { thread, ended });
        Ok(())
    }

    /// What a worker's buffer uses to hand batches on.
    pub fn handle(&self) -> WriterHandle {
        WriterHandle {
            sender: self.sender.clone(),
            stats: self.stats.clone(),
        }
    }

    /// The last step of a clean stop, after every worker's buffer was flushed
    /// (`actors::telemetry::flush_workers`): the writer writes what is queued, fsyncs both
    /// files, and ends; this waits for it, at most `patience`. A writer stuck in the
    /// filesystem (a hung mount, a FIFO nobody reads) must not keep the daemon, and the
    /// lock on its socket path, alive: past that the daemon exits and says what it left.
    pub fn close(&self, patience: Duration) {
        let Some(Writing { thread, ended }) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let deadline = std::time::Instant::now() + patience;
        // Waiting for room is right at shutdown: the writer drains the queue ahead of it.
        let told = match self.sender.send_deadline(WriterMsg::Close, deadline) {
            Ok(()) => true,
            Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => {
                log::warn!("the telemetry writer had already stopped");
                true
            }
            Err(crossbeam_channel::SendTimeoutError::Timeout(_)) => false,
        };
        // The writer drops its end when it returns (or unwinds).
        let finished = told
            && matches!(
                ended.recv_deadline(deadline),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected)
            );
        if !finished {
            log::warn!(
                "the telemetry writer did not finish within {patience:?} (is a log file on a \
                 filesystem that stopped taking writes?); exiting with {} span(s), and any audit \
                 events queued with them, not written",
                self.stats.spans_queued.load(Relaxed),
            );
            return;
        }
        if thread.join().is_err() {
            log::warn!("the telemetry writer thread panicked; some spans may be lost");
        }
    }
}

/// A worker's side of the writer channel. Sends never block: a full queue or a stopped
/// writer counts the batch as dropped.
#[derive(Clone)]
pub struct WriterHandle {
    sender: Sender<WriterMsg>,
    stats: Arc<TelemetryStats>,
}

impl WriterHandle {
    pub fn send_spans(&self, batch: Vec<Span>) {
        let n = batch.len() as u64;
        self.stats.spans_buffered.fetch_sub(n, Relaxed);
        // Counted as queued before the writer can count it written.
        self.stats.spans_queued.fetch_add(n, Relaxed);
        if self.try_send(WriterMsg::Spans(batch)) {
            return;
        }
        self.stats.spans_queued.fetch_sub(n, Relaxed);
        self.stats.spans_dropped.fetch_add(n, Relaxed);
    }

    pub fn send_audit(&self, batch: Vec<AuditRecord>) {
        let n = batch.len() as u64;
        if !self.try_send(WriterMsg::Audit(batch)) {
            self.stats.audit_dropped.fetch_add(n, Relaxed);
        }
    }

    fn try_send(&self, msg: WriterMsg) -> bool {
        let behind = &self.stats.writer_behind;
        match self.sender.try_send(msg) {
            Ok(()) => {
                if behind.load(Relaxed) && behind.swap(false, Relaxed) {
                    log::info!("the telemetry writer caught up");
                }
                true
            }
            Err(TrySendError::Full(_)) => {
                // Once per spell, not once per batch: the counters say how many.
                if !behind.swap(true, Relaxed) {
                    log::warn!(
                        "the telemetry writer is behind; dropping batches until it catches up \
                         (`ide-agentsd status` counts them)"
                    );
                }
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}
