//! Core tools that reach the agents backend: commands (behind approval), entities,
//! documentation, and the readiness probe.

use super::spec::{Annotations, GroupId, ToolSpec, no_arguments, object_schema};
use super::{
    Asking, CallNotes, CallOutcome, ErrorCode, RetryInput, ToolCall, ToolError, ToolOutput,
    ToolResult, ToolWork, arg_str,
};
use crate::actors::ask_client::ClientAsker;
use crate::actors::backend_pool::{self, BackendPool, ProbeHealth};
use crate::actors::telemetry::AuditLog;
use crate::approvals::{self, Approvals, Decision, Grant, shown};
use crate::backend::encode::percent_encode;
use crate::backend::{BackendCall, Target, unexpected_shape};
use crate::cache::Kind;
use crate::protocol::elicitation::{self, Answer};
use crate::shared::Shared;
use crate::telemetry::AuditEvent;
use actix::Addr;
use futures_util::future::Either;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Instant;

pub const NAMES: [&str; 6] = [
    "ide_agents_run_command",
    "ide_agents_list_entities",
    "ide_agents_fetch_doc",
    "ide_agents_command",
    "ide_agents_catalog",
    "ide_agents_readyz",
];

pub fn specs() -> Vec<ToolSpec> {
    let spec = |name, description, input_schema, annotations| ToolSpec {
        name,
        group: GroupId::Core,
        description,
        input_schema,
        annotations,
    };
    vec![
        spec(
            "ide_agents_run_command",
            "Run an allow-listed command through the agents backend. Needs the user's approval for \
             the exact command string (`ide-agentsd approve <action_id>`); never retried.",
            object_schema(
                json!({
                    "command": {"type": "string", "minLength": 1, "description": "the command line, e.g. `ls -l`"},
                    "payload": {"type": "object", "description": "extra fields for the backend"},
                }),
                &["command"],
            ),
            Annotations::REMOTE_WRITE,
        ),
        spec(
            "ide_agents_list_entities",
            "List the entity mappings the agents backend knows.",
            no_arguments(),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_fetch_doc",
            "Fetch backend documentation on a topic.",
            object_schema(
                // A topic is a word or two; the backend takes it in the URL.
                json!({"topic": {"type": "string", "minLength": 1, "maxLength": 256}}),
                &["topic"],
            ),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_command",
            "Run (with approval), dry-run, or explain a command for the agents backend.",
            object_schema(
                json!({
                    "method": {"type": "string", "enum": ["run", "dry_run", "explain"]},
                    "command": {"type": "string", "minLength": 1},
                    "cwd": {"type": "string"},
                    "timeout": {"type": "number", "minimum": 0, "description": "seconds"},
                    "payload": {"type": "object"},
                }),
                &["method", "command"],
            ),
            Annotations::REMOTE_WRITE,
        ),
        spec(
            "ide_agents_catalog",
            "Browse the backend catalog: list entities, or get documentation for a query.",
            object_schema(
                json!({
                    "method": {"type": "string", "enum": ["list_entities", "get_doc"]},
                    "query": {"type": "string"},
                }),
                &["method"],
            ),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_readyz",
            "Readiness: probes the backend now (concurrent calls share one probe) and checks the logs directory.",
            no_arguments(),
            Annotations::REMOTE_READ,
        ),
    ]
}

const NO_ANSWER_NOTE: &str =
    "the request was sent but no whole answer came back; the command may have run";
const CANCELLED_NOTE: &str =
    "the call was cancelled after it was handed to the backend pool; the command may have run";

/// Audits a command run whose call is dropped before the backend answered.
struct UnansweredRun<'a> {
    tools: &'a BackendTools,
    action_id: Option<String>,
    command: &'a str,
    session: u64,
    armed: bool,
}

impl Drop for UnansweredRun<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.tools.audit(AuditEvent::CommandExecuted {
                action_id: self.action_id.take(),
                command: self.command.to_string(),
                success: None,
                session: Some(self.session),
                note: Some(CANCELLED_NOTE),
            });
        }
    }
}

