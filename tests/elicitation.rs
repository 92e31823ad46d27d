//! Approvals asked in the client (SPEC §9): a client that declared the `elicitation`
//! capability is asked with `elicitation/create` before a command runs, and its user's
//! answer decides, instead of an `approval_required` error and `ide-agentsd approve`.

mod common;

use common::{Backend, Client, Daemon, daemon_for, json_lines};
use serde_json::{Value, json};

const RUN_ID: i64 = 1;

/// A legacy session whose client takes forms, asked about one command it ran.
struct Asked {
    backend: Backend,
    d: Daemon,
    c: Client,
    /// The `elicitation/create` request.
    asked: Value,
}

fn asked_about(command: &str) -> Asked {
    let backend = Backend::start();
    let d = start(&backend);
    let mut c = asking_client(&d);
    run(&mut c, command);
    let asked = question(&mut c);
    Asked {
        backend,
        d,
        c,
        asked,
    }
}

/// A daemon on `backend` whose audit log is written when it stops.
fn start(backend: &Backend) -> Daemon {
    daemon_for(backend)
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start()
}

/// A client that did the handshake in `version`, declaring `capabilities`.
fn client(d: &Daemon, version: &str, capabilities: Value) -> Client {
    let mut c = d.client();
    let r = c.call(
        "initialize",
        json!({"protocolVersion": version, "capabilities": capabilities,
               "clientInfo": {"name": "asked", "version": "0"}}),
    );
    assert_eq!(r["result"]["protocolVersion"], version, "{r}");
    c.notify("notifications/initialized", json!({}));
    c
}

fn asking_client(d: &Daemon) -> Client {
    client(d, "2025-11-25", json!({"elicitation": {}}))
}

/// Calls `ide_agents_run_command` for `command` (request id [`RUN_ID`]).
fn run(c: &mut Client, command: &str) {
    run_with(c, json!({ "command": command }));
}

fn run_with(c: &mut Client, arguments: Value) {
    c.request(
        json!(RUN_ID),
        "tools/call",
        json!({"name": "ide_agents_run_command", "arguments": arguments}),
    );
}

/// The next message, which must be the daemon's `elicitation/create` request.
fn question(c: &mut Client) -> Value {
    let asked = c.read().expect("the daemon closed instead of asking");
    assert_eq!(asked["method"], "elicitation/create", "{asked}");
    assert!(
        asked["id"].is_string() || asked["id"].is_number(),
        "{asked}"
    );
    asked
}

