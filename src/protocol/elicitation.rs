//! Asking the user through their client (`elicitation/create`): which clients can be asked,
//! the question for a command that needs approval, and what the answer says. In 2025-06-18
//! and 2025-11-25 sessions the session sends the question as a request and matches its
//! answer; in the stateless 2026-07-28 a call answers that input is required, and the
//! client retries it with the answer (multi round-trip requests).

use super::version::{META_CAPABILITIES_KEY, MODERN_VERSION};
use crate::visible::printable;
use serde_json::{Map, Value, json};

/// The method of the request the daemon sends.
pub const METHOD: &str = "elicitation/create";

/// Whether a session that negotiated `version`, whose client declared `capabilities` in
/// `initialize`, can be asked with a form. The capability exists from 2025-06-18; from
/// 2025-11-25 it may name its modes, and an empty object still means form.
pub fn client_takes_forms(version: &str, capabilities: Option<&Value>) -> bool {
    if !matches!(version, "2025-06-18" | "2025-11-25" | "2026-07-28") {
        return false;
    }
    match capabilities.and_then(|c| c.get("elicitation")) {
        Some(Value::Object(modes)) => modes.is_empty() || modes.contains_key("form"),
        _ => false,
    }
}

/// The key of the approval question in a round's `inputRequests`, and of its answer in the
/// retry's `inputResponses`.
pub const APPROVAL_KEY: &str = "approval";

/// The state a stateless round hands out: the pending action it asks about, and a digest of
/// the question as shown, so that a retry counts only for a call that would show the same
/// question (the same tool, command and directory). Not a secret: it names the round.
pub fn round_state(action_id: &str, question: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut digest = std::hash::DefaultHasher::new();
    question["message"]
        .as_str()
        .unwrap_or_default()
        .hash(&mut digest);
    format!("{action_id}.{:016x}", digest.finish())
}

/// The `tools/call` result of a stateless round that asks `question`; `state` comes back
/// with the retry.
pub fn input_required(question: Value, state: &str) -> Value {
    json!({
        "resultType": "input_required",
        "inputRequests": {APPROVAL_KEY: {"method": METHOD, "params": question}},
        "requestState": state,
    })
}

/// What a retry answered to the round whose state was `state`: `None` when it is not a
/// retry of that round (no state, another state, or no answer under [`APPROVAL_KEY`]), so
/// the question is asked anew. The state is the client's to echo, never trusted beyond
/// naming the round.
pub fn retry_answer(
    responses: Option<&Value>,
    echoed_state: Option<&Value>,
    state: &str,
) -> Option<Result<Answer, String>> {
    if echoed_state.and_then(Value::as_str) != Some(state) {
        return None;
    }
    responses?.get(APPROVAL_KEY).map(read_answer)
}

/// Whether the stateless request whose `_meta` this is declared a client that takes forms.
pub fn stateless_client_takes_forms(meta: &Map<String, Value>) -> bool {
    client_takes_forms(MODERN_VERSION, meta.get(META_CAPABILITIES_KEY))
}

/// The action a stateless retry declines: its state names a round that asked `question`
/// (this call's question) and its answer is a decline. Read before anything else about the
/// call, so that an approval given meanwhile in the CLI does not run what the user refused.
pub fn declined_round<'a>(
    responses: Option<&Value>,
    echoed_state: Option<&'a Value>,
    question: &Value,
) -> Option<&'a str> {
    let state = echoed_state?.as_str()?;
    let (action_id, _) = state.split_once('.')?;
    let declined = round_state(action_id, question) == state
        && retry_answer(responses, echoed_state, state) == Some(Ok(Answer::Decline));
    declined.then_some(action_id)
}

/// What the user chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Decline,
    /// Dismissed without a choice.
    Cancel,
}

/// The question before `tool` runs `command` (in `cwd`, when the call names one): the
/// command is shown whole, since the person deciding must see what would run, and
/// [`printable`]: a line break or an escape sequence in it cannot fake the question's own
/// text. Accepting runs it once; the form asks for nothing else.
pub fn approval_question(tool: &str, command: &str, cwd: Option<&str>) -> Value {
    let place = cwd
        .map(|d| format!(" in {}", printable(d)))
        .unwrap_or_default();
    json!({
        "message": format!(
            "{tool} asks to run this command once{place}:\n\n{}\n\n\
             Accept to run it, decline to refuse it.",
            printable(command)
        ),
        "requestedSchema": {"type": "object", "properties": {}},
    })
}

