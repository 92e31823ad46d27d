//! The daemon's warnings and errors, told to the IDEs too (`notifications/message`, MCP
//! logging): an IDE that reaches the daemon through `connect` never sees its stderr, where
//! they otherwise go. The relay wraps env_logger; it tells nobody until `serve` attaches
//! the routers, which pass each message to their handshaken sessions.

use crate::actors::router::Router;
use crate::actors::session::ClientLog;
use actix::Addr;
use log::{Level, LevelFilter, Log, Metadata, Record};
use serde_json::json;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Messages relayed per second at most: a storm of warnings stays in the daemon's log.
const PER_SECOND: u32 = 20;
/// Longest message text relayed.
const MAX_CHARS: usize = 1000;

static ROUTERS: OnceLock<Vec<Addr<Router>>> = OnceLock::new();
static BUDGET: Mutex<Budget> = Mutex::new(Budget {
    window: None,
    sent: 0,
    held_back: 0,
});

/// Installs the relay around `inner` as the process's logger.
pub fn install(inner: env_logger::Logger) {
    let level = inner.filter().max(LevelFilter::Warn);
    if log::set_boxed_logger(Box::new(Relay { inner })).is_ok() {
        log::set_max_level(level);
    }
}

/// From now on, warnings and errors reach every router's sessions.
pub fn attach(routers: Vec<Addr<Router>>) {
    let _ = ROUTERS.set(routers);
}

struct Relay {
    inner: env_logger::Logger,
}

impl Relay {
    fn relayed(metadata: &Metadata) -> bool {
        metadata.level() <= Level::Warn && metadata.target().starts_with("ide_agentsd")
    }
}

impl Log for Relay {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.inner.enabled(metadata) || Self::relayed(metadata)
    }

    fn log(&self, record: &Record) {
        if self.inner.matches(record) {
            self.inner.log(record);
        }
        if !Self::relayed(record.metadata()) {
            return;
        }
        let Some(routers) = ROUTERS.get() else { return };
        let held_back = match lock_budget().spend(Instant::now()) {
            Some(held_back) => held_back,
            None => return,
        };
        let mut data: String = record.args().to_string().chars().take(MAX_CHARS).collect();
        if held_back > 0 {
            data.push_str(&format!(
                " ({held_back} earlier message(s) were held back; the daemon's log has them)"
            ));
        }
        let level = match record.level() {
            Level::Error => "error",
            _ => "warning",
        };
        let params = json!({"level": level, "logger": "ide-agentsd", "data": data});
        for router in routers {
            router.do_send(ClientLog {
                level,
                params: params.clone(),
            });
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

fn lock_budget() -> std::sync::MutexGuard<'static, Budget> {
    BUDGET.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A one-second window of messages relayed, and how many were held back.
struct Budget {
    window: Option<Instant>,
    sent: u32,
    held_back: u64,
}

impl Budget {
    /// Spends one message at `now`: `None` when the window's are spent (it is counted as held
    /// back), else how many were held back since the last one relayed.
    fn spend(&mut self, now: Instant) -> Option<u64> {
        match self.window {
            Some(start) if now.duration_since(start) < Duration::from_secs(1) => {}
            _ => {
                self.window = Some(now);
                self.sent = 0;
            }
        }
        if self.sent >= PER_SECOND {
            self.held_back += 1;
            return None;
        }
        self.sent += 1;
        Some(std::mem::take(&mut self.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_is_cut_to_the_budget_and_the_next_message_counts_what_was_held_back() {
        let mut b = Budget {
            window: None,
            sent: 0,
            held_back: 0,
        };
        let t = Instant::now();
        for _ in 0..PER_SECOND {
            assert_eq!(b.spend(t), Some(0));
        }
        assert_eq!(b.spend(t), None);
        assert_eq!(b.spend(t + Duration::from_millis(999)), None);
        assert_eq!(b.spend(t + Duration::from_secs(1)), Some(2));
        assert_eq!(b.spend(t + Duration::from_secs(1)), Some(0));
    }
}
