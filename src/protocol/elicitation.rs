//! Asking the user through their client (`elicitation/create`, protocol 2025-06-18 and
//! 2025-11-25): which clients can be asked, the question for a command that needs approval,
//! and what the answer says. The session sends the request and matches its answer.

use serde_json::{Value, json};

/// The method of the request the daemon sends.
pub const METHOD: &str = "elicitation/create";

/// Whether a session that negotiated `version`, whose client declared `capabilities` in
/// `initialize`, can be asked with a form. The capability exists from 2025-06-18; from
/// 2025-11-25 it may name its modes, and an empty object still means form.
pub fn client_takes_forms(version: &str, capabilities: Option<&Value>) -> bool {
    if !matches!(version, "2025-06-18" | "2025-11-25") {
        return false;
    }
    match capabilities.and_then(|c| c.get("elicitation")) {
        Some(Value::Object(modes)) => modes.is_empty() || modes.contains_key("form"),
        _ => false,
    }
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
/// command is shown whole, since the person deciding must see what would run. Accepting
/// runs it once; the form asks for nothing else.
pub fn approval_question(tool: &str, command: &str, cwd: Option<&str>) -> Value {
    let place = cwd.map(|d| format!(" in {d}")).unwrap_or_default();
    json!({
        "message": format!(
            "{tool} asks to run this command once{place}:\n\n{command}\n\n\
             Accept to run it, decline to refuse it."
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