fn answer(c: &mut Client, asked: &Value, action: &str) {
    c.send(&json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": action}}));
}

/// The result of the run call, skipping anything else.
fn run_result(c: &mut Client) -> Value {
    loop {
        let msg = c.read().expect("the daemon closed before answering");
        if msg["id"] == json!(RUN_ID) {
            return msg["result"].clone();
        }
    }
}

fn error_code(result: &Value) -> &str {
    result["structuredContent"]["error"]["code"]
        .as_str()
        .unwrap_or_default()
}

fn pending(c: &mut Client) -> Vec<Value> {
    let listed = c.call_modern("ide-agents/approvals/list", json!({}));
    listed["result"]["pending"].as_array().cloned().unwrap()
}

/// Stops the daemon; its audit lines.
fn audit_on_stop(d: &mut Daemon) -> Vec<Value> {
    d.signal(libc::SIGTERM);
    assert!(d.wait_exit().success());
    json_lines(&d.dir.path().join("logs/security_audit.jsonl"))
}

#[test]
fn a_command_the_user_accepts_in_the_client_runs_once_and_is_audited() {
    let Asked {
        backend,
        mut d,
        mut c,
        asked,
    } = asked_about("echo asked in the IDE");
    let message = asked["params"]["message"].as_str().unwrap();
    assert!(message.contains("echo asked in the IDE"), "{message}");
    assert!(message.contains("ide_agents_run_command"), "{message}");
    assert_eq!(asked["params"]["requestedSchema"]["type"], "object");
    // Nothing runs while the user decides.
    assert_eq!(backend.hits("POST /command"), 0);
    answer(&mut c, &asked, "accept");
    let ran = run_result(&mut c);
    assert_eq!(ran["isError"], false, "{ran}");
    assert_eq!(backend.hits("POST /command"), 1);
    assert!(pending(&mut c).is_empty());
    // The accept was for that call alone: the next run asks again.
    run(&mut c, "echo asked in the IDE");
    let again = question(&mut c);
    answer(&mut c, &again, "decline");
    run_result(&mut c);

    let lines = audit_on_stop(&mut d);
    assert_eq!(
        common::audit_kinds(&lines),
        common::RAN_ONCE_THEN_DENIED,
        "{lines:?}"
    );
    let action_id = &lines[0]["action_id"];
    assert_eq!(&lines[1]["action_id"], action_id);
    assert_eq!(lines[1]["via"], "elicitation/create");
    assert_eq!(lines[1].get("ttl_secs"), None, "{:?}", lines[1]);
    assert_eq!(&lines[2]["action_id"], action_id);
    assert_eq!(lines[2]["success"], true);
    assert_eq!(lines[4]["via"], "elicitation/create");
}

#[test]
fn a_command_the_user_declines_does_not_run_and_its_action_is_settled() {
    let Asked {
        backend,
        d: _d,
        mut c,
        asked,
    } = asked_about("whoami");
    answer(&mut c, &asked, "decline");
    let refused = run_result(&mut c);
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(error_code(&refused), "approval_required", "{refused}");
    assert_eq!(refused["structuredContent"]["error"]["declined"], true);
    let text = refused["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("declined"), "{text}");
    assert_eq!(backend.hits("POST /command"), 0);
    assert!(
        pending(&mut c).is_empty(),
        "a declined action is not left pending"
    );
}

#[test]
fn the_question_says_where_the_command_would_run() {
    let backend = Backend::start();
    let d = start(&backend);
    let mut c = asking_client(&d);
    run_with(
        &mut c,
        json!({"command": "ls", "payload": {"cwd": "/srv/app"}}),
    );
    let asked = question(&mut c);
    let message = asked["params"]["message"].as_str().unwrap();
    assert!(message.contains("once in /srv/app:"), "{message}");
    answer(&mut c, &asked, "decline");
    run_result(&mut c);
}

#[test]
fn the_answer_that_settles_an_action_withdraws_the_other_questions_about_it() {
    let backend = Backend::start();
    let d = start(&backend);
    let (mut a, mut b) = (asking_client(&d), asking_client(&d));
    run(&mut a, "echo twice");
    let asked_a = question(&mut a);
    run(&mut b, "echo twice");
    let asked_b = question(&mut b);
    answer(&mut a, &asked_a, "accept");
    assert_eq!(run_result(&mut a)["isError"], false);
    withdrawn(&mut b, &asked_b);
    says_settled_elsewhere(&run_result(&mut b));
    // One action, one run: a second accept of it finds it settled too.
    let mut third = asking_client(&d);
    run(&mut third, "echo twice");
    let asked_third = question(&mut third);
    let mut fourth = asking_client(&d);
    run(&mut fourth, "echo twice");
    let asked_fourth = question(&mut fourth);
    answer(&mut third, &asked_third, "accept");
    assert_eq!(run_result(&mut third)["isError"], false);
    answer(&mut fourth, &asked_fourth, "accept");
    says_settled_elsewhere(&run_result(&mut fourth));
    assert_eq!(backend.hits("POST /command"), 2);
}

/// `result` says its action was settled elsewhere, without the id of an action that is gone.
fn says_settled_elsewhere(result: &Value) {
    assert_eq!(error_code(result), "approval_required", "{result}");
    let error = &result["structuredContent"]["error"];
    assert_eq!(error.get("action_id"), None, "{result}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("settled elsewhere"), "{result}");
}

#[test]
fn a_dismissed_question_leaves_the_action_pending_for_the_cli() {
    let Asked {
        backend,
        d: _d,
        mut c,
        asked,
    } = asked_about("pwd");
    answer(&mut c, &asked, "cancel");
    let asked_result = run_result(&mut c);
    assert_eq!(error_code(&asked_result), "approval_required");
    let action_id = asked_result["structuredContent"]["error"]["action_id"]
        .as_str()
        .expect("the action id for `ide-agentsd approve`")
        .to_string();
    let listed = pending(&mut c);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["action_id"], action_id.as_str());
    assert_eq!(backend.hits("POST /command"), 0);
    // Approved from the CLI, the next call runs without asking.
    let approve = c.call_modern(
        "ide-agents/approvals/approve",
        json!({ "action_id": action_id }),
    );
    assert_eq!(approve["result"]["approved"], true, "{approve}");
    run(&mut c, "pwd");
    let ran = c.read().unwrap();
    assert_eq!(ran["id"], json!(RUN_ID), "answered, not asked: {ran}");
    assert_eq!(ran["result"]["isError"], false, "{ran}");
    assert_eq!(backend.hits("POST /command"), 1);
}

#[test]
fn an_error_or_an_unreadable_answer_leaves_the_action_pending() {
    let Asked {
        backend,
        d: _d,
        mut c,
        asked,
    } = asked_about("date");
    c.send(&json!({"jsonrpc": "2.0", "id": asked["id"],
                   "error": {"code": -32601, "message": "no forms here"}}));
    let first = run_result(&mut c);
    assert_eq!(error_code(&first), "approval_required", "{first}");
    run(&mut c, "date");
    let asked = question(&mut c);
    answer(&mut c, &asked, "sure");
    let second = run_result(&mut c);
    assert_eq!(error_code(&second), "approval_required", "{second}");
    assert_eq!(pending(&mut c).len(), 1);
    assert_eq!(backend.hits("POST /command"), 0);
}

#[test]
fn clients_that_cannot_be_asked_get_approval_required_at_once() {
    let backend = Backend::start();
    let d = start(&backend);
    let cases = [
        // The capability does not exist before 2025-06-18.
        ("2025-03-26", json!({"elicitation": {}})),
        ("2025-11-25", json!({})),
        // URL mode only: no forms.
        ("2025-11-25", json!({"elicitation": {"url": {}}})),
    ];
    for (version, capabilities) in cases {
        let mut c = client(&d, version, capabilities.clone());
        run(&mut c, "ls");
        let first = c.read().unwrap();
        assert_eq!(
            first["id"],
            json!(RUN_ID),
            "{version} {capabilities}: {first}"
        );
        assert_eq!(error_code(&first["result"]), "approval_required");
    }
    // A stateless-era call on an asking session is not asked either: that era declares no
    // capability in a handshake.
    let mut c = asking_client(&d);
    let r = c.call_tool("ide_agents_run_command", json!({"command": "ls"}));
    assert_eq!(error_code(&r), "approval_required", "{r}");
    assert_eq!(backend.hits("POST /command"), 0);
}

#[test]
fn a_call_cancelled_while_asking_withdraws_the_question() {
    let Asked {
        backend,
        d: _d,
        mut c,
        asked,
    } = asked_about("echo never");
    c.notify("notifications/cancelled", json!({"requestId": RUN_ID}));
    withdrawn(&mut c, &asked);
    // A late accept runs nothing and settles nothing: the action still waits, and the
    // same command run again is asked about again.
    answer(&mut c, &asked, "accept");
    let pong = c.call("ping", json!({}));
    assert_eq!(pong["result"], json!({}), "{pong}");
    only_pending(&mut c);
    run(&mut c, "echo never");
    question(&mut c);
    assert_eq!(backend.hits("POST /command"), 0);
}

#[test]
fn a_client_that_stops_sending_while_asked_gets_its_answer_and_the_close() {
    let backend = Backend::start();
    let d = start(&backend);
    let mut c = asking_client(&d);
    run(&mut c, "echo half");
    question(&mut c);
    // It can no longer answer the question: the call is answered without waiting.
    c.shutdown_write();
    let r = run_result(&mut c);
    assert_eq!(error_code(&r), "approval_required", "{r}");
    assert!(c.read().is_none(), "the session closes once answered");
    assert_eq!(backend.hits("POST /command"), 0);
}

/// A stateless-era `ide_agents_run_command` call from a client that takes forms, with the
/// retry's `extra` params (`inputResponses`, `requestState`); its result.
fn stateless_run(c: &mut Client, command: &str, extra: Value) -> Value {
    let mut params = json!({
        "name": "ide_agents_run_command",
        "arguments": {"command": command},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        },
    });
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    let r = c.call("tools/call", params);
    r.get("result").cloned().unwrap_or_else(|| panic!("{r}"))
}

/// The round's question and state, checking its shape.
fn asked_round(result: &Value, command: &str) -> String {
    assert_eq!(result["resultType"], "input_required", "{result}");
    let question = &result["inputRequests"]["approval"];
    assert_eq!(question["method"], "elicitation/create", "{result}");
    let message = question["params"]["message"].as_str().unwrap();
    assert!(message.contains(command), "{message}");
    assert_eq!(question["params"]["requestedSchema"]["type"], "object");
    assert!(
        result.get("content").is_none(),
        "a round is not a tool result: {result}"
    );
    result["requestState"].as_str().unwrap().to_string()
}

fn retry(state: &str, action: &str) -> Value {
    json!({"inputResponses": {"approval": {"action": action}}, "requestState": state})
}

#[test]
fn a_stateless_call_asks_in_a_round_and_its_accepted_retry_runs_the_command_once() {
    let backend = Backend::start();
    let mut d = start(&backend);
    let mut c = d.client();
    let first = stateless_run(&mut c, "echo round trip", json!({}));
    let state = asked_round(&first, "echo round trip");
    // The round's state names the pending action, which the CLI lists too.
    let listed = pending(&mut c);
    assert_eq!(listed.len(), 1);
    let action_id = listed[0]["action_id"].as_str().unwrap().to_string();
    assert!(state.starts_with(&format!("{action_id}.")), "{state}");
    assert_eq!(backend.hits("POST /command"), 0);

    let ran = stateless_run(&mut c, "echo round trip", retry(&state, "accept"));
    assert_eq!(ran["isError"], false, "{ran}");
    assert_eq!(ran["resultType"], "complete", "{ran}");
    assert_eq!(backend.hits("POST /command"), 1);
    assert!(pending(&mut c).is_empty());
    // The same accept sent again is for a round that is over: it is asked anew, not run.
    let replayed = stateless_run(&mut c, "echo round trip", retry(&state, "accept"));
    assert_ne!(asked_round(&replayed, "echo round trip"), state);
    assert_eq!(backend.hits("POST /command"), 1);

    let lines = audit_on_stop(&mut d);
    let granted: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "approval_granted")
        .collect();
    assert_eq!(granted.len(), 1, "{lines:?}");
    assert_eq!(granted[0]["action_id"], action_id.as_str());
    assert_eq!(granted[0]["via"], "elicitation/create");
}

