//! Approvals for commands: a command runs only with a single-use grant for that exact
//! command string (or an auto-approve prefix). Requests without one become pending actions
//! the user approves or denies with `ide-agentsd approve|deny <action_id>`.
//!
//! Pending actions are bounded and expire; grants are single-use and expire. This is shared
//! by every worker behind one short-held lock: it is only on the path of commands.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most pending actions kept; the oldest is dropped beyond this.
pub const MAX_PENDING: usize = 64;
/// How long a pending action waits for the user.
pub const PENDING_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a grant stays usable when `approve` names no `--ttl`.
pub const DEFAULT_GRANT_TTL: Duration = Duration::from_secs(10 * 60);
/// Commands are shown (and logged) up to this many characters.
pub const SHOWN_COMMAND_CHARS: usize = 200;

#[derive(Debug, Clone)]
struct Pending {
    command: String,
    tool: String,
    requested: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    pending: HashMap<String, Pending>,
    /// Exact command → its single-use grant.
    grants: HashMap<String, Grant>,
}

/// A user's approval of one exact command, usable once until it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub action_id: String,
    pub expires: Instant,
}

/// What a command needs before it may run.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Auto-approved by prefix (`None`), or this grant was taken for the call.
    Run { grant: Option<Grant> },
    /// Ask the user: this action id is pending.
    Ask { action_id: String, new: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Granted { command: String, ttl: Duration },
    Denied { command: String },
    Unknown,
}

pub struct Approvals {
    auto_prefixes: Vec<String>,
    inner: Mutex<Inner>,
    /// Woken whenever the CLI approves or denies, so a call waiting on the user's answer in
    /// their client learns that the action was settled without it.
    settled: tokio::sync::Notify,
}

