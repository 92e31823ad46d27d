//! A request's `params`, read in the same pass as the rest of its line.
//!
//! `tools/call` is most of what clients send, and the daemon reads three members of its
//! params: `name`, `arguments` and `_meta`. Those are kept in fields of their own instead
//! of a map with a key allocated for each; every other method's params stay plain JSON.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A request's params.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    Json(Value),
    /// `tools/call`'s object, as the members the daemon reads.
    ToolCall(Box<CallParams>),
}

/// The members of a `tools/call` params object; a member given as `null` is `Some(Null)`.
/// Other members are not kept (nothing reads them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallParams {
    pub name: Option<Value>,
    pub arguments: Option<Value>,
    pub meta: Option<Value>,
    /// What a retry carries of the round before it (2026-07-28); boxed, since few calls
    /// are retries and these params move between actors.
    pub retry: Option<Box<RetryInput>>,
}

/// A stateless retry's `inputResponses` (its answers to what the previous round asked) and
/// `requestState` (the state that round handed out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryInput {
    pub responses: Option<Value>,
    pub state: Option<Value>,
}

impl Params {
    /// The params as JSON (for `tools/call`, the members that were kept).
    pub fn into_value(self) -> Value {
        match self {
            Params::Json(v) => v,
            Params::ToolCall(c) => Value::Object(members(*c, Map::new())),
        }
    }
}

/// Adds the given members of `call` to `obj`.
fn members(call: CallParams, mut obj: Map<String, Value>) -> Map<String, Value> {
    let retry = call.retry.map(|r| *r).unwrap_or_default();
    let given = [
        ("name", call.name),
        ("arguments", call.arguments),
        ("_meta", call.meta),
        ("inputResponses", retry.responses),
        ("requestState", retry.state),
    ];
    for (key, value) in given {
        if let Some(value) = value {
            obj.insert(key.to_string(), value);
        }
    }
    obj
}

/// `params` as the line holds it, before the method is known (members come in any order).
/// Small, and a request small with it: both are moved several times on their way.
pub(super) enum RawParams {
    /// An object with no members but the three `tools/call` reads.
    Members(Box<CallParams>),
    /// Anything else: an object with other members, an array, a scalar (which the caller
    /// refuses).
    Json(Value),
}

impl RawParams {
    /// The params for a request to `tools/call` (`tool_call`) or to another method.
    pub(super) fn into_params(self, tool_call: bool) -> Params {
        match self {
            RawParams::Members(call) if tool_call => Params::ToolCall(call),
            RawParams::Members(call) => Params::Json(Value::Object(members(*call, Map::new()))),
            RawParams::Json(Value::Object(obj)) if tool_call => {
                Params::ToolCall(Box::new(CallParams::from_object(obj)))
            }
            RawParams::Json(v) => Params::Json(v),
        }
    }
}

impl CallParams {
    /// Holds none of the members (the params were `{}`).
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.arguments.is_none()
            && self.meta.is_none()
            && self.retry.is_none()
    }

    /// The members of an object that has others too.
    fn from_object(mut obj: Map<String, Value>) -> CallParams {
        CallParams {
            name: obj.remove("name"),
            arguments: obj.remove("arguments"),
            meta: obj.remove("_meta"),
            retry: match (obj.remove("inputResponses"), obj.remove("requestState")) {
                (None, None) => None,
                (responses, state) => Some(Box::new(RetryInput { responses, state })),
            },
        }
    }
}

impl<'de> Deserialize<'de> for RawParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawParamsVisitor)
    }
}

struct RawParamsVisitor;

impl<'de> Visitor<'de> for RawParamsVisitor {
    type Value = RawParams;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON-RPC params")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawParams, A::Error> {
        let mut call = CallParams::default();
        let mut rest = Map::new();
        // A member given twice keeps its last value, as in a parsed JSON object.
        while let Some(Key(key)) = map.next_key()? {
            match &*key {
                "name" => call.name = Some(map.next_value()?),
                "arguments" => call.arguments = Some(map.next_value()?),
                "_meta" => call.meta = Some(map.next_value()?),
                "inputResponses" => {
                    call.retry.get_or_insert_default().responses = Some(map.next_value()?)
                }
                "requestState" => {
                    call.retry.get_or_insert_default().state = Some(map.next_value()?)
                }
                _ => {
                    rest.insert(key.into_owned(), map.next_value()?);
                }
            }
        }
        if rest.is_empty() && !call.is_empty() {
            Ok(RawParams::Members(Box::new(call)))
        } else {
            Ok(RawParams::Json(Value::Object(members(call, rest))))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawParams, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawParams::Json(Value::Array(items)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawParams, E> {
        Ok(RawParams::Json(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawParams, E> {
        Ok(RawParams::Json(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawParams, E> {
        Ok(RawParams::Json(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawParams, E> {
        Ok(RawParams::Json(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawParams, E> {
        Ok(RawParams::Json(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawParams, E> {
        Ok(RawParams::Json(Value::Null))
    }
}

/// An object key, borrowed from the line unless it had escapes to undo.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str, tool_call: bool) -> Params {
        serde_json::from_str::<RawParams>(text)
            .unwrap()
            .into_params(tool_call)
    }

    #[test]
    fn any_params_read_for_another_method_are_the_json_they_say() {
        for text in [
            r#"{"name":"n","arguments":{"a":1},"_meta":{"k":[]},"z":null,"a\u0062":2}"#,
            r#"{"name":"a","name":"b"}"#,
            r#"[1,"x",{"y":[true]}]"#,
            r#"{}"#,
            r#""s""#,
            "-5",
            "18446744073709551615",
            "1.5e3",
            "true",
        ] {
            let want: Value = serde_json::from_str(text).unwrap();
            assert_eq!(read(text, false), Params::Json(want.clone()), "{text}");
            assert_eq!(read(text, false).into_value(), want, "{text}");
        }
    }

    #[test]
    fn a_tool_call_keeps_the_members_it_reads() {
        let params = read(
            r#"{"_meta":null,"task":{},"name":"t","arguments":"{}"}"#,
            true,
        );
        let want = CallParams {
            name: Some(json!("t")),
            arguments: Some(json!("{}")),
            meta: Some(Value::Null),
            ..CallParams::default()
        };
        assert_eq!(params, Params::ToolCall(Box::new(want)));
        assert_eq!(
            params.into_value(),
            json!({"name": "t", "arguments": "{}", "_meta": null})
        );
        // A retry's input, in either order of reading.
        for line in [
            r#"{"name":"t","inputResponses":{"a":{"action":"accept"}},"requestState":"s"}"#,
            r#"{"requestState":"s","x":1,"inputResponses":{"a":{"action":"accept"}},"name":"t"}"#,
        ] {
            let Params::ToolCall(call) = read(line, true) else {
                panic!("{line}")
            };
            let retry = call.retry.expect("a retry");
            assert_eq!(retry.responses, Some(json!({"a": {"action": "accept"}})));
            assert_eq!(retry.state, Some(json!("s")));
        }
    }
}
