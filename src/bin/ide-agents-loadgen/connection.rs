//! One connection: MCP session setup, then the pipelined request loop.
//!
//! A single task both reads and writes (via `select!`), so refills triggered by one
//! read go out in one write, and a large window cannot deadlock against a server that
//! stops reading while its responses are not being consumed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Sleep, sleep_until, timeout};

use crate::run::Workload;
use crate::scenario::{
    INITIALIZED_NOTIFICATION, RequestSpec, Scenario, Template, initialize_request,
};
use crate::stats::{ErrorKind, Stats, report_line, report_problem};
use crate::transport::{Io, Target};
use crate::verify::{Verdict, classify};

/// Read buffer size: many responses per read syscall.
const READ_CHUNK: usize = 64 * 1024;
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long outstanding responses are awaited once sending stopped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What every connection of a run does; shared read-only across client threads.
pub struct Plan {
    pub target: Target,
    pub scenario: Scenario,
    pub template: Template,
    /// Whether to run the `initialize` handshake first.
    pub handshake: bool,
    pub window: usize,
    pub budget: Option<Budget>,
}

impl Plan {
    pub fn new(
        target: Target,
        spec: &RequestSpec,
        window: usize,
        max_requests: Option<u64>,
    ) -> Plan {
        Plan {
            target,
            scenario: spec.scenario,
            template: spec.template(),
            handshake: spec.scenario.needs_session() && !spec.modern,
            window,
            budget: max_requests.map(Budget::new),
        }
    }
}

impl Workload for Plan {
    type Conn = Session;

    fn name(&self) -> &'static str {
        self.scenario.name()
    }

    fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    async fn open(&self) -> Result<Session, String> {
        Session::open(self).await
    }

    async fn drive(&self, conn: Session, timing: Timing, stats: &RefCell<Stats>) {
        conn.drive(self, timing, stats).await;
    }

    async fn close(&self, conn: Session) {
        conn.close().await;
    }
}

/// When the measured window starts (end of warmup) and when sending stops.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub measure_start: Instant,
    pub send_end: Instant,
}

/// `--max-requests`: measured requests left to send, over all connections.
pub struct Budget(AtomicU64);

impl Budget {
    pub fn new(total: u64) -> Self {
        Budget(AtomicU64::new(total))
    }

    /// Takes up to `want` requests from the budget; returns how many were granted.
    pub fn claim(&self, want: u64) -> u64 {
        let before = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                Some(left.saturating_sub(want))
            })
            .unwrap_or_else(|left| left);
        before.min(want)
    }

    pub fn exhausted(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }
}

/// An established connection (MCP session ready, if the scenario needs one).
pub struct Session {
    io: Io,
    rbuf: BytesMut,
    /// Prefix of `rbuf` already searched for `\n`, so long lines are not rescanned.
    scanned: usize,
}