impl Approvals {
    pub fn new(auto_prefixes: Vec<String>) -> Self {
        Approvals {
            auto_prefixes,
            inner: Mutex::new(Inner::default()),
            settled: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides whether `command` (requested through `tool`) may run now.
    pub fn check(&self, command: &str, tool: &str, now: Instant) -> Decision {
        if self.auto_prefixes.iter().any(|p| has_prefix(command, p)) {
            return Decision::Run { grant: None };
        }
        let mut inner = self.lock();
        expire(&mut inner, now);
        if let Some(grant) = inner.grants.remove(command) {
            return Decision::Run { grant: Some(grant) };
        }
        // Asking again for the same command reuses its pending action.
        if let Some((id, _)) = inner.pending.iter().find(|(_, p)| p.command == command) {
            return Decision::Ask {
                action_id: id.clone(),
                new: false,
            };
        }
        if inner.pending.len() >= MAX_PENDING
            && let Some(oldest) = inner
                .pending
                .iter()
                .min_by_key(|(_, p)| p.requested)
                .map(|(id, _)| id.clone())
            && inner.pending.remove(&oldest).is_some()
        {
            self.settled.notify_waiters();
            // The id only: commands reach the log only through the audit log's redaction.
            log::warn!(
                "{MAX_PENDING} approvals pending: the oldest, {oldest}, is dropped for a new one"
            );
        }
        let action_id = new_action_id();
        inner.pending.insert(
            action_id.clone(),
            Pending {
                command: command.to_string(),
                tool: tool.to_string(),
                requested: now,
            },
        );
        Decision::Ask {
            action_id,
            new: true,
        }
    }

    pub fn approve(&self, action_id: &str, ttl: Duration, now: Instant) -> Resolution {
        let mut inner = self.lock();
        expire(&mut inner, now);
        self.settled.notify_waiters();
        match inner.pending.remove(action_id) {
            Some(p) => {
                let grant = Grant {
                    action_id: action_id.to_string(),
                    expires: now + ttl,
                };
                inner.grants.insert(p.command.clone(), grant);
                Resolution::Granted {
                    command: p.command,
                    ttl,
                }
            }
            None => Resolution::Unknown,
        }
    }

    /// The user answered the client's question about `action_id` (`elicitation/create`) for
    /// `command`: true if that action was still pending, and is now settled by this answer.
    /// Taken under the lock, so of two answers to one action only one settles it; the other
    /// finds it gone, as it does after the CLI settled it.
    pub fn settle_asked(&self, action_id: &str, command: &str, now: Instant) -> bool {
        let mut inner = self.lock();
        expire(&mut inner, now);
        let settles = matches!(inner.pending.get(action_id), Some(p) if p.command == command);
        if settles {
            inner.pending.remove(action_id);
            // Other calls asking about it withdraw their questions.
            self.settled.notify_waiters();
        }
        settles
    }

    /// A grant for the asking call alone, after its question was accepted (given back, like
    /// any, if the command is never sent).
    pub fn asked_grant(action_id: &str, now: Instant) -> Grant {
        Grant {
            action_id: action_id.to_string(),
            expires: now + DEFAULT_GRANT_TTL,
        }
    }

    /// Takes the grant the CLI gave `action_id` for `command`, if it did (single use, as in
    /// `check`); a grant from another action's approval is left for its own call.
    pub fn take_grant(&self, command: &str, action_id: &str, now: Instant) -> Option<Grant> {
        let mut inner = self.lock();
        expire(&mut inner, now);
        match inner.grants.get(command) {
            Some(g) if g.action_id == action_id => inner.grants.remove(command),
            _ => None,
        }
    }

    /// Resolves once an action was settled (the CLI approved or denied it, a user's answer
    /// in a client settled it, or it was pushed out); the caller checks which. Enable
    /// (or poll) it before checking, so a settle in between is not missed.
    pub fn settled(&self) -> tokio::sync::futures::Notified<'_> {
        self.settled.notified()
    }

    /// Puts back a grant taken for a call that never reached the backend (the breaker was
    /// open, or nothing listened): the single use is spent only by a command sent.
    pub fn give_back(&self, command: &str, grant: Grant, now: Instant) {
        if now < grant.expires {
            self.lock().grants.insert(command.to_string(), grant);
        }
    }

    pub fn deny(&self, action_id: &str, now: Instant) -> Resolution {
        let mut inner = self.lock();
        expire(&mut inner, now);
        self.settled.notify_waiters();
        match inner.pending.remove(action_id) {
            Some(p) => Resolution::Denied { command: p.command },
            None => Resolution::Unknown,
        }
    }

    /// Pending actions, oldest first.
    pub fn list(&self, now: Instant) -> Value {
        let mut inner = self.lock();
        expire(&mut inner, now);
        let mut pending: Vec<(&String, &Pending)> = inner.pending.iter().collect();
        pending.sort_by_key(|(_, p)| p.requested);
        let items: Vec<Value> = pending
            .into_iter()
            .map(|(id, p)| {
                json!({
                    "action_id": id,
                    // Whole: the person deciding must see what would run.
                    "command": p.command,
                    "tool": p.tool,
                    "age_s": now.duration_since(p.requested).as_secs(),
                    "expires_in_s": PENDING_TTL.saturating_sub(now.duration_since(p.requested)).as_secs(),
                })
            })
            .collect();
        json!({ "pending": items, "grants": inner.grants.len() })
    }

    /// Whether `action_id` still waits for an answer.
    pub fn is_pending(&self, action_id: &str, now: Instant) -> bool {
        let mut inner = self.lock();
        expire(&mut inner, now);
        inner.pending.contains_key(action_id)
    }

    pub fn pending_count(&self) -> usize {
        self.lock().pending.len()
    }
}

fn expire(inner: &mut Inner, now: Instant) {
    inner
        .pending
        .retain(|_, p| now.duration_since(p.requested) < PENDING_TTL);
    inner.grants.retain(|_, grant| now < grant.expires);
}

/// Characters with which a shell runs more than the command's first program, or runs it on
/// something else: chaining (`;`, `&&`, `||`, `|`, a line break), substitution (`` ` ``, `$(`),
/// redirection (`>`, `<`) and subshells.
const SHELL_OPERATORS: [char; 10] = [';', '&', '|', '`', '$', '<', '>', '(', '\n', '\r'];

/// Whether `command` starts with the auto-approve `prefix` as whole words: `ls` covers `ls`
/// and `ls -l`, not `lsblk`; a prefix that ends in a space marks its own boundary. A command
/// holding a shell operator is never covered: `ls && rm -rf ~` starts with `ls` too.
fn has_prefix(command: &str, prefix: &str) -> bool {
    if prefix.trim().is_empty() || command.contains(SHELL_OPERATORS) {
        return false;
    }
    match command.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with(' ') || rest.starts_with(' '),
        None => false,
    }
}

