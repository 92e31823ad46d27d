//! JSON-RPC 2.0 messages: decoding a line into a request, notification or response,
//! and encoding responses and errors.

use super::salvage;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

pub use super::params::{CallParams, Params};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP: resource not found (legacy era).
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// MCP 2026-07-28: the protocol version in `_meta` is not supported.
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// A request id: JSON-RPC allows strings and numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    Number(i64),
    /// Non-integer numbers are kept in their JSON spelling so they echo back unchanged.
    Other(String),
    Str(String),
}

impl RequestId {
    pub fn from_value(v: &Value) -> Option<RequestId> {
        match v {
            Value::String(s) => Some(RequestId::Str(s.clone())),
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => RequestId::Number(i),
                None => RequestId::Other(n.to_string()),
            }),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            RequestId::Number(i) => Value::from(*i),
            RequestId::Str(s) => Value::from(s.as_str()),
            RequestId::Other(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    pub params: Option<Params>,
}

impl Request {
    /// `params.<key>`, when present.
    pub fn param(&self, key: &str) -> Option<&Value> {
        match self.params.as_ref()? {
            Params::Json(v) => v.get(key),
            Params::ToolCall(c) => match key {
                "name" => c.name.as_ref(),
                "arguments" => c.arguments.as_ref(),
                "_meta" => c.meta.as_ref(),
                _ => None,
            },
        }
    }

    /// The params as JSON, for methods whose params are kept that way (all but `tools/call`).
    pub fn json_params(&self) -> Option<&Value> {
        match self.params.as_ref()? {
            Params::Json(v) => Some(v),
            Params::ToolCall(_) => None,
        }
    }

    /// `params._meta`, when present.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.param("_meta")?.as_object()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    /// A response to a request the server sent (e.g. elicitation): its `result`, or its
    /// `error` object.
    Response {
        id: RequestId,
        outcome: Result<Value, Value>,
    },
}

/// A protocol-level error, answered as a JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
    /// What telemetry records when the code says less: an unknown resource is `-32602` in
    /// the stateless era, but `not_found` like everywhere else.
    pub label: Option<&'static str>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
            label: None,
        }
    }

    pub fn labelled(mut self, label: &'static str) -> Self {
        self.label = Some(label);
        self
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// A stable name for the error's code, as telemetry records it.
    pub fn kind(&self) -> &'static str {
        if let Some(label) = self.label {
            return label;
        }
        match self.code {
            PARSE_ERROR => "parse_error",
            INVALID_REQUEST => "invalid_request",
            METHOD_NOT_FOUND => "method_not_found",
            INVALID_PARAMS => "invalid_arguments",
            RESOURCE_NOT_FOUND => "not_found",
            UNSUPPORTED_VERSION => "unsupported_version",
            _ => "internal_error",
        }
    }

    pub fn method_not_found(method: &str) -> Self {
        RpcError::new(METHOD_NOT_FOUND, format!("method not found: {method}"))
    }

    fn to_value(&self) -> Value {
        let mut obj = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            obj["data"] = data.clone();
        }
        obj
    }
}

/// Why a line could not be decoded, with the id to answer to when one was readable.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub id: Option<RequestId>,
    pub error: RpcError,
}

const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// The loose shape of any JSON-RPC message; validated into [`Message`]. The scalar fields
/// stay borrowed JSON text, checked without building a `Value` for each.
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    params: Option<super::params::RawParams>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// Distinguishes a field given as `null` (present) from an absent one (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// The id from its JSON text (valid JSON by the grammar); `None` when it is neither a
/// string nor a number. A number that is not an `i64` is kept as written, so it is echoed
/// exactly: an integer past 64 bits read as an `f64` would come back rounded, and two such
/// ids could collide.
fn request_id(text: &str) -> Option<RequestId> {
    match text.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => match text.parse() {
            // `-0` parses as 0, which would echo differently from what the client wrote.
            Ok(0) if text.starts_with('-') => Some(RequestId::Other(text.to_string())),
            Ok(i) => Some(RequestId::Number(i)),
            // Past f64 (`1e400`) is past what clients hold: no id, as the parser sees it.
            Err(_) => text
                .parse::<f64>()
                .is_ok_and(f64::is_finite)
                .then(|| RequestId::Other(text.to_string())),
        },
        Some(b'"') => RequestId::from_value(&from_scalar_text(text)?),
        _ => None,
    }
}

/// A JSON string field's text, unescaped; `None` when the field is not a string.
fn string_field(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    // Valid JSON already: a string without escapes is its text between the quotes.
    match text.get(1..text.len() - 1) {
        Some(plain) if !plain.contains('\\') => Some(plain.to_string()),
        _ => from_scalar_text(text),
    }
}

