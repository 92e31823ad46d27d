//! Telemetry counters every thread updates with atomics and `status` reads.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct TelemetryStats {
    /// Spans held in worker buffers, not yet handed to the writer.
    pub spans_buffered: AtomicU64,
    /// Spans handed to the writer, not yet written.
    pub spans_queued: AtomicU64,
    pub spans_written: AtomicU64,
    /// Spans lost: the disk failed, or the writer could not keep up.
    pub spans_dropped: AtomicU64,
    pub audit_written: AtomicU64,
    pub audit_dropped: AtomicU64,
    /// Epoch ms of the last batch written to disk (0: never).
    pub last_flush_ms: AtomicU64,
    /// The last write to the span file failed (it is being dropped now).
    pub spans_failing: AtomicBool,
    /// The last write to the audit file failed.
    pub audit_failing: AtomicBool,
    /// The writer's queue was full the last time a worker handed it a batch.
    pub writer_behind: AtomicBool,
    /// Epoch ms at which the writer began the batch it is writing (0: it waits for work).
    pub writer_busy_since_ms: AtomicU64,
}

/// A batch taking this long is a writer stuck in its filesystem, not a slow disk.
pub const WRITER_STUCK_AFTER_MS: u64 = 5_000;

impl TelemetryStats {
    /// Both files took their last batch (what `ide_agents_readyz` reports).
    pub fn writable(&self) -> bool {
        !self.spans_failing.load(Relaxed) && !self.audit_failing.load(Relaxed)
    }

    pub fn to_json(&self) -> Value {
        let last = self.last_flush_ms.load(Relaxed);
        json!({
            "buffered": self.spans_buffered.load(Relaxed),
            "queued": self.spans_queued.load(Relaxed),
            "written": self.spans_written.load(Relaxed),
            "dropped": self.spans_dropped.load(Relaxed),
            "audit_written": self.audit_written.load(Relaxed),
            "audit_dropped": self.audit_dropped.load(Relaxed),
            "last_flush": (last > 0).then(|| crate::clock::rfc3339_utc(last)),
            "writable": self.writable(),
        })
    }
}