#[test]
fn a_stateless_decline_refuses_and_a_state_not_handed_out_is_asked_anew() {
    let backend = Backend::start();
    let d = start(&backend);
    let mut c = d.client();
    let state = asked_round(&stateless_run(&mut c, "whoami", json!({})), "whoami");
    // An accept for a state this daemon never handed out runs nothing.
    let forged = stateless_run(&mut c, "whoami", retry("0000000000000000", "accept"));
    assert_eq!(
        asked_round(&forged, "whoami"),
        state,
        "still the same pending action"
    );
    // Nor does an accept of this round for another command.
    let other = stateless_run(&mut c, "date", retry(&state, "accept"));
    asked_round(&other, "date");
    assert_eq!(backend.hits("POST /command"), 0);

    // Nor an accept of this round for the same command where it would run elsewhere.
    let mut moved = retry(&state, "accept");
    moved["arguments"] = json!({"command": "whoami", "payload": {"cwd": "/etc"}});
    let elsewhere = stateless_run(&mut c, "whoami", moved);
    assert_ne!(asked_round(&elsewhere, "once in /etc"), state);
    assert_eq!(backend.hits("POST /command"), 0);

    let refused = stateless_run(&mut c, "whoami", retry(&state, "decline"));
    assert_eq!(error_code(&refused), "approval_required", "{refused}");
    assert_eq!(refused["structuredContent"]["error"]["declined"], true);
    // The declined action is settled; the other command's stays pending.
    let listed = pending(&mut c);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["command"], "date");
    assert_eq!(backend.hits("POST /command"), 0);
}

