//! Validation of tool arguments against the tool's advertised JSON Schema.
//!
//! Tools here use a small, fixed subset of JSON Schema (object properties, `required`,
//! `additionalProperties: false`, `type`, `enum`, numeric bounds, string length, array
//! `items`/`minItems`/`maxItems`). Checking that subset by hand keeps the hot path free of a
//! general validator's compile step and its dependency tree, and gives messages that name
//! the argument. A keyword outside the subset is ignored, never a false rejection.

use serde_json::{Map, Value};

/// Checks `args` against `schema`; the error names the first offending argument.
pub fn validate(schema: &Value, args: &Map<String, Value>) -> Result<(), String> {
    validate_object(schema, args, "")
}

/// Writes a whole-number float (`5.0`, as Python and JavaScript clients often send) as the
/// integer it is, for the top-level arguments whose schema type is `integer`: JSON Schema
/// counts `5.0` as an integer, and tools read integers. Runs before [`validate`].
pub fn normalize_integers(schema: &Value, args: &mut Map<String, Value>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, value) in args.iter_mut() {
        let Some(x) = value.as_f64().filter(|_| value.is_f64()) else {
            continue;
        };
        let wants_integer = props
            .get(name)
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            == Some("integer");
        // Within ±2^53 a float is exactly the integer it prints as.
        if wants_integer && x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 {
            *value = Value::from(x as i64);
        }
    }
}

fn validate_object(schema: &Value, obj: &Map<String, Value>, path: &str) -> Result<(), String> {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(name) {
                return Err(format!("missing required argument `{}`", join(path, name)));
            }
        }
    }
    // No arguments (most calls of most tools): nothing more to check.
    if obj.is_empty() {
        return Ok(());
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, value) in obj {
        match props.and_then(|p| p.get(name)) {
            Some(sub) => validate_value(sub, value, &join(path, name))?,
            None if closed => {
                let known: Vec<&str> = props
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(format!(
                    "unknown argument `{}` (expected: {})",
                    join(path, name),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
            None => {}
        }
    }
    Ok(())
}

fn validate_value(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(ty) = schema.get("type") {
        let ok = match ty {
            Value::String(t) => type_matches(t, value),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, value)),
            _ => true,
        };
        if !ok {
            if ty == "integer" && value.as_f64().is_some_and(|x| x.fract() == 0.0) {
                return Err(format!(
                    "argument `{path}` is a whole number too large for an integer, got {value}"
                ));
            }
            return Err(format!(
                "argument `{path}` must be {}, got {}",
                describe_type(ty),
                kind(value)
            ));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        return Err(format!(
            "argument `{path}` must be one of {}, got {value}",
            list.join(", ")
        ));
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && x < min
            {
                return Err(format!("argument `{path}` must be at least {min}, got {n}"));
            }
            if let Some(min) = schema.get("exclusiveMinimum").and_then(Value::as_f64)
                && x <= min
            {
                return Err(format!(
                    "argument `{path}` must be more than {min}, got {n}"
                ));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && x > max
            {
                return Err(format!("argument `{path}` must be at most {max}, got {n}"));
            }
        }
        Value::String(s) => {
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && (s.chars().count() as u64) < min
            {
                return Err(format!("argument `{path}` must not be shorter than {min}"));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && (s.chars().count() as u64) > max
            {
                return Err(format!(
                    "argument `{path}` must not be longer than {max} characters"
                ));
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                return Err(format!("argument `{path}` needs at least {min} item(s)"));
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && (items.len() as u64) > max
            {
                return Err(format!("argument `{path}` takes at most {max} items"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_value(item_schema, item, &format!("{path}[{i}]"))?;
                }
            }
        }
        Value::Object(obj) if schema.get("properties").is_some() => {
            validate_object(schema, obj, path)?;
        }
        _ => {}
    }
    Ok(())
}

fn type_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        _ => true,
    }
}

fn describe_type(ty: &Value) -> String {
    match ty {
        Value::String(t) => format!("{} {t}", article(t)),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(|t| format!("{} {t}", article(t)))
            .collect::<Vec<_>>()
            .join(" or "),
        other => other.to_string(),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// What a JSON value is, as an error message names it ("an object").
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, args: Value) -> Result<(), String> {
        validate(&schema, args.as_object().unwrap())
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 5},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "window": {"type": "number", "exclusiveMinimum": 0},
                "method": {"type": "string", "enum": ["run", "dry_run"]},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "payload": {"type": "object"}
            },
            "required": ["query"],
            "additionalProperties": false
        })
    }

    #[test]
    fn accepts_valid_arguments() {
        let args =
            json!({"query": "q", "limit": 5, "method": "run", "tags": ["a"], "payload": {"x": 1}});
        assert_eq!(check(schema(), args), Ok(()));
    }

    #[test]
    fn names_the_offending_argument() {
        let cases = [
            (json!({}), "missing required argument `query`"),
            (
                json!({"query": 3}),
                "argument `query` must be a string, got a number",
            ),
            (
                json!({"query": "q", "limit": "5"}),
                "argument `limit` must be an integer, got a string",
            ),
            (
                json!({"query": "q", "limit": 1.5}),
                "argument `limit` must be an integer, got a number",
            ),
            (
                json!({"query": "q", "limit": 0}),
                "argument `limit` must be at least 1, got 0",
            ),
            (
                json!({"query": "q", "window": 0}),
                "argument `window` must be more than 0, got 0",
            ),
            (
                json!({"query": "q", "limit": 101}),
                "argument `limit` must be at most 100, got 101",
            ),
            (
                json!({"query": "q", "method": "rm"}),
                "argument `method` must be one of \"run\", \"dry_run\", got \"rm\"",
            ),
            (
                json!({"query": "q", "tags": []}),
                "argument `tags` needs at least 1 item(s)",
            ),
            (
                json!({"query": "q", "tags": ["a", 2]}),
                "argument `tags[1]` must be a string, got a number",
            ),
            (
                json!({"query": ""}),
                "argument `query` must not be shorter than 1",
            ),
            (
                json!({"query": "ééééé!"}),
                "argument `query` must not be longer than 5 characters",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(
                check(schema(), args.clone()),
                Err(want.to_string()),
                "{args}"
            );
        }
        let err = check(schema(), json!({"query": "q", "extra": 1})).unwrap_err();
        assert!(
            err.starts_with("unknown argument `extra` (expected: "),
            "{err}"
        );
    }

    #[test]
    fn whole_number_floats_are_integers_and_huge_ones_are_named_as_such() {
        let mut args = json!({"query": "q", "limit": 5.0, "tags": ["a"]})
            .as_object()
            .unwrap()
            .clone();
        normalize_integers(&schema(), &mut args);
        assert_eq!(args["limit"], json!(5));
        assert!(args["limit"].is_i64());
        assert_eq!(validate(&schema(), &args), Ok(()));
        let mut half = json!({"query": "q", "limit": 5.5})
            .as_object()
            .unwrap()
            .clone();
        normalize_integers(&schema(), &mut half);
        assert_eq!(
            validate(&schema(), &half),
            Err("argument `limit` must be an integer, got a number".into())
        );
        let mut huge = json!({"query": "q", "limit": 1e19})
            .as_object()
            .unwrap()
            .clone();
        normalize_integers(&schema(), &mut huge);
        let err = validate(&schema(), &huge).unwrap_err();
        assert!(err.contains("too large for an integer"), "{err}");
    }

    #[test]
    fn open_schemas_accept_extra_arguments() {
        let open = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert_eq!(check(open, json!({"b": 1})), Ok(()));
    }
}
