//! The telemetry writer: one thread that receives whole batches over a channel, appends
//! them to the span and audit files, rotates them, and fsyncs when told to close.
//! Worker threads only ever `try_send` to it, so a slow or failing disk never blocks a
//! request: a batch that cannot be queued or written is counted as dropped.

use super::audit::AuditRecord;
use super::log_file::LogFile;
use super::span::Span;
use super::stats::TelemetryStats;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches queued for the writer before workers start dropping them.
pub const QUEUE_BATCHES: usize = 1024;

/// How often a file whose last write failed is tried again, batch or no batch.
const RETRY_FAILING: Duration = Duration::from_secs(1);

pub const SPANS_FILE: &str = "mcp_tool_spans.jsonl";
pub const AUDIT_FILE: &str = "security_audit.jsonl";

pub enum WriterMsg {
    Spans(Vec<Span>),
    Audit(Vec<AuditRecord>),
    /// Write what came before, fsync both files, and end the thread.
    Close,
}

pub struct WriterFiles {
    pub spans: PathBuf,
    pub audit: PathBuf,
    pub max_bytes: u64,
    pub keep: usize,
}

/// Starts the writer thread; it ends on [`WriterMsg::Close`] or when every sender is gone.
/// `ended` is dropped when the thread ends, however it ends.
pub fn spawn(
    files: WriterFiles,
    rx: Receiver<WriterMsg>,
    stats: Arc<TelemetryStats>,
    ended: crossbeam_channel::Sender<()>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("telemetry-writer".into())
        .spawn(move || {
            let _ended = ended;
            Writer::new(files, stats).run(rx)
        })
}

struct Sink {
    log: LogFile,
    failing: bool,
    /// The last failure is one only a real write can show gone (a full disk, an I/O error):
    /// reopening the file proves nothing.
    write_failed: bool,
}

impl Sink {
    /// Serializes `items` as lines and appends them in one write; returns whether it worked.
    fn write<T: JsonLine>(&mut self, items: &[T], buf: &mut Vec<u8>) -> bool {
        buf.clear();
        for item in items {
            item.write_line(buf);
            buf.push(b'\n');
        }
        match self.log.append(buf) {
            Ok(()) => {
                if self.failing {
                    log::info!("writing {} again", self.log.path().display());
                    self.failing = false;
                }
                true
            }
            Err(e) => {
                self.write_failed = matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSPC | libc::EDQUOT | libc::EIO | libc::EFBIG)
                );
                // Once per failure spell, not once per batch.
                if !self.failing {
                    log::warn!(
                        "cannot write {}: {e}; telemetry is being dropped until it is writable (check MCP_TOOL_SPANS_DIR)",
                        self.log.path().display()
                    );
                    self.failing = true;
                }
                false
            }
        }
    }
}

/// What the writer appends: one JSON line per item.
trait JsonLine {
    fn write_line(&self, out: &mut Vec<u8>);
}

impl JsonLine for Span {
    fn write_line(&self, out: &mut Vec<u8>) {
        self.write_json(out);
    }
}

impl JsonLine for AuditRecord {
    fn write_line(&self, out: &mut Vec<u8>) {
        // An audit record is plain data: serializing it into memory cannot fail.
        let _ = serde_json::to_writer(&mut *out, self);
    }
}

struct Writer {
    spans: Sink,
    audit: Sink,
    stats: Arc<TelemetryStats>,
    buf: Vec<u8>,
}

impl Writer {
    fn new(files: WriterFiles, stats: Arc<TelemetryStats>) -> Writer {
        let sink = |path| Sink {
            log: LogFile::new(path, files.max_bytes, files.keep),
            failing: false,
            write_failed: false,
        };
        Writer {
            spans: sink(files.spans),
            audit: sink(files.audit),
            stats,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    fn run(mut self, rx: Receiver<WriterMsg>) {
        let mut next_retry = Instant::now() + RETRY_FAILING;
        loop {
            let msg = rx.recv_timeout(RETRY_FAILING);
            // What follows can block in the filesystem; `status` tells how long it has.
            let stats = self.stats.clone();
            let busy = &stats.writer_busy_since_ms;
            busy.store(crate::clock::epoch_millis(), Relaxed);
            if (self.spans.failing || self.audit.failing) && Instant::now() >= next_retry {
                self.retry_failing();
                next_retry = Instant::now() + RETRY_FAILING;
            }
            let msg = match msg {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => {
                    busy.store(0, Relaxed);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match msg {
                WriterMsg::Spans(batch) => {
                    let ok = self.spans.write(&batch, &mut self.buf);
                    let s = &self.stats;
                    s.spans_queued.fetch_sub(batch.len() as u64, Relaxed);
                    s.spans_failing.store(!ok, Relaxed);
                    self.count(ok, batch.len(), &s.spans_written, &s.spans_dropped);
                }
                WriterMsg::Audit(batch) => {
                    let ok = self.audit.write(&batch, &mut self.buf);
                    let s = &self.stats;
                    s.audit_failing.store(!ok, Relaxed);
                    self.count(ok, batch.len(), &s.audit_written, &s.audit_dropped);
                }
                WriterMsg::Close => break,
            }
            self.stats.writer_busy_since_ms.store(0, Relaxed);
        }
        for sink in [&mut self.spans, &mut self.audit] {
            if let Err(e) = sink.log.sync() {
                log::warn!("cannot fsync {}: {e}", sink.log.path().display());
            }
        }
    }

    /// A file whose last write failed is opened again now and then, so the daemon stops
    /// reporting it unwritable once it is fixed without waiting for its next batch (audit
    /// events can be hours apart).
    fn retry_failing(&mut self) {
        let s = &self.stats;
        for (sink, failing) in [
            (&mut self.spans, &s.spans_failing),
            (&mut self.audit, &s.audit_failing),
        ] {
            // Reopening shows a directory or permission fixed; an empty append writes nothing.
            if sink.failing && !sink.write_failed && sink.log.append(b"").is_ok() {
                log::info!("{} is writable again", sink.log.path().display());
                sink.failing = false;
                failing.store(false, Relaxed);
            }
        }
    }

    fn count(&self, ok: bool, n: usize, written: &AtomicU64, dropped: &AtomicU64) {
        if ok {
            written.fetch_add(n as u64, Relaxed);
            self.stats
                .last_flush_ms
                .store(crate::clock::epoch_millis(), Relaxed);
        } else {
            dropped.fetch_add(n as u64, Relaxed);
        }
    }
}
