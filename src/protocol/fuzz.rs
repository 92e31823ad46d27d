//! A fuzzing harness for the decoding layer: client bytes through framing, JSON-RPC decoding
//! (batches too), the `tools/call` argument envelope and every tool's input schema, as a session and its
//! router see them.
//!
//! [`exercise`] panics when the code under test breaks a contract, not only when it panics
//! itself: each step is checked against an independent model or a round trip. It drives the
//! cargo-fuzz target in `fuzz/` and `tests/fuzz_protocol.rs`. Pure like the rest of the
//! module: no I/O, no actors.

use super::batch;
use super::cursor;
use super::envelope::unwrap_arguments;
use super::framing::{FrameError, LineCodec};
use super::jsonrpc::{
    self, DecodeError, INVALID_PARAMS, INVALID_REQUEST, Message, PARSE_ERROR, Params, Request,
    RequestId, UNSUPPORTED_VERSION,
};
use super::schema;
use super::version::{self, Era, LEGACY_VERSIONS, META_VERSION_KEY, MODERN_VERSION};
use crate::tools::{Catalog, ToolSpec};
use bytes::BytesMut;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use tokio_util::codec::Decoder;

/// The daemon's default `IDE_AGENTS_MAX_MESSAGE_BYTES`: above any fuzz input.
const DEFAULT_LIMIT: usize = 4 * 1024 * 1024;
/// Limits small enough that ordinary requests are refused as too long.
const SMALL_LIMITS: [usize; 2] = [200, 24];
/// A page size that gives `tools/list` several pages, so cursors have somewhere to point.
const LIST_PAGE: usize = 7;
/// A negotiated legacy version, for requests of a session that did the handshake.
const NEGOTIATED: &str = "2025-06-18";

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::new(|_| true, LIST_PAGE));

/// Per tool, arguments that use every property and conform to the schema.
static CONFORMING: LazyLock<Vec<(&'static ToolSpec, Map<String, Value>)>> = LazyLock::new(|| {
    CATALOG
        .tools()
        .iter()
        .map(|tool| {
            let args = match conforming_value(&tool.input_schema) {
                Value::Object(args) => args,
                other => panic!("{}: schema is not an object schema: {other}", tool.name),
            };
            (*tool, args)
        })
        .collect()
});

/// Runs `data` as the bytes a client sent on one connection, checking every layer.
pub fn exercise(data: &[u8]) {
    check_conforming_arguments();
    let mut chunk_sizes = XorShift::seeded(data);
    let framed = frame_every_way(data, DEFAULT_LIMIT, &mut chunk_sizes);
    for limit in SMALL_LIMITS {
        frame_every_way(data, limit, &mut chunk_sizes);
    }
    for line in &framed.lines {
        if batch::is_batch(line) {
            check_batch(line);
        }
        if let Some(Message::Request(req)) = check_decode(line) {
            check_request(&req);
        }
    }
}

// ---- framing ----

/// What framing gave: the lines, and whether it stopped at a line over the limit.
#[derive(Debug, PartialEq)]
struct Framed {
    lines: Vec<Vec<u8>>,
    too_long: bool,
}

/// Frames `input` whole, a byte at a time and in random chunks: every way must give what the
/// model says.
fn frame_every_way(input: &[u8], limit: usize, rng: &mut XorShift) -> Framed {
    let want = model_frames(input, limit);
    let whole = frame(input, limit, || input.len());
    assert_eq!(whole, want, "framing {input:?} whole (limit {limit})");
    // Byte by byte is slow in a debug build; long inputs are only framed in chunks.
    if input.len() <= 16 * 1024 {
        let trickle = frame(input, limit, || 1);
        assert_eq!(
            trickle, want,
            "framing {input:?} a byte at a time (limit {limit})"
        );
    }
    let chunked = frame(input, limit, || 1 + (rng.next() % 97) as usize);
    assert_eq!(chunked, want, "framing {input:?} in chunks (limit {limit})");
    want
}