/// A string or number from its JSON text; a string with a lone surrogate escape is read
/// with the replacement character in its place (`salvage::repair`).
fn from_scalar_text<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&salvage::repair(text)?).ok())
}

fn is_version_2(raw: &RawValue) -> bool {
    raw.get() == "\"2.0\"" || string_field(raw).is_some_and(|v| v == "2.0")
}

pub fn decode(line: &[u8]) -> Result<Message, DecodeError> {
    // The fields parse below skips unknown fields without checking their UTF-8, so the
    // whole line is checked first: JSON text is UTF-8, anything else is a parse error.
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(e) => {
            return Err(DecodeError {
                id: None,
                error: RpcError::new(PARSE_ERROR, format!("parse error: not UTF-8: {e}")),
            });
        }
    };
    decode_text(text, Repair::Allowed)
}

/// Whether a refused line may be repaired and decoded again: once, never more.
#[derive(PartialEq)]
enum Repair {
    Allowed,
    Done,
}

fn decode_text(text: &str, repair: Repair) -> Result<Message, DecodeError> {
    // One pass straight into the message's fields; the slower generic parse only runs to
    // explain a line that does not fit. A derived struct also reads an array of its fields
    // in order (["2.0",1,"ping",null,null,null] would be a request), so only an object is.
    let parsed = if text.trim_start_matches(JSON_WHITESPACE).starts_with('{') {
        serde_json::from_str(text)
    } else {
        Err(serde::de::Error::custom("not an object"))
    };
    let raw: RawMessage = match parsed {
        Ok(raw) => raw,
        Err(e) => {
            if repair == Repair::Allowed
                && let Some(repaired) = salvage::repair(text)
            {
                return decode_text(&repaired, Repair::Done);
            }
            return Err(explain_undecodable(text, e));
        }
    };
    let method = raw.method.map(string_field);
    let tool_call = raw.id.is_some() && matches!(&method, Some(Some(m)) if m == "tools/call");
    let params = raw.params.map(|p| p.into_params(tool_call));
    let id = match raw.id {
        None => None,
        Some(v) => match request_id(v.get()) {
            Some(id) => Some(id),
            None => return Err(invalid(None, "id must be a string or a number")),
        },
    };
    if !raw.jsonrpc.is_some_and(is_version_2) {
        return Err(invalid(id, "jsonrpc must be \"2.0\""));
    }
    if let Some(Params::Json(v)) = &params
        && !(v.is_object() || v.is_array())
    {
        return Err(invalid(id, "params must be an object"));
    }
    match (method, id) {
        (Some(Some(method)), Some(id)) => Ok(Message::Request(Request { id, method, params })),
        (Some(Some(method)), None) => Ok(Message::Notification(Notification {
            method,
            params: params.map(Params::into_value),
        })),
        (Some(None), id) => Err(invalid(id, "method must be a string")),
        (None, Some(id)) if raw.result.is_some() || raw.error.is_some() => {
            let read = |v: Option<&RawValue>| {
                v.and_then(|v| serde_json::from_str(v.get()).ok())
                    .unwrap_or(Value::Null)
            };
            let outcome = match raw.result {
                Some(_) => Ok(read(raw.result)),
                None => Err(read(raw.error)),
            };
            Ok(Message::Response { id, outcome })
        }
        (None, id) => Err(invalid(
            id,
            "not a request, notification or response: no method",
        )),
    }
}

/// Tells invalid JSON (-32700) from valid JSON that is not a JSON-RPC message (-32600).
/// JSON by the grammar that the parser cannot hold (a number beyond `f64`, nesting too deep)
/// is a parse error too, answered to the request's id when it can be read.
fn explain_undecodable(text: &str, shape_error: serde_json::Error) -> DecodeError {
    match serde_json::from_str::<Value>(text) {
        Err(e) => DecodeError {
            id: salvage::readable_id(text).and_then(request_id),
            error: RpcError::new(PARSE_ERROR, format!("parse error: {e}")),
        },
        // A session whose version has batches reads them before decoding (`batch.rs`).
        Ok(Value::Array(_)) => invalid(None, super::batch::REFUSED),
        Ok(v) if !v.is_object() => invalid(None, "a message must be a JSON object"),
        Ok(v) => {
            let id = v.get("id").and_then(RequestId::from_value);
            invalid(id, &format!("not a JSON-RPC message: {shape_error}"))
        }
    }
}

fn invalid(id: Option<RequestId>, message: &str) -> DecodeError {
    DecodeError {
        id,
        error: RpcError::new(INVALID_REQUEST, message),
    }
}

/// Serializes a success response.
pub fn encode_result(id: &RequestId, result: &Value) -> Bytes {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(RESPONSE_HEAD);
    write_id(&mut out, id);
    out.extend_from_slice(RESULT_MID);
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, result);
    out.push(b'}');
    Bytes::from(out)
}