/// A command as it may be shown or logged: at most 200 characters.
pub fn shown(command: &str) -> String {
    if command.chars().count() <= SHOWN_COMMAND_CHARS {
        return command.to_string();
    }
    let cut: String = command.chars().take(SHOWN_COMMAND_CHARS).collect();
    format!("{cut}…")
}

/// 16 hex characters from the kernel's random source.
fn new_action_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // Unique enough without the random source: time and a process-local counter.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes = (crate::clock::epoch_millis() ^ (n << 48)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a TTL like `90`, `90s`, `10m`, `2h`.
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    // A grant longer than a year is a typo, and past that `Duration` cannot hold it.
    (secs <= crate::config::MAX_SECONDS).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_needs_a_grant_and_a_grant_is_single_use() {
        let a = Approvals::new(vec![]);
        let t = Instant::now();
        let Decision::Ask {
            action_id,
            new: true,
        } = a.check("echo hi", "ide_agents_run_command", t)
        else {
            panic!("must ask")
        };
        // Asking again reuses the pending action.
        assert_eq!(
            a.check("echo hi", "ide_agents_run_command", t),
            Decision::Ask {
                action_id: action_id.clone(),
                new: false
            }
        );
        assert!(matches!(
            a.approve(&action_id, DEFAULT_GRANT_TTL, t),
            Resolution::Granted { .. }
        ));
        let Decision::Run { grant: Some(grant) } = a.check("echo hi", "x", t) else {
            panic!("the grant runs it")
        };
        assert_eq!(grant.action_id, action_id);
        assert!(matches!(
            a.check("echo hi", "x", t),
            Decision::Ask { new: true, .. }
        ));
        // The grant was for that exact command only.
        assert!(matches!(a.check("echo hi ", "x", t), Decision::Ask { .. }));
    }

    #[test]
    fn grants_and_pending_actions_expire() {
        let a = Approvals::new(vec![]);
        let t = Instant::now();
        let Decision::Ask { action_id, .. } = a.check("ls", "x", t) else {
            panic!()
        };
        a.approve(&action_id, Duration::from_secs(5), t);
        assert!(matches!(
            a.check("ls", "x", t + Duration::from_secs(6)),
            Decision::Ask { .. }
        ));
        let Decision::Ask { action_id, .. } = a.check("pwd", "x", t) else {
            panic!()
        };
        assert_eq!(
            a.approve(&action_id, DEFAULT_GRANT_TTL, t + PENDING_TTL),
            Resolution::Unknown
        );
    }

    #[test]
    fn deny_removes_the_action_and_auto_prefixes_skip_approval() {
        let a = Approvals::new(vec!["echo ".into()]);
        let t = Instant::now();
        assert_eq!(a.check("echo hello", "x", t), Decision::Run { grant: None });
        let Decision::Ask { action_id, .. } = a.check("ls -l", "x", t) else {
            panic!()
        };
        assert_eq!(
            a.deny(&action_id, t),
            Resolution::Denied {
                command: "ls -l".into()
            }
        );
        assert_eq!(a.deny(&action_id, t), Resolution::Unknown);
        assert_eq!(a.pending_count(), 0);
    }

    #[test]
    fn an_empty_auto_prefix_covers_nothing() {
        let a = Approvals::new(vec!["".into(), " ".into()]);
        let t = Instant::now();
        for asks in [" rm -rf ~", "rm", ""] {
            assert!(
                matches!(a.check(asks, "x", t), Decision::Ask { .. }),
                "{asks:?}"
            );
        }
    }

    #[test]
    fn auto_prefixes_match_whole_words_only() {
        let a = Approvals::new(vec!["ls".into(), "git status".into()]);
        let t = Instant::now();
        for runs in ["ls", "ls -l", "git status", "git status --short"] {
            assert_eq!(
                a.check(runs, "x", t),
                Decision::Run { grant: None },
                "{runs}"
            );
        }
        for asks in [
            "lsblk",
            "ls;rm",
            "git status-foo",
            "git statusx",
            "ls ; rm -rf ~",
            "ls && rm -rf ~",
            "ls || rm",
            "ls | sh",
            "ls $(rm -rf ~)",
            "ls `rm -rf ~`",
            "ls > ~/.bashrc",
            "ls < /etc/shadow",
            "ls\nrm",
            "ls & rm",
            "git status (rm)",
        ] {
            assert!(
                matches!(a.check(asks, "x", t), Decision::Ask { .. }),
                "{asks}"
            );
        }
    }

    #[test]
    fn a_grant_given_back_can_be_used_once_more_until_it_expires() {
        let a = Approvals::new(vec![]);
        let t = Instant::now();
        let Decision::Ask { action_id, .. } = a.check("date", "x", t) else {
            panic!()
        };
        a.approve(&action_id, Duration::from_secs(60), t);
        let Decision::Run { grant: Some(grant) } = a.check("date", "x", t) else {
            panic!()
        };
        a.give_back("date", grant.clone(), t);
        assert_eq!(
            a.check("date", "x", t),
            Decision::Run {
                grant: Some(grant.clone())
            }
        );
        assert!(matches!(a.check("date", "x", t), Decision::Ask { .. }));
        // An expired grant is not put back.
        a.give_back("date", grant, t + Duration::from_secs(61));
        assert!(matches!(
            a.check("date", "x", t + Duration::from_secs(61)),
            Decision::Ask { .. }
        ));
    }

    #[test]
    fn an_answer_settles_an_action_once_and_takes_only_its_own_grant() {
        let a = Approvals::new(vec![]);
        let t = Instant::now();
        let Decision::Ask { action_id: x, .. } = a.check("ls", "t", t) else {
            panic!("asks")
        };
        assert!(!a.settle_asked(&x, "pwd", t), "another command's answer");
        assert!(a.settle_asked(&x, "ls", t));
        assert!(
            !a.settle_asked(&x, "ls", t),
            "a second answer settles nothing"
        );
        // The CLI approves a newer action for the same command: its grant is its own.
        let Decision::Ask { action_id: y, .. } = a.check("ls", "t", t) else {
            panic!("asks")
        };
        assert!(matches!(
            a.approve(&y, DEFAULT_GRANT_TTL, t),
            Resolution::Granted { .. }
        ));
        assert_eq!(a.take_grant("ls", &x, t), None);
        assert_eq!(
            a.take_grant("ls", &y, t).map(|g| g.action_id),
            Some(y.clone())
        );
        assert_eq!(a.take_grant("ls", &y, t), None, "single use");
    }

    #[test]
    fn pending_actions_are_bounded() {
        let a = Approvals::new(vec![]);
        let t = Instant::now();
        for i in 0..(MAX_PENDING + 10) {
            a.check(
                &format!("echo {i}"),
                "x",
                t + Duration::from_millis(i as u64),
            );
        }
        assert_eq!(a.pending_count(), MAX_PENDING);
    }

    #[test]
    fn ttls_and_long_commands_are_handled() {
        assert_eq!(parse_ttl("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_ttl("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_ttl("soon"), None);
        assert_eq!(parse_ttl("-1m"), None);
        assert_eq!(parse_ttl("6000000000000000h"), None, "past a year");
        assert_eq!(parse_ttl("1e38"), None);
        assert_eq!(parse_ttl("365d"), None);
        assert_eq!(parse_ttl("8760h"), Some(Duration::from_secs(31_536_000)));
        let long = "x".repeat(500);
        assert_eq!(shown(&long).chars().count(), SHOWN_COMMAND_CHARS + 1);
    }
}