#[derive(Clone)]
pub struct BackendTools {
    shared: Arc<Shared>,
    pool: Addr<BackendPool>,
    /// Where approval requests and executed commands are recorded.
    audit: Option<AuditLog>,
}

impl BackendTools {
    pub fn new(shared: Arc<Shared>, pool: Addr<BackendPool>, audit: Option<AuditLog>) -> Self {
        BackendTools {
            shared,
            pool,
            audit,
        }
    }

    fn audit(&self, event: AuditEvent) {
        if let Some(audit) = &self.audit {
            audit.emit(event);
        }
    }

    pub fn handles(name: &str) -> bool {
        NAMES.contains(&name)
    }

    pub fn call(&self, call: ToolCall) -> ToolWork {
        let this = self.clone();
        ToolWork::Later(Box::pin(async move {
            let args = &call.args;
            let result = match call.tool.name {
                // Commands may answer with a round that asks the user first.
                "ide_agents_run_command" => {
                    let command = arg_str(args, "command").unwrap_or_default().to_string();
                    let payload = args.get("payload").cloned().unwrap_or_else(|| json!({}));
                    return this.run(&call, command, payload).await;
                }
                "ide_agents_command" => return this.command(&call).await,
                "ide_agents_list_entities" => this.list_entities(&call.ctx.notes).await,
                "ide_agents_fetch_doc" => {
                    let topic = arg_str(args, "topic").unwrap_or_default();
                    this.fetch_doc(topic, &call.ctx.notes).await
                }
                "ide_agents_catalog" => match (arg_str(args, "method"), arg_str(args, "query")) {
                    (Some("get_doc"), Some(q)) if !q.is_empty() => {
                        this.fetch_doc(q, &call.ctx.notes).await
                    }
                    (Some("get_doc"), _) => Err(ToolError::invalid_arguments(
                        "ide_agents_catalog: method get_doc needs `query`, the documentation topic",
                    )),
                    _ => this.list_entities(&call.ctx.notes).await,
                },
                "ide_agents_readyz" => Ok(this.readyz().await),
                other => Err(ToolError::new(
                    ErrorCode::UnknownTool,
                    format!("no backend tool {other}"),
                )),
            };
            result.map(ToolOutput::Value)
        }))
    }

    /// Runs `command` if approved. Otherwise the user is asked when the client can ask them
    /// (a request while the call waits, or a stateless round the client retries), or the call
    /// answers `approval_required` with the action id for `ide-agentsd approve`.
    async fn run(&self, call: &ToolCall, command: String, payload: Value) -> CallOutcome {
        // Where it would run: `ide_agents_command` puts its `cwd` argument in the payload,
        // where `ide_agents_run_command` callers put theirs.
        let cwd = payload.get("cwd").and_then(Value::as_str);
        let question = || elicitation::approval_question(call.tool.name, &command, cwd);
        // A stateless retry that declines is the user's last word, whatever the CLI did since.
        if let Asking::Rounds(retry) = &call.ctx.asking
            && let Some(action_id) = elicitation::declined_round(
                retry.responses.as_ref(),
                retry.state.as_ref(),
                &question(),
            )
        {
            return Err(self.declined_by_user(action_id.to_string(), &command, Instant::now()));
        }
        let decision = self
            .shared
            .approvals
            .check(&command, call.tool.name, Instant::now());
        let grant = match decision {
            Decision::Run { grant } => grant,
            Decision::Ask { action_id, new } => {
                if new {
                    self.audit(AuditEvent::ApprovalRequested {
                        action_id: action_id.clone(),
                        command: command.clone(),
                        session: call.ctx.connection,
                    });
                }
                let answer = match &call.ctx.asking {
                    Asking::Live(asker) => {
                        let approvals = &self.shared.approvals;
                        ask_live(asker, approvals, question(), &action_id).await
                    }
                    Asking::Rounds(retry) => {
                        let RetryInput { responses, state } = &**retry;
                        let question = question();
                        let round = elicitation::round_state(&action_id, &question);
                        match elicitation::retry_answer(responses.as_ref(), state.as_ref(), &round)
                        {
                            Some(answer) => understood(answer),
                            None => {
                                let asked = elicitation::input_required(question, &round);
                                return Ok(ToolOutput::InputRequired(asked));
                            }
                        }
                    }
                    Asking::No => return Err(approval_required(&command, &action_id)),
                };
                Some(self.settle(answer, action_id, &command)?)
            }
        };
        let result = self.send_command(call, command, payload, grant).await;
        result.map(ToolOutput::Value)
    }