/// A response is `RESPONSE_HEAD`, the id, then `RESULT_MID` and the result (or `,"error":`
/// and the error), then `}`.
pub const RESPONSE_HEAD: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":";
pub const RESULT_MID: &[u8] = b",\"result\":";

/// The id's JSON text, in up to three pieces; only a string id that needs escaping is
/// written out, into `scratch`.
pub fn id_text<'a>(
    id: &'a RequestId,
    digits: &'a mut itoa::Buffer,
    scratch: &'a mut Vec<u8>,
) -> [&'a [u8]; 3] {
    match id {
        RequestId::Number(i) => [digits.format(*i).as_bytes(), b"", b""],
        RequestId::Other(s) => [s.as_bytes(), b"", b""],
        RequestId::Str(s) if super::json_text::is_plain(s) => [b"\"", s.as_bytes(), b"\""],
        RequestId::Str(s) => {
            let _ = serde_json::to_writer(&mut *scratch, s);
            [scratch.as_slice(), b"", b""]
        }
    }
}

/// Serializes an error response; `id` is `null` when the request's id was unreadable.
pub fn encode_error(id: Option<&RequestId>, error: &RpcError) -> Bytes {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(RESPONSE_HEAD);
    match id {
        Some(id) => write_id(&mut out, id),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"error\":");
    let _ = serde_json::to_writer(&mut out, &error.to_value());
    out.push(b'}');
    Bytes::from(out)
}

/// Serializes a server-to-client notification.
/// A request the daemon sends to its client.
pub fn encode_request(id: &RequestId, method: &str, params: &Value) -> Bytes {
    let msg = json!({"jsonrpc": "2.0", "id": id.to_value(), "method": method, "params": params});
    Bytes::from(serde_json::to_vec(&msg).unwrap_or_default())
}

pub fn encode_notification(method: &str, params: &Value) -> Bytes {
    let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
    Bytes::from(serde_json::to_vec(&msg).unwrap_or_default())
}