/// The framing contract, written plainly: split at `\n`; a piece longer than the limit stops
/// the stream; a `\r` before the `\n` is dropped; blank pieces are skipped; the last piece
/// (no `\n`) is a line as it is.
fn model_frames(input: &[u8], limit: usize) -> Framed {
    let mut lines = Vec::new();
    let mut pieces = input.split(|b| *b == b'\n').peekable();
    while let Some(piece) = pieces.next() {
        if piece.len() > limit {
            return Framed {
                lines,
                too_long: true,
            };
        }
        let terminated = pieces.peek().is_some();
        let line = match piece.strip_suffix(b"\r") {
            Some(stripped) if terminated => stripped,
            _ => piece,
        };
        if !is_blank(line) {
            lines.push(line.to_vec());
        }
    }
    Framed {
        lines,
        too_long: false,
    }
}

/// Runs `LineCodec` the way `FramedRead` does: decode until nothing is complete, read the next
/// chunk, and at EOF drain with `decode_eof`; stops at the first error.
fn frame(input: &[u8], limit: usize, mut next_chunk: impl FnMut() -> usize) -> Framed {
    let mut codec = LineCodec::new(limit);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut consumed = 0;
    let mut lines = Vec::new();
    loop {
        let eof = fed == input.len();
        let step = if eof {
            codec.decode_eof(&mut buf)
        } else {
            codec.decode(&mut buf)
        };
        match step {
            Ok(Some(line)) => {
                check_framed_line(&line, limit);
                let now = fed - buf.len();
                check_consumed(&input[consumed..now], &line, eof && buf.is_empty());
                consumed = now;
                lines.push(line.to_vec());
            }
            Ok(None) if eof => {
                assert!(
                    buf.is_empty(),
                    "bytes left in the buffer at EOF: {:?}",
                    &buf[..]
                );
                return Framed {
                    lines,
                    too_long: false,
                };
            }
            Ok(None) => {
                let n = next_chunk().clamp(1, input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
            }
            Err(FrameError::TooLong { limit: reported }) => {
                assert_eq!(reported, limit, "the error names another limit");
                return Framed {
                    lines,
                    too_long: true,
                };
            }
            Err(FrameError::Io(e)) => panic!("an I/O error from pure framing: {e}"),
        }
        // What is left to decode is always the unread end of what was fed.
        let kept = buf.len().min(16);
        assert_eq!(&buf[..kept], &input[fed - buf.len()..][..kept]);
    }
}

fn check_framed_line(line: &[u8], limit: usize) {
    assert!(
        line.len() <= limit,
        "a line of {} bytes passed limit {limit}",
        line.len()
    );
    assert!(!line.contains(&b'\n'), "a line holds a newline: {line:?}");
    assert!(!is_blank(line), "a blank line was yielded");
}

/// The bytes split off for one line are blank lines, the line, an optional `\r` and the `\n`
/// (no `\n` for the last line at EOF): nothing is lost or invented between lines.
fn check_consumed(segment: &[u8], line: &[u8], at_eof: bool) {
    let body = if at_eof && !segment.ends_with(b"\n") {
        segment
    } else {
        segment
            .strip_suffix(b"\n")
            .unwrap_or_else(|| panic!("consumed {segment:?} for line {line:?}: no newline"))
    };
    let (skipped, last) = match body.iter().rposition(|b| *b == b'\n') {
        Some(pos) => (&body[..pos], &body[pos + 1..]),
        None => (&[][..], body),
    };
    assert!(
        is_blank(skipped),
        "non-blank bytes {skipped:?} were dropped before line {line:?}"
    );
    let last = if at_eof && !segment.ends_with(b"\n") {
        last
    } else {
        last.strip_suffix(b"\r").unwrap_or(last)
    };
    assert_eq!(last, line, "line differs from the bytes consumed for it");
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

// ---- JSON-RPC ----

/// What a general JSON parser makes of a line, as the oracle for `jsonrpc::decode`.
enum Json {
    Valid(Value),
    Invalid,
    /// JSON by the grammar but beyond serde_json's `Value`: nesting over its depth limit, a
    /// number out of `f64` range, a lone surrogate. Decoding may accept or refuse it.
    Unrepresentable,
}

impl Json {
    fn of(line: &[u8]) -> Json {
        // Decoding ignores one leading byte order mark (RFC 8259 allows it): judge the rest.
        let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => Json::Valid(v),
            Err(e) => {
                let why = e.to_string();
                let beyond_value = [
                    "recursion limit exceeded",
                    "number out of range",
                    "lone leading surrogate",
                    "unexpected end of hex escape",
                ];
                if beyond_value.iter().any(|w| why.contains(w)) {
                    Json::Unrepresentable
                } else {
                    Json::Invalid
                }
            }
        }
    }
}

/// Decodes a line and checks the answer against the parsed JSON and by round trips.
fn check_decode(line: &[u8]) -> Option<Message> {
    let json = Json::of(line);
    match jsonrpc::decode(line) {
        Err(e) => {
            check_decode_error(line, &e, &json);
            None
        }
        Ok(message) => {
            match &json {
                Json::Valid(v) => check_message_matches(&message, v),
                Json::Invalid => panic!("invalid JSON {line:?} decoded as {message:?}"),
                Json::Unrepresentable => {}
            }
            check_reencoded(&message);
            Some(message)
        }
    }
}

fn check_decode_error(line: &[u8], e: &DecodeError, json: &Json) {
    let code = e.error.code;
    assert!(
        code == PARSE_ERROR || code == INVALID_REQUEST,
        "decode answered code {code} for {line:?}"
    );
    assert!(!e.error.message.is_empty(), "an error without a message");
    match json {
        Json::Invalid => {
            assert_eq!(code, PARSE_ERROR, "invalid JSON {line:?}: {e:?}");
            assert_eq!(e.id, None, "an id read from invalid JSON {line:?}");
        }
        Json::Valid(v) => {
            assert_eq!(code, INVALID_REQUEST, "valid JSON {line:?}: {e:?}");
            // The error answers to the request's id whenever it was readable.
            // Compared as values: a number id is kept in its own spelling (`1e3`).
            let readable = v
                .as_object()
                .and_then(|o| o.get("id"))
                .and_then(RequestId::from_value)
                .map(|id| id.to_value());
            assert_eq!(
                e.id.as_ref().map(RequestId::to_value),
                readable,
                "error id for {line:?}"
            );
        }
        Json::Unrepresentable => {}
    }
    let encoded: Value = serde_json::from_slice(&jsonrpc::encode_error(e.id.as_ref(), &e.error))
        .expect("an encoded error is JSON");
    assert_eq!(encoded["jsonrpc"], "2.0");
    assert_eq!(encoded["error"]["code"], code);
    assert_eq!(encoded["error"]["message"], e.error.message.as_str());
    let want_id = e.id.as_ref().map_or(Value::Null, RequestId::to_value);
    assert_eq!(encoded["id"], want_id, "error id");
}

/// A batch is refused whole only when it is not JSON or empty; otherwise each element is
/// what a line of its own would be.
fn check_batch(line: &[u8]) {
    let json = Json::of(line);
    match (batch::decode(line), &json) {
        (Err(e), Json::Valid(v)) => {
            assert_eq!(v, &json!([]), "a batch refused whole: {e:?}");
            assert_eq!((e.id, e.error.code), (None, INVALID_REQUEST));
        }
        (Err(e), Json::Invalid) => assert_eq!((e.id, e.error.code), (None, PARSE_ERROR)),
        (Err(e), Json::Unrepresentable) => assert_eq!(e.id, None),
        (Ok(messages), Json::Valid(v)) => {
            let items = v.as_array().expect("a line opening an array is an array");
            assert_eq!(messages.len(), items.len(), "{line:?}");
            for (message, item) in messages.iter().zip(items) {
                match message {
                    Ok(message) => check_message_matches(message, item),
                    Err(e) => check_decode_error(line, e, &Json::Valid(item.clone())),
                }
            }
        }
        (Ok(messages), Json::Invalid) => panic!("invalid JSON {line:?} decoded as {messages:?}"),
        (Ok(_), Json::Unrepresentable) => {}
    }
}

/// A decoded message holds exactly what the line's JSON says.
fn check_message_matches(message: &Message, v: &Value) {
    let obj = v.as_object().expect("a decoded message is an object");
    assert_eq!(obj.get("jsonrpc"), Some(&json!("2.0")));
    let field = |name: &str| obj.get(name).filter(|v| !v.is_null());
    // Compared as values: a number id is kept in its own spelling (`1e3`).
    let id_of = |v: &Value| RequestId::from_value(&v["id"]).map(|id| id.to_value());
    match message {
        Message::Request(req) => {
            assert_eq!(field("method"), Some(&json!(req.method)));
            assert_eq!(id_of(v), Some(req.id.to_value()));
            check_params_match(req, field("params"));
            let reply = jsonrpc::encode_result(&req.id, &json!({}));
            let reply: Value = serde_json::from_slice(&reply).expect("a result is JSON");
            assert_eq!(reply["id"], v["id"], "the reply's id is not the request's");
        }
        Message::Notification(n) => {
            assert_eq!(obj.get("id"), None, "a notification with an id");
            assert_eq!(field("method"), Some(&json!(n.method)));
            assert_eq!(field("params"), n.params.as_ref());
        }
        Message::Response { id, outcome } => {
            assert_eq!(field("method"), None, "a response with a method");
            assert_eq!(id_of(v), Some(id.to_value()));
            match outcome {
                Ok(result) => assert_eq!(field("result"), Some(result)),
                Err(error) => assert_eq!(field("error"), Some(error)),
            }
        }
    }
    if let Some(params) = field("params") {
        assert!(params.is_object() || params.is_array(), "params {params}");
    }
}

/// A request's params hold what the line's say: `tools/call`'s object member by member
/// (the members the daemon reads), any other as the same JSON.
fn check_params_match(req: &Request, line_params: Option<&Value>) {
    match (line_params, &req.params) {
        (None, None) => {}
        (Some(Value::Object(obj)), Some(Params::ToolCall(call))) => {
            assert_eq!(req.method, "tools/call", "typed params for {}", req.method);
            assert_eq!(obj.get("name"), call.name.as_ref(), "tools/call name");
            assert_eq!(
                obj.get("arguments"),
                call.arguments.as_ref(),
                "tools/call arguments"
            );
            assert_eq!(obj.get("_meta"), call.meta.as_ref(), "tools/call _meta");
        }
        (Some(v), Some(Params::Json(p))) => {
            assert!(
                req.method != "tools/call" || !v.is_object(),
                "tools/call object params kept as JSON"
            );
            assert_eq!(v, p);
        }
        (line, decoded) => panic!("params {line:?} decoded as {decoded:?}"),
    }
}

/// Encoding a decoded message again decodes to the same message, and a reply echoes its id.
fn check_reencoded(message: &Message) {
    let (id, mut v) = match message {
        Message::Request(req) => (Some(&req.id), json!({"method": req.method})),
        Message::Notification(n) => (None, json!({"method": n.method})),
        Message::Response { id, outcome } => match outcome {
            Ok(result) => (Some(id), json!({ "result": result })),
            Err(error) => (Some(id), json!({ "error": error })),
        },
    };
    v["jsonrpc"] = json!("2.0");
    match message {
        Message::Request(Request {
            params: Some(p), ..
        }) => v["params"] = p.clone().into_value(),
        Message::Notification(jsonrpc::Notification {
            params: Some(p), ..
        }) => v["params"] = p.clone(),
        _ => {}
    }
    let mut line = serde_json::to_vec(&v).expect("a Value serializes");
    // The id goes in as written: a number id keeps its own spelling (`1e3`).
    if let Some(id) = id {
        let mut member = b"\"id\":".to_vec();
        jsonrpc::write_id(&mut member, id);
        member.push(b',');
        line.splice(1..1, member);
    }
    let v = String::from_utf8_lossy(&line);
    match jsonrpc::decode(&line) {
        Ok(again) => assert_eq!(&again, message, "re-encoded as {v}"),
        Err(e) => panic!("re-encoded {v} does not decode: {e:?}"),
    }
    if let Message::Request(req) = message {
        let reply: Value = serde_json::from_slice(&jsonrpc::encode_result(&req.id, &json!({})))
            .expect("an encoded result is JSON");
        assert_eq!(reply["id"], req.id.to_value(), "the id is echoed as sent");
        assert_eq!(reply["result"], json!({}));
    }
}

// ---- what the session and the router do with a request ----

fn check_request(req: &Request) {
    check_era(req);
    match req.method.as_str() {
        "initialize" => {
            let asked = req.param("protocolVersion").and_then(Value::as_str);
            let answered = version::negotiate_legacy(asked);
            assert!(LEGACY_VERSIONS.contains(&answered));
            if let Some(asked) = asked.filter(|a| LEGACY_VERSIONS.contains(a)) {
                assert_eq!(answered, asked, "a legacy version is echoed");
            }
        }
        "tools/list" => check_tools_list(req),
        "tools/call" => check_tools_call(req),
        _ => {}
    }
}

/// `_meta`'s version decides the era; a version this server does not speak is `-32022`.
fn check_era(req: &Request) {
    let asked = req.meta().and_then(|m| m.get(META_VERSION_KEY));
    let asked_str = asked.and_then(Value::as_str);
    for negotiated in [None, Some(NEGOTIATED)] {
        match version::era_of(req, negotiated) {
            Ok(Era::Modern) => assert_eq!(asked_str, Some(MODERN_VERSION)),
            Ok(Era::Legacy(v)) => {
                assert_eq!(Some(v), negotiated);
                assert!(asked.is_none() || asked_str.is_some_and(|a| LEGACY_VERSIONS.contains(&a)));
            }
            Err(e) if e.code == UNSUPPORTED_VERSION => {
                let asked = asked.expect("-32022 without a version asked");
                assert!(
                    !version::supported_versions().any(|s| Some(s) == asked.as_str()),
                    "a supported version {asked} refused"
                );
                assert_eq!(e.data.as_ref().map(|d| &d["requested"]), Some(asked));
            }
            Err(e) if e.code == INVALID_PARAMS => {
                assert!(
                    asked.is_some_and(|a| !a.is_string()),
                    "-32602 for a version string: {e:?}"
                );
            }
            Err(e) => {
                assert_eq!(e.code, INVALID_REQUEST, "era error {e:?}");
                assert_eq!(negotiated, None, "refused in an initialized session: {e:?}");
            }
        }
    }
}

/// A cursor is accepted only if it points at the start of a page.
fn check_tools_list(req: &Request) {
    let Some(Value::String(c)) = req.param("cursor") else {
        return;
    };
    for modern in [false, true] {
        match CATALOG.list_page(Some(c), modern) {
            Ok(page) => {
                let offset = cursor::decode("tools", c).expect("an accepted cursor decodes");
                assert!(offset.is_multiple_of(LIST_PAGE) && offset < CATALOG.tools().len());
                let v: Value = serde_json::from_slice(page.result).expect("a page is JSON");
                let tools = v["tools"].as_array().expect("a page lists tools");
                assert!(!tools.is_empty(), "an empty page at {c:?}");
            }
            Err(e) => assert!(e.contains("invalid cursor"), "{e}"),
        }
    }
}

/// As the router: unwrap `params.arguments`, then validate against every tool's schema, on
/// their own and on top of otherwise conforming arguments.
fn check_tools_call(req: &Request) {
    let Some(args) = check_envelope(req.param("arguments").cloned()) else {
        return;
    };
    for (tool, conforming) in CONFORMING.iter() {
        check_schema(tool, &args);
        let mut overlaid = conforming.clone();
        overlaid.extend(args.clone());
        check_schema(tool, &overlaid);
    }
}

// ---- argument envelopes ----

fn check_envelope(raw: Option<Value>) -> Option<Map<String, Value>> {
    let got = unwrap_arguments(raw.clone());
    match (&raw, &got) {
        (_, Err(e)) => {
            assert!(
                e.contains("arguments"),
                "an envelope error not naming it: {e}"
            );
            return None;
        }
        (None | Some(Value::Null), Ok(args)) => assert!(args.is_empty()),
        // Flat arguments are passed through as they are.
        (Some(Value::Object(flat)), Ok(args)) if !is_wrapper(flat) => assert_eq!(flat, args),
        _ => {}
    }
    let args = got.ok()?;
    // Every envelope of the same arguments gives them back.
    if !is_wrapper(&args) {
        let text = Value::Object(args.clone()).to_string();
        let mut forms = vec![
            Value::Object(args.clone()),
            json!({ "arguments": args }),
            json!({ "kwargs": args }),
        ];
        // Serialized forms nest one level deeper when parsed; stay under serde_json's limit.
        if depth(&Value::Object(args.clone())) < 100 {
            forms.push(json!({ "arguments": text }));
            forms.push(Value::String(text.clone()));
            forms.push(json!({ "arguments": json!({ "kwargs": args }).to_string() }));
        }
        for form in forms {
            assert_eq!(
                unwrap_arguments(Some(form.clone())),
                Ok(args.clone()),
                "envelope {form}"
            );
        }
    }
    Some(args)
}

/// An object the envelope code unwraps rather than takes as the arguments.
fn is_wrapper(obj: &Map<String, Value>) -> bool {
    obj.len() == 1 && (obj.contains_key("arguments") || obj.contains_key("kwargs"))
}

// ---- schema validation ----

fn check_schema(tool: &ToolSpec, args: &Map<String, Value>) {
    let schema = &tool.input_schema;
    let verdict = schema::validate(schema, args);
    assert_eq!(verdict, schema::validate(schema, args), "not deterministic");
    let required = required_names(schema);
    match (&verdict, top_level_fault(schema, args)) {
        (Ok(()), Some(fault)) => panic!("{}: accepted {args:?} although {fault}", tool.name),
        (Ok(()), None) => {
            // Leaving optional arguments out never makes valid arguments invalid.
            let minimal: Map<String, Value> = args
                .iter()
                .filter(|(k, _)| required.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(
                schema::validate(schema, &minimal),
                Ok(()),
                "{}: {args:?} without its optional arguments",
                tool.name
            );
        }
        (Err(e), _) => {
            // The message names the offending argument, which was sent or is required.
            let names_one = args
                .keys()
                .map(String::as_str)
                .chain(required.iter().copied())
                .any(|name| e.contains(&format!("`{name}")));
            assert!(
                names_one,
                "{}: {e:?} names no argument of {args:?}",
                tool.name
            );
        }
    }
}

/// The first top-level rule `args` breaks, checked without the validator: required names,
/// a closed object's unknown names, and each argument's `type` and `enum`.
fn top_level_fault(schema: &Value, args: &Map<String, Value>) -> Option<String> {
    if let Some(missing) = required_names(schema)
        .into_iter()
        .find(|n| !args.contains_key(*n))
    {
        return Some(format!("`{missing}` is missing"));
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, value) in args {
        let Some(sub) = props.and_then(|p| p.get(name)) else {
            if closed {
                return Some(format!("`{name}` is unknown"));
            }
            continue;
        };
        if let Some(ty) = sub.get("type").and_then(Value::as_str)
            && !has_type(ty, value)
        {
            return Some(format!("`{name}` is not {ty}"));
        }
        if let Some(options) = sub.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            return Some(format!("`{name}` is outside its enum"));
        }
    }
    None
}

/// The oracle's own type check, kept apart from `schema::type_matches` on purpose: an
/// oracle that shares the code under test cannot catch that code's mistakes.
fn has_type(ty: &str, value: &Value) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    }
}