    /// The user's answer about `action_id`. The first answer to a pending action settles it:
    /// an accept is a grant for this call, a decline a denial. A dismissal leaves it pending
    /// for `ide-agentsd approve`. An answer that finds it settled already runs nothing,
    /// unless the CLI approved it meanwhile.
    fn settle(&self, answer: Answer, action_id: String, command: &str) -> Result<Grant, ToolError> {
        let approvals = &self.shared.approvals;
        let now = Instant::now();
        match answer {
            // Only the answer that settles a pending action counts as that action's.
            Answer::Accept if approvals.settle_asked(&action_id, command, now) => {
                self.audit(AuditEvent::ApprovalGranted {
                    action_id: action_id.clone(),
                    command: command.to_string(),
                    ttl_secs: None,
                    via: Some(elicitation::METHOD),
                });
                Ok(Approvals::asked_grant(&action_id, now))
            }
            Answer::Decline => Err(self.declined_by_user(action_id, command, now)),
            Answer::Cancel if approvals.is_pending(&action_id, now) => {
                Err(approval_required(command, &action_id))
            }
            // The action was settled elsewhere while the user was asked (the CLI, another
            // call's answer, its expiry): a CLI approval is used now, once; a denial or an
            // expiry stands, whatever this question's answer.
            Answer::Accept | Answer::Cancel => approvals
                .take_grant(command, &action_id, now)
                .ok_or_else(|| settled_elsewhere(command)),
        }
    }

    /// The user declined `command` in their client: the pending action is settled as denied,
    /// or, if the CLI approved it meanwhile, that approval is dropped, since the user's last
    /// word is no.
    fn declined_by_user(&self, action_id: String, command: &str, now: Instant) -> ToolError {
        let approvals = &self.shared.approvals;
        if approvals.settle_asked(&action_id, command, now) {
            self.audit(AuditEvent::ApprovalDenied {
                action_id,
                command: command.to_string(),
                via: Some(elicitation::METHOD),
            });
        } else {
            approvals.take_grant(command, &action_id, now);
        }
        declined(command)
    }

    /// `POST /command` for an approved (or auto-approved) command, audited as executed.
    async fn send_command(
        &self,
        call: &ToolCall,
        command: String,
        payload: Value,
        grant: Option<Grant>,
    ) -> ToolResult {
        let session = call.ctx.connection;
        let request = BackendCall::post_once(
            Target::Backend,
            "/command",
            json!({"command": command, "payload": payload}),
        );
        // Armed while the answer is owed: a call dropped here (cancelled, or its
        // client gone) may still have run the command, so the log says so.
        let mut unanswered = UnansweredRun {
            tools: self,
            action_id: grant.as_ref().map(|g| g.action_id.clone()),
            command: &command,
            session,
            armed: true,
        };
        let reply = backend_pool::call(&self.pool, request).await;
        unanswered.armed = false;
        drop(unanswered);
        if let Err(e) = &reply
            && e.never_sent()
        {
            // Not executed: no audit entry says it was, and the approval stays.
            if let Some(grant) = grant {
                self.shared
                    .approvals
                    .give_back(&command, grant, Instant::now());
            }
            return Err(e.to_tool_error());
        }
        let (success, note) = match &reply {
            Ok(_) => (Some(true), None),
            Err(e) if e.maybe_processed() => (None, Some(NO_ANSWER_NOTE)),
            Err(_) => (Some(false), None),
        };
        self.audit(AuditEvent::CommandExecuted {
            action_id: grant.map(|g| g.action_id),
            command,
            success,
            session: Some(session),
            note,
        });
        let reply = reply.map_err(|e| e.to_tool_error())?;
        call.ctx.notes.backend_status(reply.status);
        Ok(as_object(reply.body))
    }