/// Approves or denies `action_id` through the control method the CLI uses.
fn from_the_cli(d: &Daemon, verb: &str, action_id: &str) -> Value {
    let r = d.client().call_modern(
        &format!("ide-agents/approvals/{verb}"),
        json!({ "action_id": action_id }),
    );
    r["result"].clone()
}

/// The pending action the question on `c`'s call is about.
fn only_pending(c: &mut Client) -> String {
    let listed = pending(c);
    assert_eq!(listed.len(), 1, "{listed:?}");
    listed[0]["action_id"].as_str().unwrap().to_string()
}

/// The next message is the daemon withdrawing question `asked`.
fn withdrawn(c: &mut Client, asked: &Value) {
    let msg = c
        .read()
        .expect("the daemon closed instead of withdrawing the question");
    assert_eq!(msg["method"], "notifications/cancelled", "{msg}");
    assert_eq!(msg["params"]["requestId"], asked["id"]);
}

#[test]
fn a_cli_denial_while_the_user_is_asked_withdraws_the_question_and_stands() {
    let Asked {
        backend,
        mut d,
        mut c,
        asked,
    } = asked_about("echo denied in the cli");
    let action_id = only_pending(&mut c);
    assert_eq!(from_the_cli(&d, "deny", &action_id)["denied"], true);
    withdrawn(&mut c, &asked);
    says_settled_elsewhere(&run_result(&mut c));
    // The user's accept of the withdrawn question, arriving late, changes nothing.
    answer(&mut c, &asked, "accept");
    assert_eq!(c.call("ping", json!({}))["result"], json!({}));
    assert_eq!(backend.hits("POST /command"), 0);
    let lines = audit_on_stop(&mut d);
    assert!(
        !lines.iter().any(|l| l["type"] == "approval_granted"),
        "{lines:?}"
    );
}

