//! Soak: a fixed number of mixed requests over many connections that come and go. Each
//! connection runs rounds of pipelined requests (ping, tools/list, healthz, a resource, a
//! backend call) in both protocol eras; some rounds cancel a slow call mid-flight, and some
//! connections are dropped with requests still unanswered. Every answer is checked.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

/// How long one answer may take before the soak counts it missing.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
const MODERN: &str = "2026-07-28";

pub struct SoakPlan {
    pub socket: PathBuf,
    pub connections: usize,
    pub requests: u64,
    /// Requests in flight per round.
    pub window: usize,
    /// Rounds a connection serves before it is closed and opened again.
    pub rounds_per_connection: u64,
    /// Every Nth round ends with a slow call cancelled mid-flight.
    pub cancel_every: u64,
    /// Every Nth connection is dropped with a round unanswered instead of closing cleanly.
    pub drop_every: u64,
    pub resource_uri: Option<String>,
    /// A tool that reaches the backend (answered), and one that is slow (cancelled).
    pub backend_tool: String,
    pub slow_tool: String,
    pub slow_args: Value,
}

#[derive(Default)]
pub struct Counts {
    pub answered: AtomicU64,
    pub errors: AtomicU64,
    pub cancelled: AtomicU64,
    pub cancelled_but_answered: AtomicU64,
    pub connections: AtomicU64,
    pub dropped_mid_call: AtomicU64,
    left: AtomicU64,
}

pub fn run(plan: SoakPlan) -> Result<Value, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let plan = Arc::new(plan);
    let counts = Arc::new(Counts::default());
    counts.left.store(plan.requests, Ordering::Relaxed);
    let started = Instant::now();
    let outcome: Result<(), String> = runtime.block_on(async {
        let tasks: Vec<_> = (0..plan.connections)
            .map(|n| tokio::spawn(connection_loop(plan.clone(), counts.clone(), n as u64)))
            .collect();
        for t in tasks {
            t.await
                .map_err(|e| format!("a connection task failed: {e}"))??;
        }
        Ok(())
    });
    outcome?;
    let secs = started.elapsed().as_secs_f64();
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Ok(json!({
        "requests_answered": get(&counts.answered),
        "errors": get(&counts.errors),
        "cancelled": get(&counts.cancelled),
        "cancelled_but_answered": get(&counts.cancelled_but_answered),
        "connections_opened": get(&counts.connections),
        "connections_dropped_mid_call": get(&counts.dropped_mid_call),
        "seconds": (secs * 100.0).round() / 100.0,
        "rps": (get(&counts.answered) as f64 / secs).round(),
    }))
}

/// Opens connection after connection until the request budget is spent.
async fn connection_loop(
    plan: Arc<SoakPlan>,
    counts: Arc<Counts>,
    slot: u64,
) -> Result<(), String> {
    let mut generation = 0u64;
    loop {
        let serial = generation * plan.connections as u64 + slot;
        generation += 1;
        let modern = serial % 2 == 1;
        let drop_mid_call = plan.drop_every > 0 && serial % plan.drop_every == plan.drop_every - 1;
        let mut conn = Conn::open(&plan.socket, modern).await?;
        counts.connections.fetch_add(1, Ordering::Relaxed);
        for round in 0..plan.rounds_per_connection {
            let want = plan.window as u64;
            let granted = claim(&counts.left, want);
            if granted == 0 {
                return Ok(());
            }
            let cancel =
                plan.cancel_every > 0 && (serial + round).is_multiple_of(plan.cancel_every);
            if let Err(e) = conn.round(&plan, &counts, granted as usize, cancel).await {
                // Counted, and the connection is opened again: the soak goes on to the end.
                eprintln!("soak: connection {serial}: {e}");
                counts.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        if drop_mid_call {
            // Requests sent, nothing read, connection gone: the daemon must drop their work.
            conn.send_unanswered(&plan).await?;
            counts.dropped_mid_call.fetch_add(1, Ordering::Relaxed);
        }
        drop(conn);
    }
}

fn claim(left: &AtomicU64, want: u64) -> u64 {
    let before = left
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
            Some(l.saturating_sub(want))
        })
        .unwrap_or_else(|l| l);
    before.min(want)
}

struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    modern: bool,
    next_id: u64,
    line: String,
}

/// Just what the check needs from an answer; the rest is skipped, not built.
#[derive(Deserialize)]
struct Answer {
    id: Option<Value>,
    method: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
    result: Option<AnswerResult>,
}

