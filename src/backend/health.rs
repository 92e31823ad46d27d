//! The backend's last known health, shared by every worker, and the single-probe rule:
//! however many callers ask at once, one `GET /health` is in flight.

use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// `None` until the first probe finished.
    pub ok: Option<bool>,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
    pub models: Value,
    pub checked_at_ms: Option<u64>,
}

impl Health {
    pub fn unknown() -> Self {
        Health {
            ok: None,
            latency_ms: None,
            error: None,
            models: json!({}),
            checked_at_ms: None,
        }
    }
}

pub struct HealthBoard {
    latest: Mutex<Health>,
    probing: AtomicBool,
    published: watch::Sender<u64>,
}

impl Default for HealthBoard {
    fn default() -> Self {
        HealthBoard {
            latest: Mutex::new(Health::unknown()),
            probing: AtomicBool::new(false),
            published: watch::Sender::new(0),
        }
    }
}

/// What a caller that wants a fresh probe must do.
pub enum ProbeTurn {
    /// Run the probe, then `publish` its result.
    Run,
    /// Another caller is probing: wait on this for its result.
    Wait(watch::Receiver<u64>),
}

impl HealthBoard {
    pub fn latest(&self) -> Health {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn take_turn(&self) -> ProbeTurn {
        // Subscribe before checking, so a publish between the two is not missed.
        let rx = self.published.subscribe();
        if self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            ProbeTurn::Run
        } else {
            ProbeTurn::Wait(rx)
        }
    }

    pub fn publish(&self, health: Health) {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = health;
        self.probing.store(false, Ordering::Release);
        self.published.send_modify(|n| *n += 1);
    }

    /// Gives the turn back without a result (the probe was cancelled).
    pub fn abandon(&self) {
        self.probing.store(false, Ordering::Release);
        self.published.send_modify(|n| *n += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_probes_and_the_others_wait_for_its_result() {
        let board = HealthBoard::default();
        assert!(matches!(board.take_turn(), ProbeTurn::Run));
        let ProbeTurn::Wait(rx) = board.take_turn() else {
            panic!("second caller must wait")
        };
        assert!(!rx.has_changed().unwrap());
        let mut h = Health::unknown();
        h.ok = Some(true);
        board.publish(h.clone());
        assert!(rx.has_changed().unwrap());
        assert_eq!(board.latest(), h);
        assert!(matches!(board.take_turn(), ProbeTurn::Run));
    }
}