#[test]
fn a_cli_approval_while_the_user_is_asked_runs_the_command_once() {
    let Asked {
        backend,
        d,
        mut c,
        asked,
    } = asked_about("echo approved in the cli");
    let action_id = only_pending(&mut c);
    assert_eq!(from_the_cli(&d, "approve", &action_id)["approved"], true);
    withdrawn(&mut c, &asked);
    let r = run_result(&mut c);
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(backend.hits("POST /command"), 1);
    // The approval was used by that call: a session that cannot ask is asked again.
    let mut plain = client(&d, "2025-11-25", json!({}));
    run(&mut plain, "echo approved in the cli");
    let again = plain.read().unwrap();
    assert_eq!(error_code(&again["result"]), "approval_required", "{again}");
    assert_eq!(backend.hits("POST /command"), 1);
}

#[test]
fn a_question_the_client_cancels_is_a_dismissal() {
    let Asked {
        backend,
        d: _d,
        mut c,
        asked,
    } = asked_about("echo cancelled by the client");
    c.notify("notifications/cancelled", json!({"requestId": asked["id"]}));
    let r = run_result(&mut c);
    assert_eq!(error_code(&r), "approval_required", "{r}");
    let action_id = r["structuredContent"]["error"]["action_id"]
        .as_str()
        .unwrap();
    assert_eq!(only_pending(&mut c), action_id);
    assert_eq!(backend.hits("POST /command"), 0);
}

#[test]
fn a_stop_while_the_user_is_asked_withdraws_the_question() {
    let Asked {
        backend,
        mut d,
        mut c,
        asked,
    } = asked_about("echo stopped");
    d.signal(libc::SIGTERM);
    withdrawn(&mut c, &asked);
    run_result(&mut c);
    assert!(d.wait_exit().success());
    assert_eq!(backend.hits("POST /command"), 0);
}

#[test]
fn a_stateless_decline_stands_over_a_cli_approval_given_meanwhile() {
    let backend = Backend::start();
    let d = start(&backend);
    let mut c = d.client();
    let state = asked_round(&stateless_run(&mut c, "pwd", json!({})), "pwd");
    let action_id = only_pending(&mut c);
    assert_eq!(from_the_cli(&d, "approve", &action_id)["approved"], true);
    // The user, still looking at the question in the IDE, says no.
    let refused = stateless_run(&mut c, "pwd", retry(&state, "decline"));
    assert_eq!(error_code(&refused), "approval_required", "{refused}");
    assert_eq!(refused["structuredContent"]["error"]["declined"], true);
    // The CLI's approval went with it: the next call is asked again.
    asked_round(&stateless_run(&mut c, "pwd", json!({})), "pwd");
    assert_eq!(backend.hits("POST /command"), 0);
}