#[derive(Deserialize)]
struct AnswerResult {
    #[serde(rename = "isError")]
    is_error: Option<bool>,
}

impl Conn {
    async fn open(socket: &PathBuf, modern: bool) -> Result<Conn, String> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
        let (read, writer) = stream.into_split();
        let mut conn = Conn {
            reader: BufReader::with_capacity(64 * 1024, read),
            writer,
            modern,
            next_id: 0,
            line: String::new(),
        };
        if !modern {
            let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "ide-agents-loadgen", "version": env!("CARGO_PKG_VERSION")}}});
            conn.send(&[
                init,
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            ])
            .await?;
            let answer = conn.next_answer().await?;
            if answer.result.is_none() {
                return Err("initialize failed".into());
            }
        }
        Ok(conn)
    }

    fn request(&mut self, method: &str, mut params: Value) -> (u64, Value) {
        self.next_id += 1;
        if self.modern {
            params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": MODERN});
        }
        let id = self.next_id;
        (
            id,
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
    }

    /// The request for the `n`th slot of a round: a mix of every kind of work.
    fn mixed(&mut self, plan: &SoakPlan, n: usize) -> (u64, Value) {
        let tool = |name: &str| json!({"name": name, "arguments": {}});
        match n % 5 {
            0 => self.request("ping", json!({})),
            1 => self.request("tools/list", json!({})),
            2 => self.request("tools/call", tool("ide_agents_healthz")),
            3 => match &plan.resource_uri {
                Some(uri) => self.request("resources/read", json!({"uri": uri})),
                None => self.request("prompts/list", json!({})),
            },
            _ => self.request("tools/call", tool(&plan.backend_tool)),
        }
    }

    /// Sends `n` requests at once (plus a slow call and its cancellation when `cancel`) and
    /// checks every answer.
    async fn round(
        &mut self,
        plan: &SoakPlan,
        counts: &Counts,
        n: usize,
        cancel: bool,
    ) -> Result<(), String> {
        let mut batch = Vec::with_capacity(n + 2);
        let mut waiting = HashSet::with_capacity(n);
        let mut cancelled = None;
        if cancel {
            let (id, slow) = self.request(
                "tools/call",
                json!({"name": plan.slow_tool, "arguments": plan.slow_args}),
            );
            batch.push(slow);
            batch.push(
                json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": id, "reason": "soak"}}),
            );
            cancelled = Some(id);
            counts.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        for slot in 0..n {
            let (id, req) = self.mixed(plan, slot);
            waiting.insert(id);
            batch.push(req);
        }
        self.send(&batch).await?;
        while !waiting.is_empty() {
            let answer = self.next_answer().await?;
            let Some(id) = answer.id.as_ref().and_then(Value::as_u64) else {
                counts.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if Some(id) == cancelled {
                // The call finished before the cancellation reached it: allowed, and counted.
                counts
                    .cancelled_but_answered
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let ok = waiting.remove(&id)
                && answer.error.is_none()
                && answer.result.is_some_and(|r| r.is_error != Some(true));
            let counter = if ok { &counts.answered } else { &counts.errors };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn send_unanswered(&mut self, plan: &SoakPlan) -> Result<(), String> {
        let (_, slow) = self.request(
            "tools/call",
            json!({"name": plan.slow_tool, "arguments": plan.slow_args}),
        );
        let (_, quick) = self.request("ping", json!({}));
        self.send(&[slow, quick]).await
    }

    async fn send(&mut self, messages: &[Value]) -> Result<(), String> {
        let mut out = Vec::new();
        for m in messages {
            serde_json::to_writer(&mut out, m).map_err(|e| e.to_string())?;
            out.push(b'\n');
        }
        self.writer
            .write_all(&out)
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    /// The next response, skipping notifications.
    async fn next_answer(&mut self) -> Result<Answer, String> {
        loop {
            self.line.clear();
            let read = timeout(ANSWER_TIMEOUT, self.reader.read_line(&mut self.line))
                .await
                .map_err(|_| format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))?;
            match read {
                Ok(0) => return Err("the daemon closed the connection".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
            let answer: Answer = serde_json::from_str(&self.line)
                .map_err(|e| format!("invalid JSON from the daemon ({e}): {}", self.line))?;
            if answer.method.is_none() {
                return Ok(answer);
            }
        }
    }
}