impl Session {
    pub async fn open(plan: &Plan) -> Result<Session, String> {
        let io = Io::connect(&plan.target).await?;
        let mut session = Session {
            io,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            scanned: 0,
        };
        if plan.handshake {
            let outcome = match timeout(SETUP_TIMEOUT, session.handshake()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!(
                    "no initialize response within {} s",
                    SETUP_TIMEOUT.as_secs()
                )),
            };
            if let Err(e) = outcome {
                session.close().await;
                return Err(format!("{}: {e}", plan.target));
            }
        }
        Ok(session)
    }

    async fn handshake(&mut self) -> Result<(), String> {
        let mut request = Vec::new();
        initialize_request().write(0, &mut request);
        self.io
            .writer
            .write_all(&request)
            .await
            .map_err(|e| format!("sending initialize: {e}"))?;
        let mut outcome = None;
        while outcome.is_none() {
            if self.fill().await.map_err(|e| format!("reading: {e}"))? == 0 {
                return Err("connection closed before the initialize response".into());
            }
            self.for_each_line(|line| {
                if outcome.is_none() {
                    outcome = initialize_outcome(line);
                }
            });
        }
        outcome.unwrap_or(Ok(()))?;
        self.io
            .writer
            .write_all(INITIALIZED_NOTIFICATION)
            .await
            .map_err(|e| format!("sending notifications/initialized: {e}"))
    }

    pub async fn close(self) {
        self.io.close().await;
    }

    /// Reads more bytes into `rbuf`; 0 means end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        self.reserve();
        self.io.reader.read_buf(&mut self.rbuf).await
    }

    fn reserve(&mut self) {
        // Reclaims the consumed front of the buffer instead of growing it, when it can.
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
    }

    /// Calls `f` with every complete line buffered (without its `\n`) and drops them.
    fn for_each_line(&mut self, mut f: impl FnMut(&[u8])) {
        let mut start = 0;
        let mut from = self.scanned;
        while let Some(pos) = self.rbuf[from..].iter().position(|&b| b == b'\n') {
            let end = from + pos;
            f(&self.rbuf[start..end]);
            start = end + 1;
            from = start;
        }
        self.rbuf.advance(start);
        self.scanned = self.rbuf.len();
    }

    /// Runs the load until `timing.send_end` (or the budget is spent), then waits for
    /// the outstanding responses. Results go to `stats`, shared by the thread's connections.
    pub async fn drive(mut self, plan: &Plan, timing: Timing, stats: &RefCell<Stats>) {
        let mut load = Load {
            outstanding: HashMap::with_capacity(plan.window * 2),
            next_id: 1,
            sending: true,
            wbuf: Vec::with_capacity(plan.window * plan.template.max_len()),
            wpos: 0,
        };
        let mut timer = std::pin::pin!(sleep_until(timing.send_end.into()));
        load.refill(plan, timing, timer.as_mut());
        let failure = loop {
            if !load.sending && load.outstanding.is_empty() {
                break None;
            }
            self.reserve();
            tokio::select! {
                // Writing first: the requests just queued are what the server waits for.
                biased;
                written = self.io.writer.write(&load.wbuf[load.wpos..]),
                    if load.wpos < load.wbuf.len() =>
                {
                    match written {
                        Ok(0) => break Some("the server stopped reading".to_owned()),
                        Ok(n) => load.wrote(n),
                        Err(e) => break Some(format!("write failed: {e}")),
                    }
                }
                read = self.io.reader.read_buf(&mut self.rbuf) => {
                    match read {
                        Ok(0) => break Some("connection closed by the server".to_owned()),
                        Ok(_) => {
                            let now = Instant::now();
                            let mut stats = stats.borrow_mut();
                            self.for_each_line(|line| load.on_line(line, now, plan, timing, &mut stats));
                        }
                        Err(e) => break Some(format!("read failed: {e}")),
                    }
                    load.refill(plan, timing, timer.as_mut());
                }
                () = &mut timer => {
                    if load.sending {
                        load.stop(Instant::now(), timer.as_mut());
                    } else {
                        let missing = load.outstanding.len();
                        stats.borrow_mut().record_errors(ErrorKind::Timeout, missing as u64);
                        report_problem(
                            ErrorKind::Timeout,
                            &format!("{}: {missing} responses missing after {} s", plan.target, DRAIN_TIMEOUT.as_secs()),
                        );
                        break None;
                    }
                }
            }
        };
        if let Some(reason) = failure {
            let lost = load.outstanding.len() as u64;
            stats.borrow_mut().record_errors(ErrorKind::Closed, lost);
            report_problem(
                ErrorKind::Closed,
                &format!("{}: {reason} ({lost} requests unanswered)", plan.target),
            );
        }
        self.close().await;
    }
}

