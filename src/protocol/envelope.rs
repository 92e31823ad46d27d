//! The argument envelopes existing clients send to `tools/call`:
//! flat `{…}`, `{"arguments": {…}}`, `{"arguments": "<JSON string>"}` and `{"kwargs": {…}}`.

use serde_json::{Map, Value};

/// Unwraps `params.arguments` of a `tools/call` into the tool's argument object.
///
/// A wrapper key is only unwrapped when it is the sole key, so a tool argument that
/// happens to be called `arguments` alongside others is left alone.
pub fn unwrap_arguments(raw: Option<Value>) -> Result<Map<String, Value>, String> {
    let mut current = match raw {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(v) => v,
    };
    // At most two levels: `{"arguments": "{\"kwargs\": {…}}"}` is still one request's worth.
    let mut decoded_a_string = false;
    for _ in 0..3 {
        current = match current {
            Value::String(text) => match serde_json::from_str::<Value>(&text) {
                Ok(inner) => {
                    decoded_a_string = true;
                    inner
                }
                // Decoded from JSON already, and plain text: JSON, just not an object.
                Err(_) if decoded_a_string => {
                    return Err(format!(
                        "`arguments` must be an object, got the JSON string {}",
                        Value::String(text)
                    ));
                }
                Err(e) => return Err(format!("`arguments` is a string but not JSON: {e}")),
            },
            Value::Object(mut obj) if obj.len() == 1 => {
                match obj.remove("arguments").or_else(|| obj.remove("kwargs")) {
                    Some(inner @ (Value::Object(_) | Value::String(_))) => inner,
                    Some(Value::Null) => return Ok(Map::new()),
                    Some(other) => {
                        return Err(format!(
                            "`arguments` must be an object or a JSON string, got {other}"
                        ));
                    }
                    None => return Ok(obj),
                }
            }
            Value::Object(obj) => return Ok(obj),
            other => return Err(format!("`arguments` must be an object, got {other}")),
        };
    }
    match current {
        Value::Object(obj) => Ok(obj),
        other => Err(format!("`arguments` must be an object, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn all_envelopes_give_the_same_arguments() {
        let want = json!({"topic": "x", "n": 1}).as_object().unwrap().clone();
        let forms = [
            json!({"topic": "x", "n": 1}),
            json!({"arguments": {"topic": "x", "n": 1}}),
            json!({"arguments": "{\"topic\":\"x\",\"n\":1}"}),
            json!({"kwargs": {"topic": "x", "n": 1}}),
            json!("{\"topic\":\"x\",\"n\":1}"),
        ];
        for form in forms {
            assert_eq!(
                unwrap_arguments(Some(form.clone())),
                Ok(want.clone()),
                "{form}"
            );
        }
    }

    #[test]
    fn absent_arguments_are_empty() {
        assert_eq!(unwrap_arguments(None), Ok(Map::new()));
        assert_eq!(unwrap_arguments(Some(Value::Null)), Ok(Map::new()));
        assert_eq!(
            unwrap_arguments(Some(json!({"arguments": null}))),
            Ok(Map::new())
        );
    }

    #[test]
    fn a_real_argument_named_arguments_next_to_others_is_kept() {
        let v = json!({"arguments": {"a": 1}, "other": 2});
        assert_eq!(unwrap_arguments(Some(v)).unwrap().len(), 2);
    }

    #[test]
    fn bad_envelopes_are_explained() {
        assert!(
            unwrap_arguments(Some(json!({"arguments": "{nope"})))
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            unwrap_arguments(Some(json!([1])))
                .unwrap_err()
                .contains("must be an object")
        );
        assert!(unwrap_arguments(Some(json!({"arguments": 5}))).is_err());
        assert!(unwrap_arguments(Some(json!("[1]"))).is_err());
        // JSON text holding a string is JSON: the complaint is that it is not an object.
        assert_eq!(
            unwrap_arguments(Some(json!({"arguments": "\"str\""}))),
            Err("`arguments` must be an object, got the JSON string \"str\"".to_string())
        );
        // Encoded twice is still read.
        let twice = json!({"arguments": "\"{\\\"a\\\":1}\""});
        assert_eq!(unwrap_arguments(Some(twice)).unwrap()["a"], 1);
    }
}