/// Appends the id as JSON: numbers in their own spelling, strings escaped.
pub fn write_id(out: &mut Vec<u8>, id: &RequestId) {
    match id {
        RequestId::Number(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        RequestId::Other(s) => out.extend_from_slice(s.as_bytes()),
        RequestId::Str(s) => super::json_text::write_str(out, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_code(line: &str) -> (Option<RequestId>, i64) {
        let e = decode(line.as_bytes()).unwrap_err();
        (e.id, e.error.code)
    }

    #[test]
    fn decodes_requests_notifications_and_responses() {
        let m = decode(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap();
        assert_eq!(
            m,
            Message::Request(Request {
                id: RequestId::Number(7),
                method: "ping".into(),
                params: None
            })
        );
        let m = decode(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(m, Message::Notification(n) if n.method == "notifications/initialized"));
        let m = decode(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
        assert!(matches!(m, Message::Response { id: RequestId::Str(s), .. } if s == "a"));
    }

    fn request(line: &str) -> Request {
        match decode(line.as_bytes()) {
            Ok(Message::Request(req)) => req,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn tool_call_params_are_decoded_into_their_members() {
        let req = request(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[1]},"_meta":null}}"#,
        );
        let want = CallParams {
            name: Some(json!("t")),
            arguments: Some(json!({"a": [1]})),
            meta: Some(Value::Null),
            ..CallParams::default()
        };
        assert_eq!(req.params, Some(Params::ToolCall(Box::new(want))));
        assert_eq!(req.param("arguments"), Some(&json!({"a": [1]})));
        assert_eq!(req.meta(), None);
    }

    #[test]
    fn tool_call_params_with_other_members_or_a_repeated_one_read_as_json_would() {
        let extra = request(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"task":{},"name":"t","_meta":{"k":2}}}"#,
        );
        assert_eq!(extra.param("name"), Some(&json!("t")));
        assert_eq!(extra.meta(), json!({"k": 2}).as_object());
        assert_eq!(extra.param("task"), None);
        // The last of repeated members wins, as in a parsed JSON object.
        let twice = request(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
        );
        assert_eq!(twice.param("name"), Some(&json!("b")));
        let array = request(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["t"]}"#);
        assert_eq!(array.params, Some(Params::Json(json!(["t"]))));
        let other =
            request(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}"#);
        assert_eq!(other.params, Some(Params::Json(json!({"cursor": "c"}))));
    }

    #[test]
    fn a_number_too_large_anywhere_in_params_is_a_parse_error_answered_to_its_id() {
        for params in [
            r#"{"name":"t","arguments":{"n":1e400}}"#,
            r#"{"name":"t","x":1e400}"#,
        ] {
            let line =
                format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
            assert_eq!(
                err_code(&line),
                (Some(RequestId::Number(1)), PARSE_ERROR),
                "{line}"
            );
        }
        // Invalid JSON has no id to answer to, even where one is written.
        let broken = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":1e400}"#;
        assert_eq!(err_code(broken), (None, PARSE_ERROR));
    }

    #[test]
    fn nesting_deeper_than_the_parser_goes_is_answered_to_its_id() {
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":"d","method":"tools/call","params":{{"name":"t","arguments":{{"a":{}{}}}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(
            err_code(&deep),
            (Some(RequestId::Str("d".into())), PARSE_ERROR)
        );
    }

    #[test]
    fn a_line_is_repaired_at_most_once() {
        // Each BOM would take one more repair: only the first is ignored.
        let many = format!(
            "{}{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}}",
            "\u{feff}".repeat(100_000)
        );
        assert_eq!(err_code(&many).1, PARSE_ERROR);
        let two = "\u{feff}\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
        assert_eq!(err_code(two).1, PARSE_ERROR);
    }

    #[test]
    fn lone_surrogates_and_a_byte_order_mark_are_read_as_the_client_meant() {
        let cut = request(
            r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"t","arguments":{"command":"review \ud83d"}}}"#,
        );
        assert_eq!(cut.id, RequestId::Number(42));
        assert_eq!(
            cut.param("arguments"),
            Some(&json!({"command": "review \u{fffd}"}))
        );
        let low = request(r#"{"jsonrpc":"2.0","id":"\udc00","method":"ping"}"#);
        assert_eq!(low.id, RequestId::Str("\u{fffd}".into()));
        let bom = request("\u{feff}{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
        assert_eq!(
            (bom.id, bom.method.as_str()),
            (RequestId::Number(3), "ping")
        );
    }

    #[test]
    fn classifies_bad_input_with_the_right_codes() {
        assert_eq!(err_code("{nope"), (None, PARSE_ERROR));
        assert_eq!(err_code("[1,2]"), (None, INVALID_REQUEST));
        // A session whose version has batches reads them before decoding.
        let batch = decode(b" [1,2]").unwrap_err();
        assert_eq!(batch.error.message, super::super::batch::REFUSED);
        assert_eq!(err_code("42"), (None, INVALID_REQUEST));
        assert_eq!(
            err_code(r#" ["2.0",1,"ping",null,null,null]"#),
            (None, INVALID_REQUEST)
        );
        assert_eq!(
            err_code(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#),
            (Some(RequestId::Number(1)), INVALID_REQUEST)
        );
        assert_eq!(
            err_code(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            (None, INVALID_REQUEST)
        );
        assert_eq!(
            err_code(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#),
            (None, INVALID_REQUEST)
        );
        assert_eq!(
            err_code(r#"{"jsonrpc":"2.0","id":3,"method":5}"#),
            (Some(RequestId::Number(3)), INVALID_REQUEST)
        );
        assert_eq!(
            err_code(r#"{"jsonrpc":"2.0","id":3,"method":"x","params":"s"}"#),
            (Some(RequestId::Number(3)), INVALID_REQUEST)
        );
        assert_eq!(err_code(r#"{"jsonrpc":"2.0","id":4}"#).1, INVALID_REQUEST);
    }

    #[test]
    fn invalid_utf8_is_a_parse_error_even_in_a_field_nobody_reads() {
        let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xcf\"}";
        let e = decode(line).unwrap_err();
        assert_eq!((e.id, e.error.code), (None, PARSE_ERROR));
        assert!(e.error.message.contains("UTF-8"), "{}", e.error.message);
    }

    #[test]
    fn ids_echo_back_exactly() {
        for raw in [
            "1",
            "-3",
            "\"abc\"",
            "\"with \\\"quote\"",
            "1.5",
            "12345678901234",
            "1e3",
            "-0.50",
            "-0",
            // Past 64 bits an id is not rounded to an f64, nor two of them made one.
            "18446744073709551616",
            "18446744073709551617",
            "-9223372036854775809",
            "221111111111111111111111111111111111111111111111111111111111111111111111111",
        ] {
            let line = format!(r#"{{"jsonrpc":"2.0","id":{raw},"method":"ping"}}"#);
            let Message::Request(req) = decode(line.as_bytes()).unwrap() else {
                panic!("not a request")
            };
            let out = encode_result(&req.id, &json!({}));
            let text = String::from_utf8(out.to_vec()).unwrap();
            assert!(
                text.contains(&format!(r#""id":{raw},"#)),
                "{raw} echoed as {text}"
            );
            let v: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["result"], json!({}));
        }
    }

    #[test]
    fn errors_carry_data_and_null_id() {
        let e = RpcError::new(UNSUPPORTED_VERSION, "nope").with_data(json!({"requested": "x"}));
        let v: Value = serde_json::from_slice(&encode_error(None, &e)).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], UNSUPPORTED_VERSION);
        assert_eq!(v["error"]["data"]["requested"], "x");
    }
}
