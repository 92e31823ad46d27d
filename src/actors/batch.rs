//! A session's open JSON-RPC batches (protocol 2025-03-26): the answers each holds so far
//! and how many it is still owed, so they leave as one array line once the last is in.
//! Only batched requests come here; a session with no batch open pays a length check.

use crate::protocol::jsonrpc::RequestId;
use foldhash::{HashMap, HashSet};
use std::num::NonZeroU64;

/// One of a session's open batches (non-zero, so an in-flight entry's `Option` of it costs
/// no more than the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchId(NonZeroU64);

#[derive(Default)]
pub struct Batches {
    open: HashMap<BatchId, Batch>,
    opened: u64,
    /// Answers held in open batches, refusals included: they count toward the connection's
    /// in-flight limit until the array is written, which bounds what batches can hold.
    held: usize,
}

struct Batch {
    /// `[` and the answers so far, comma-separated.
    array: Vec<u8>,
    /// How many answers `array` holds.
    answers: usize,
    /// Answers still to come, plus one while the batch's line is being read.
    owed: usize,
    /// The ids answered in `array`, so no other request takes one before it is written.
    ids: HashSet<RequestId>,
}

impl Batches {
    /// A new batch, owed one settle for its own line (so it cannot end while it is read).
    pub fn open(&mut self) -> BatchId {
        self.opened += 1;
        let id = BatchId(NonZeroU64::new(self.opened).expect("counted from 1"));
        let batch = Batch {
            array: vec![b'['],
            answers: 0,
            owed: 1,
            ids: HashSet::default(),
        };
        self.open.insert(id, batch);
        id
    }

    /// One more answer will come later for `batch`.
    pub fn owe(&mut self, batch: BatchId) {
        if let Some(b) = self.open.get_mut(&batch) {
            b.owed += 1;
        }
    }

    /// Adds one answer (a response in parts; a trailing newline is left out). `id` is the
    /// request's when the answer is its result or error, `None` for a refusal.
    pub fn add(&mut self, batch: BatchId, id: Option<&RequestId>, parts: &[&[u8]]) {
        let Some(b) = self.open.get_mut(&batch) else {
            return;
        };
        if b.array.len() > 1 {
            b.array.push(b',');
        }
        for part in parts {
            b.array.extend_from_slice(part);
        }
        if b.array.last() == Some(&b'\n') {
            b.array.pop();
        }
        b.answers += 1;
        self.held += 1;
        if let Some(id) = id {
            b.ids.insert(id.clone());
        }
    }

    /// One owed answer came or never will (cancelled). The batch's array line, once that was
    /// the last; `None` while it is owed more, or when none of its messages has an answer.
    pub fn settle(&mut self, batch: BatchId) -> Option<Vec<u8>> {
        let b = self.open.get_mut(&batch)?;
        b.owed -= 1;
        if b.owed > 0 {
            return None;
        }
        let mut b = self.open.remove(&batch)?;
        self.held -= b.answers;
        if b.array.len() == 1 {
            return None;
        }
        b.array.extend_from_slice(b"]\n");
        Some(b.array)
    }

    /// Whether an answer under `id` waits in an open batch.
    pub fn holds(&self, id: &RequestId) -> bool {
        !self.open.is_empty() && self.open.values().any(|b| b.ids.contains(id))
    }

    /// Answers in open batches, not yet written.
    pub fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: i64) -> RequestId {
        RequestId::Number(n)
    }

    #[test]
    fn the_array_leaves_when_the_line_and_every_owed_answer_are_settled() {
        let mut batches = Batches::default();
        let b = batches.open();
        batches.add(b, Some(&id(1)), &[b"{\"id\":", b"1}\n"]);
        batches.owe(b);
        batches.add(b, None, &[b"{\"id\":null}"]);
        assert_eq!(batches.settle(b), None, "the line is read, one answer owed");
        assert!(batches.holds(&id(1)) && !batches.holds(&id(2)));
        assert_eq!(batches.held(), 2, "the refusal is held too");
        batches.add(b, Some(&id(2)), &[b"{\"id\":2}\n"]);
        let array = batches.settle(b).unwrap();
        assert_eq!(array, b"[{\"id\":1},{\"id\":null},{\"id\":2}]\n");
        assert!(!batches.holds(&id(1)));
        assert_eq!(batches.held(), 0);
    }

    #[test]
    fn a_batch_without_answers_writes_nothing() {
        let mut batches = Batches::default();
        let b = batches.open();
        batches.owe(b);
        assert_eq!(batches.settle(b), None);
        // The owed request was cancelled.
        assert_eq!(batches.settle(b), None);
        assert!(batches.open.is_empty());
    }
}