/// Maps a line received during the handshake to its outcome, if it is decisive.
fn initialize_outcome(line: &[u8]) -> Option<Result<(), String>> {
    let shown = || String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
    match classify(line, Scenario::Ping) {
        Verdict::Ignore => None,
        _ if line.iter().all(u8::is_ascii_whitespace) => None,
        Verdict::Response {
            id: Some(0),
            problem: None,
        } => Some(Ok(())),
        Verdict::Response {
            id: Some(0),
            problem: Some(_),
        } => Some(Err(format!("initialize failed: {}", shown()))),
        _ => Some(Err(format!(
            "unexpected line instead of the initialize response: {}",
            shown()
        ))),
    }
}

/// State of the pipelined request loop of one connection.
struct Load {
    /// Send time of every request not answered yet; responses may come in any order.
    outstanding: HashMap<u64, Instant>,
    next_id: u64,
    sending: bool,
    /// Requests queued but not yet (fully) written: `wbuf[wpos..]`.
    wbuf: Vec<u8>,
    wpos: usize,
}

impl Load {
    fn wrote(&mut self, n: usize) {
        self.wpos += n;
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
    }

    fn on_line(
        &mut self,
        line: &[u8],
        now: Instant,
        plan: &Plan,
        timing: Timing,
        stats: &mut Stats,
    ) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let (id, problem) = match classify(line, plan.scenario) {
            Verdict::Ignore => return,
            Verdict::Invalid => (None, Some(ErrorKind::InvalidJson)),
            Verdict::Response { id, problem } => (id, problem),
        };
        let sent = id.and_then(|id| self.outstanding.remove(&id));
        let problem = match sent {
            None => problem.or(Some(ErrorKind::UnknownId)),
            Some(_) => problem,
        };
        match (problem, sent) {
            (Some(kind), _) => {
                stats.record_errors(kind, 1);
                report_line(kind, line);
            }
            // Requests sent during warmup are verified but not counted.
            (None, Some(sent)) if sent >= timing.measure_start => {
                stats.record_ok(now.saturating_duration_since(sent), now);
            }
            (None, _) => {}
        }
    }

    /// Queues new requests for all free window slots, in one buffer.
    fn refill(&mut self, plan: &Plan, timing: Timing, timer: Pin<&mut Sleep>) {
        if !self.sending {
            return;
        }
        let free = plan.window.saturating_sub(self.outstanding.len()) as u64;
        if free == 0 {
            return;
        }
        let now = Instant::now();
        if now >= timing.send_end {
            return self.stop(now, timer);
        }
        let granted = match &plan.budget {
            Some(budget) if now >= timing.measure_start => budget.claim(free),
            _ => free,
        };
        for _ in 0..granted {
            let id = self.next_id;
            self.next_id += 1;
            plan.template.write(id, &mut self.wbuf);
            self.outstanding.insert(id, now);
        }
        if granted < free {
            self.stop(now, timer);
        }
    }

    /// Stops sending; outstanding responses get [`DRAIN_TIMEOUT`] from now.
    fn stop(&mut self, now: Instant, timer: Pin<&mut Sleep>) {
        self.sending = false;
        timer.reset((now + DRAIN_TIMEOUT).into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_grants_until_empty() {
        let b = Budget::new(5);
        assert_eq!(b.claim(3), 3);
        assert!(!b.exhausted());
        assert_eq!(b.claim(3), 2);
        assert!(b.exhausted());
        assert_eq!(b.claim(1), 0);
    }

    #[test]
    fn initialize_response_handling() {
        assert_eq!(
            initialize_outcome(br#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"x"}}"#),
            Some(Ok(()))
        );
        assert_eq!(
            initialize_outcome(br#"{"jsonrpc":"2.0","method":"notifications/message"}"#),
            None
        );
        assert_eq!(initialize_outcome(b"  "), None);
        assert!(matches!(
            initialize_outcome(br#"{"jsonrpc":"2.0","id":0,"error":{"code":1}}"#),
            Some(Err(e)) if e.starts_with("initialize failed")
        ));
        assert!(matches!(initialize_outcome(b"banner"), Some(Err(_))));
    }
}
