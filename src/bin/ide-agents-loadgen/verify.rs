//! Classification of one received line. Pure, so the connection loop only has to
//! match ids against its outstanding requests.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::scenario::Scenario;
use crate::stats::ErrorKind;

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A notification or request from the server: not an answer to anything we sent.
    Ignore,
    /// Not a JSON object.
    Invalid,
    /// A response. `id` is `None` if it is not an unsigned integer (so it cannot be ours);
    /// `problem` says why it does not count as a success.
    Response {
        id: Option<u64>,
        problem: Option<ErrorKind>,
    },
}

/// Only the members we check; everything else is skipped without being materialized.
#[derive(Deserialize)]
struct Message {
    /// `Some(Null)` for `"id": null` (an error we must count), `None` if absent.
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    method: Option<IgnoredAny>,
    result: Option<ResultProbe>,
    error: Option<IgnoredAny>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

pub fn classify(line: &[u8], scenario: Scenario) -> Verdict {
    // Serde would also map a JSON array onto the struct's fields; a batch is not valid here.
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Verdict::Invalid;
    }
    let Ok(msg) = serde_json::from_slice::<Message>(line) else {
        return Verdict::Invalid;
    };
    let Some(id) = msg.id else {
        return Verdict::Ignore;
    };
    let id = id.as_u64();
    if scenario == Scenario::Echo {
        // The echo server returns our request verbatim, `method` and all.
        return Verdict::Response { id, problem: None };
    }
    if msg.method.is_some() {
        return Verdict::Ignore;
    }
    let problem = match msg.result {
        _ if msg.error.is_some() => Some(ErrorKind::RpcError),
        // `"result": null` lands here too: MCP results are always objects.
        None => Some(ErrorKind::MissingResult),
        Some(r) if r.is_error && scenario == Scenario::ToolsCall => Some(ErrorKind::ToolError),
        Some(_) => None,
    };
    Verdict::Response { id, problem }
}

/// What we need from `result`: whether it is an object with `"isError": true`.
/// Accepts any JSON value so an odd result is reported as such, not as invalid JSON.
struct ResultProbe {
    is_error: bool,
}

impl<'de> Deserialize<'de> for ResultProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl ProbeVisitor {
    const SCALAR: ResultProbe = ResultProbe { is_error: false };
}

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = ResultProbe;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ResultProbe, A::Error> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(rename = "isError")]
            is_error: Option<Value>,
        }
        let fields = Fields::deserialize(MapAccessDeserializer::new(map))?;
        Ok(ResultProbe {
            is_error: fields.is_error == Some(Value::Bool(true)),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultProbe, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::SCALAR)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ResultProbe, E> {
        Ok(Self::SCALAR)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ResultProbe, E> {
        Ok(Self::SCALAR)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ResultProbe, E> {
        Ok(Self::SCALAR)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ResultProbe, E> {
        Ok(Self::SCALAR)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<ResultProbe, E> {
        Ok(Self::SCALAR)
    }

    fn visit_unit<E: de::Error>(self) -> Result<ResultProbe, E> {
        Ok(Self::SCALAR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(id: u64) -> Verdict {
        Verdict::Response {
            id: Some(id),
            problem: None,
        }
    }

    fn bad(id: Option<u64>, kind: ErrorKind) -> Verdict {
        Verdict::Response {
            id,
            problem: Some(kind),
        }
    }

    fn check(line: &str, scenario: Scenario) -> Verdict {
        classify(line.as_bytes(), scenario)
    }

    #[test]
    fn successful_results() {
        use Scenario::*;
        let line = r#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
        for s in [Ping, ToolsList, ToolsCall, ResourcesRead, Echo] {
            assert_eq!(check(line, s), ok(3));
        }
        let big = r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"a","x":[1,{"b":null}]}],"nextCursor":"c"}}"#;
        assert_eq!(check(big, ToolsList), ok(4));
        let tool = r#"{"jsonrpc":"2.0","id":5,"result":{"content":[],"isError":false}}"#;
        assert_eq!(check(tool, ToolsCall), ok(5));
    }

    #[test]
    fn tool_errors_only_matter_for_tools_call() {
        let line = r#"{"jsonrpc":"2.0","id":6,"result":{"isError":true,"content":[]}}"#;
        assert_eq!(
            check(line, Scenario::ToolsCall),
            bad(Some(6), ErrorKind::ToolError)
        );
        assert_eq!(check(line, Scenario::Ping), ok(6));
    }

    #[test]
    fn errors_and_missing_results() {
        let err = r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"nope"}}"#;
        assert_eq!(
            check(err, Scenario::Ping),
            bad(Some(7), ErrorKind::RpcError)
        );
        let null_id = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}"#;
        assert_eq!(
            check(null_id, Scenario::Ping),
            bad(None, ErrorKind::RpcError)
        );
        let neither = r#"{"jsonrpc":"2.0","id":8}"#;
        assert_eq!(
            check(neither, Scenario::Ping),
            bad(Some(8), ErrorKind::MissingResult)
        );
        let null_result = r#"{"jsonrpc":"2.0","id":8,"result":null}"#;
        assert_eq!(
            check(null_result, Scenario::Ping),
            bad(Some(8), ErrorKind::MissingResult)
        );
        let scalar_result = r#"{"jsonrpc":"2.0","id":9,"result":[1,2]}"#;
        assert_eq!(check(scalar_result, Scenario::ToolsCall), ok(9));
    }

    #[test]
    fn foreign_ids_are_not_ours() {
        let line = r#"{"jsonrpc":"2.0","id":"1","result":{}}"#;
        assert_eq!(
            check(line, Scenario::Ping),
            Verdict::Response {
                id: None,
                problem: None
            }
        );
        assert_eq!(
            check(r#"{"id":-1,"result":{}}"#, Scenario::Echo),
            Verdict::Response {
                id: None,
                problem: None
            }
        );
    }

    #[test]
    fn server_messages_are_ignored() {
        let note = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#;
        assert_eq!(check(note, Scenario::Ping), Verdict::Ignore);
        assert_eq!(check(note, Scenario::Echo), Verdict::Ignore);
        let request = r#"{"jsonrpc":"2.0","id":1,"method":"roots/list"}"#;
        assert_eq!(check(request, Scenario::Ping), Verdict::Ignore);
        // ...but an echoed request is exactly what the echo scenario waits for.
        assert_eq!(check(request, Scenario::Echo), ok(1));
    }

    #[test]
    fn garbage_is_invalid() {
        for line in [
            "",
            "   ",
            "not json",
            "[1,2]",
            "42",
            r#"{"id":1"#,
            r#"[{"id":1}]"#,
        ] {
            assert_eq!(check(line, Scenario::Echo), Verdict::Invalid, "{line:?}");
        }
        // Trailing whitespace (e.g. `\r` before the newline) is fine.
        assert_eq!(check("{\"id\":2,\"result\":{}}\r", Scenario::Ping), ok(2));
    }
}