    async fn command(&self, call: &ToolCall) -> CallOutcome {
        let args = &call.args;
        let command = arg_str(args, "command").unwrap_or_default().to_string();
        let mut payload = match args.get("payload") {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        for key in ["cwd", "timeout"] {
            if let Some(v) = args.get(key) {
                payload.insert(key.to_string(), v.clone());
            }
        }
        let payload = Value::Object(payload);
        match arg_str(args, "method") {
            Some("run") => self.run(call, command, payload).await,
            Some("dry_run") => Ok(ToolOutput::Value(
                json!({"dry_run": true, "command": command, "payload": payload}),
            )),
            _ => {
                let program = command.split_whitespace().next().unwrap_or("");
                let argc = command.split_whitespace().count().saturating_sub(1);
                let explanation = format!(
                    "`{}` would be sent to the agents backend at {}, which runs `{program}` with {argc} \
                     argument(s) directly (no shell) if it is on its allow-list. Running it needs your \
                     approval for this exact command unless it matches IDE_AGENTS_AUTO_APPROVE.",
                    shown(&command),
                    self.shared.config.backend_url
                );
                Ok(ToolOutput::Value(
                    json!({"explanation": explanation, "command": command, "payload": payload}),
                ))
            }
        }
    }

    /// `GET /entities/mappings`, through the cache (60 s).
    async fn list_entities(&self, notes: &CallNotes) -> ToolResult {
        let load = async {
            let call = BackendCall::get(Target::Backend, "/entities/mappings");
            let reply = backend_pool::call(&self.pool, call)
                .await
                .map_err(|e| e.to_tool_error())?;
            notes.backend_status(reply.status);
            let entities = match reply.body {
                Value::Object(mut o) if o.get("entities").is_some_and(Value::is_array) => {
                    o.remove("entities").unwrap_or_default()
                }
                list @ Value::Array(_) => list,
                other => {
                    return Err(unexpected_shape(
                        "The agents backend",
                        "/entities/mappings",
                        reply.status,
                        &other,
                        "the list of entities",
                    ));
                }
            };
            Ok(json!({ "entities": entities }))
        };
        self.cached("entities", load, notes).await
    }

    /// `GET /documentation?topic=…`, through the cache (60 s) keyed by topic.
    async fn fetch_doc(&self, topic: &str, notes: &CallNotes) -> ToolResult {
        let load = async {
            let call = BackendCall::get(
                Target::Backend,
                format!("/documentation?topic={}", percent_encode(topic)),
            );
            let reply = backend_pool::call(&self.pool, call).await.map_err(|e| {
                let mut t = e.to_tool_error();
                if t.code == ErrorCode::NotFound {
                    t.message = format!("No documentation for topic {topic:?}.");
                }
                t
            })?;
            notes.backend_status(reply.status);
            Ok(json!({ "documentation": reply.body }))
        };
        self.cached(&format!("doc:{topic}"), load, notes).await
    }

    /// A backend lookup through the shared cache: a hit answers without the backend,
    /// concurrent misses share one request, errors are not kept.
    async fn cached(
        &self,
        key: &str,
        load: impl std::future::Future<Output = ToolResult>,
        notes: &CallNotes,
    ) -> ToolResult {
        let cached = self.shared.cache.fetch(key, Kind::Backend, load).await?;
        notes.cache(cached.hit);
        Ok(Arc::unwrap_or_clone(cached.value))
    }

    async fn readyz(&self) -> Value {
        let health = match self.pool.send(ProbeHealth).await {
            Ok(h) => h,
            Err(_) => self.shared.health.latest(),
        };
        // The last writes succeeded, and the directory still takes new files.
        let telemetry_writable = self.shared.telemetry.stats.writable()
            && crate::telemetry::log_file::dir_writable(&self.shared.config.logs_dir);
        let ready = health.ok == Some(true) && telemetry_writable;
        json!({
            "status": if ready { "ready" } else { "degraded" },
            "backend_ok": health.ok.unwrap_or(false),
            "telemetry_writable": telemetry_writable,
            "backend_latency_ms": health.latency_ms,
            "backend_error": health.error,
        })
    }
}

/// Asks the user through the client while the call waits; anything but an answer (the
/// client gone, an error, no answer within the pending action's life) is a dismissal.
///
/// The CLI may settle the action meanwhile (`ide-agentsd approve` or `deny`): then the
/// question is withdrawn (dropping the ask tells the client) and the call goes on as if it
/// had been dismissed, which uses a CLI approval or reports the denial.
async fn ask_live(
    asker: &ClientAsker,
    approvals: &Approvals,
    question: Value,
    action_id: &str,
) -> Answer {
    let ask = asker.ask(elicitation::METHOD, question, approvals::PENDING_TTL);
    let mut ask = std::pin::pin!(ask);
    loop {
        // Registered before the check, so a settle between the two is not missed.
        let mut settled = std::pin::pin!(approvals.settled());
        settled.as_mut().enable();
        if !approvals.is_pending(action_id, Instant::now()) {
            return Answer::Cancel;
        }
        match futures_util::future::select(ask.as_mut(), settled).await {
            Either::Left((Ok(result), _)) => return understood(elicitation::read_answer(&result)),
            Either::Left((Err(e), _)) => {
                log::debug!(
                    "{} for {action_id} got no answer: {e:?}",
                    elicitation::METHOD
                );
                return Answer::Cancel;
            }
            // Something was settled: this action, or another one.
            Either::Right(((), _)) => continue,
        }
    }
}

/// An answer that is not one of the three actions counts as a dismissal.
fn understood(answer: Result<Answer, String>) -> Answer {
    answer.unwrap_or_else(|e| {
        log::warn!("{} answer not understood: {e}", elicitation::METHOD);
        Answer::Cancel
    })
}

/// The action a dismissed question was about is gone: approved, denied or expired while the
/// call waited. Calling again asks anew (or runs, if it was approved).
fn settled_elsewhere(command: &str) -> ToolError {
    ToolError::new(
        ErrorCode::ApprovalRequired,
        format!(
            "While you were asked, the approval for `{}` was settled elsewhere (approved, denied \
             or expired); it did not run here. Call the tool again.",
            shown(command)
        ),
    )
    .with("command", shown(command))
}

/// The user declined the command in their client: it did not run, and asking again asks
/// them again.
fn declined(command: &str) -> ToolError {
    ToolError::new(
        ErrorCode::ApprovalRequired,
        format!(
            "You declined running `{}`; it did not run. Calling the tool again asks you again.",
            shown(command)
        ),
    )
    .with("declined", true)
    .with("command", shown(command))
}

pub fn approval_required(command: &str, action_id: &str) -> ToolError {
    ToolError::new(
        ErrorCode::ApprovalRequired,
        format!(
            "Running `{}` needs your approval: run `ide-agentsd approve {action_id}` (or `ide-agentsd deny {action_id}`), then call the tool again.",
            shown(command)
        ),
    )
    .with("action_id", action_id)
    .with("hint", format!("ide-agentsd approve {action_id}"))
    .with("command", shown(command))
}

/// Tool results are objects; a bare backend value is wrapped as `{result: …}`.
fn as_object(body: Value) -> Value {
    match body {
        Value::Object(_) => body,
        other => json!({ "result": other }),
    }
}