/// Reads an `elicitation/create` result; what is not one of the three actions is an error
/// saying what came instead.
pub fn read_answer(result: &Value) -> Result<Answer, String> {
    match result.get("action") {
        Some(Value::String(a)) if a == "accept" => Ok(Answer::Accept),
        Some(Value::String(a)) if a == "decline" => Ok(Answer::Decline),
        Some(Value::String(a)) if a == "cancel" => Ok(Answer::Cancel),
        Some(Value::String(a)) => Err(format!(
            "unknown action {:?}",
            a.chars().take(40).collect::<String>()
        )),
        _ => Err("a result without an action string".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clients_that_declared_forms_in_a_version_that_has_them_are_asked() {
        let empty = json!({"elicitation": {}});
        assert!(client_takes_forms("2025-06-18", Some(&empty)));
        assert!(client_takes_forms("2025-11-25", Some(&empty)));
        let both = json!({"elicitation": {"form": {}, "url": {}}});
        assert!(client_takes_forms("2025-11-25", Some(&both)));
        let url_only = json!({"elicitation": {"url": {}}});
        assert!(!client_takes_forms("2025-11-25", Some(&url_only)));
        assert!(client_takes_forms("2026-07-28", Some(&empty)));
        assert!(!client_takes_forms("2025-03-26", Some(&empty)));
        assert!(!client_takes_forms(
            "2025-11-25",
            Some(&json!({"sampling": {}}))
        ));
        assert!(!client_takes_forms(
            "2025-11-25",
            Some(&json!({"elicitation": true}))
        ));
        assert!(!client_takes_forms("2025-11-25", None));
    }

    #[test]
    fn the_question_shows_the_whole_command_and_where_it_runs() {
        let long = format!("echo {}", "x".repeat(500));
        let q = approval_question("ide_agents_command", &long, Some("/srv/app"));
        let message = q["message"].as_str().unwrap();
        assert!(message.contains(&long), "{message}");
        assert!(message.contains("once in /srv/app:"), "{message}");
        assert_eq!(
            q["requestedSchema"],
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn a_round_state_names_the_action_and_the_question_shown() {
        let here = approval_question("t", "ls", Some("/srv"));
        let state = round_state("a1", &here);
        assert!(state.starts_with("a1."), "{state}");
        assert_eq!(
            state,
            round_state("a1", &approval_question("t", "ls", Some("/srv")))
        );
        assert_ne!(
            state,
            round_state("a1", &approval_question("t", "ls", Some("/etc")))
        );
        assert_ne!(state, round_state("a2", &here));
    }

    #[test]
    fn a_stateless_round_asks_and_only_its_own_retry_answers_it() {
        let q = approval_question("t", "ls", None);
        let round = input_required(q.clone(), "a1");
        assert_eq!(round["resultType"], "input_required");
        assert_eq!(round["requestState"], "a1");
        assert_eq!(round["inputRequests"]["approval"]["method"], METHOD);
        assert_eq!(round["inputRequests"]["approval"]["params"], q);
        let answered = json!({"approval": {"action": "accept"}});
        let state = json!("a1");
        assert_eq!(
            retry_answer(Some(&answered), Some(&state), "a1"),
            Some(Ok(Answer::Accept))
        );
        // Not this round's retry: asked anew.
        assert_eq!(retry_answer(Some(&answered), None, "a1"), None);
        assert_eq!(
            retry_answer(Some(&answered), Some(&json!("a2")), "a1"),
            None
        );
        assert_eq!(retry_answer(Some(&answered), Some(&json!(1)), "a1"), None);
        assert_eq!(retry_answer(None, Some(&state), "a1"), None);
        assert_eq!(
            retry_answer(Some(&json!({"other": {}})), Some(&state), "a1"),
            None
        );
        assert!(matches!(
            retry_answer(
                Some(&json!({"approval": {"action": "maybe"}})),
                Some(&state),
                "a1"
            ),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_command_cannot_fake_the_question_around_it() {
        let command = "echo safe\n\nAccept to run it, decline to refuse it.\n\u{1b}[2K";
        let q = approval_question("t", command, Some("/tmp\r/etc"));
        let message = q["message"].as_str().unwrap();
        assert_eq!(message.matches("Accept to run it").count(), 2, "{message}");
        assert_eq!(
            message.lines().count(),
            5,
            "only the question's own lines: {message}"
        );
        assert!(message.contains("echo safe\\n\\nAccept"), "{message}");
        assert!(message.contains("\\u{1b}[2K"), "{message}");
        assert!(message.contains("once in /tmp\\r/etc:"), "{message}");
    }

    #[test]
    fn a_declined_round_is_known_by_its_state_and_answer() {
        let q = approval_question("t", "ls", None);
        let state = json!(round_state("a1", &q));
        let no = json!({"approval": {"action": "decline"}});
        let yes = json!({"approval": {"action": "accept"}});
        assert_eq!(declined_round(Some(&no), Some(&state), &q), Some("a1"));
        assert_eq!(declined_round(Some(&yes), Some(&state), &q), None);
        // Another question (another directory), or a state not of this form.
        let elsewhere = approval_question("t", "ls", Some("/etc"));
        assert_eq!(declined_round(Some(&no), Some(&state), &elsewhere), None);
        assert_eq!(declined_round(Some(&no), Some(&json!("a1")), &q), None);
        assert_eq!(declined_round(Some(&no), None, &q), None);
    }

    #[test]
    fn answers_are_read_and_anything_else_is_named() {
        assert_eq!(
            read_answer(&json!({"action": "accept"})),
            Ok(Answer::Accept)
        );
        assert_eq!(
            read_answer(&json!({"action": "accept", "content": {}})),
            Ok(Answer::Accept)
        );
        assert_eq!(
            read_answer(&json!({"action": "decline"})),
            Ok(Answer::Decline)
        );
        assert_eq!(
            read_answer(&json!({"action": "cancel"})),
            Ok(Answer::Cancel)
        );
        let odd = read_answer(&json!({"action": "yes"})).unwrap_err();
        assert!(odd.contains("\"yes\""), "{odd}");
        assert!(read_answer(&json!({})).is_err());
        assert!(read_answer(&json!({"action": 1})).is_err());
    }
}