fn required_names(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Every tool accepts arguments built to its own schema: no false rejections.
fn check_conforming_arguments() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        for (tool, args) in CONFORMING.iter() {
            assert_eq!(
                schema::validate(&tool.input_schema, args),
                Ok(()),
                "{}: conforming arguments {args:?} refused",
                tool.name
            );
            let required = required_names(&tool.input_schema);
            let minimal: Map<String, Value> = args
                .iter()
                .filter(|(k, _)| required.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(schema::validate(&tool.input_schema, &minimal), Ok(()));
        }
    });
}

/// A value that satisfies `schema`, using every property of objects.
fn conforming_value(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|o| o.first())
    {
        return first.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.first().and_then(Value::as_str).unwrap_or("null"),
        _ => "null",
    };
    let bound = |key| schema.get(key).and_then(Value::as_f64);
    let number = match (
        bound("minimum"),
        bound("exclusiveMinimum"),
        bound("maximum"),
    ) {
        (Some(min), _, _) => min.ceil(),
        (None, Some(above), _) => above.floor() + 1.0,
        (None, None, Some(max)) => max.floor().min(0.0),
        (None, None, None) => 0.0,
    };
    match ty {
        "object" => {
            let props = schema.get("properties").and_then(Value::as_object);
            let obj = props
                .into_iter()
                .flatten()
                .map(|(name, sub)| (name.clone(), conforming_value(sub)))
                .collect();
            Value::Object(obj)
        }
        "array" => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1);
            let item = schema.get("items").map_or(Value::Null, conforming_value);
            Value::Array(vec![item; n as usize])
        }
        "string" => {
            let n = schema.get("minLength").and_then(Value::as_u64).unwrap_or(1);
            Value::String("x".repeat(n as usize))
        }
        "integer" => json!(number as i64),
        "number" => json!(number),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

// ---- utilities ----

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(obj) => 1 + obj.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A tiny deterministic PRNG (xorshift64) for chunk sizes, seeded by the input itself.
struct XorShift(u64);

impl XorShift {
    fn seeded(data: &[u8]) -> XorShift {
        // FNV-1a; never zero, which would stall xorshift.
        let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        XorShift(hash | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
