//! JSON-RPC batches: a JSON array of messages on one line. Of the MCP versions only
//! 2025-03-26 has them (2025-06-18 removed them), so the session asks
//! [`super::version::allows_batches`] before it reads a line as one.

use super::jsonrpc::{self, DecodeError, INVALID_REQUEST, Message, PARSE_ERROR, RpcError};
use super::salvage;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// Most messages one batch may hold: a batch is read whole, and every answer waits in its
/// array until the last, so a line of millions of `1,` must not become millions of errors.
pub const MAX_MESSAGES: usize = 1024;

/// The answer to a batch in a session whose version has none.
pub const REFUSED: &str = "JSON-RPC batches are supported only in protocol version 2025-03-26; \
                           send one message per line";

/// Whether a line is a batch: past a byte order mark and whitespace, it opens an array.
/// Looks at the first byte of an ordinary line and no further.
pub fn is_batch(line: &[u8]) -> bool {
    let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
    let first = line
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    first == Some(&b'[')
}

/// A batch's messages in order, each decoded as `jsonrpc::decode` decodes a line of its own;
/// one error for the whole line when it is not JSON (-32700) or the array is empty (-32600),
/// as JSON-RPC 2.0 §6 answers those.
pub fn decode(line: &[u8]) -> Result<Vec<Result<Message, DecodeError>>, DecodeError> {
    let text = std::str::from_utf8(line)
        .map_err(|e| whole_line(PARSE_ERROR, format!("parse error: not UTF-8: {e}")))?;
    // The elements' own faults (lone surrogates) are repaired element by element; only what
    // keeps the array from parsing (a byte order mark) is repaired here.
    let messages = decode_elements(text)
        .or_else(|e| match salvage::repair(text) {
            Some(repaired) => decode_elements(&repaired).map_err(|_| e),
            None => Err(e),
        })
        .map_err(|e| whole_line(PARSE_ERROR, format!("parse error: {e}")))?;
    let Some(messages) = messages else {
        let why = format!("a batch may hold at most {MAX_MESSAGES} messages: send it in parts");
        return Err(whole_line(INVALID_REQUEST, why));
    };
    if messages.is_empty() {
        let why = "an empty batch holds no message: send at least one";
        return Err(whole_line(INVALID_REQUEST, why.into()));
    }
    Ok(messages)
}

/// The decoded elements, or `None` for a batch of more than [`MAX_MESSAGES`].
fn decode_elements(
    text: &str,
) -> Result<Option<Vec<Result<Message, DecodeError>>>, serde_json::Error> {
    let Capped(elements) = serde_json::from_str(text)?;
    Ok(elements.map(|e| e.iter().map(|e| decode_element(e.get())).collect()))
}

/// A JSON array's elements, unparsed, or `None` past [`MAX_MESSAGES`] (the rest is only
/// checked to be JSON, never kept).
struct Capped<'a>(Option<Vec<&'a RawValue>>);

impl<'de> serde::Deserialize<'de> for Capped<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elements;
        impl<'de> Visitor<'de> for Elements {
            type Value = Capped<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array of messages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Capped<'de>, A::Error> {
                let mut elements = Vec::new();
                while let Some(element) = seq.next_element::<&'de RawValue>()? {
                    if elements.len() == MAX_MESSAGES {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        return Ok(Capped(None));
                    }
                    elements.push(element);
                }
                Ok(Capped(Some(elements)))
            }
        }
        deserializer.deserialize_seq(Elements)
    }
}

fn decode_element(text: &str) -> Result<Message, DecodeError> {
    if text.starts_with('[') {
        let why = "a batch holds messages, not other batches";
        return Err(whole_line(INVALID_REQUEST, why.into()));
    }
    jsonrpc::decode(text.as_bytes())
}

fn whole_line(code: i64, message: String) -> DecodeError {
    DecodeError {
        id: None,
        error: RpcError::new(code, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::RequestId;
    use crate::protocol::version::BATCH_VERSION;

    fn codes(line: &str) -> Vec<Result<String, (Option<RequestId>, i64)>> {
        decode(line.as_bytes())
            .unwrap()
            .into_iter()
            .map(|m| match m {
                Ok(Message::Request(r)) => Ok(r.method),
                Ok(Message::Notification(n)) => Ok(n.method),
                Ok(Message::Response { .. }) => Ok("response".into()),
                Err(e) => Err((e.id, e.error.code)),
            })
            .collect()
    }

    #[test]
    fn a_batch_past_the_message_limit_is_one_error_for_the_line() {
        let batch = |n: usize| format!("[{}]", vec!["1"; n].join(","));
        assert_eq!(
            decode(batch(MAX_MESSAGES).as_bytes()).unwrap().len(),
            MAX_MESSAGES
        );
        for n in [MAX_MESSAGES + 1, 2_000_000] {
            let e = decode(batch(n).as_bytes()).unwrap_err();
            assert_eq!((e.id, e.error.code), (None, INVALID_REQUEST));
            assert!(
                e.error.message.contains("at most 1024"),
                "{}",
                e.error.message
            );
        }
        // What follows the limit is still checked to be JSON.
        let broken = format!(
            "{},}}]",
            &batch(MAX_MESSAGES + 1)[..batch(MAX_MESSAGES + 1).len() - 1]
        );
        assert_eq!(
            decode(broken.as_bytes()).unwrap_err().error.code,
            PARSE_ERROR
        );
    }

    #[test]
    fn only_a_line_opening_an_array_is_a_batch() {
        for line in ["[]", "  [1]", "\t\r\n[", "\u{feff}[{}]", "\u{feff} ["] {
            assert!(is_batch(line.as_bytes()), "{line:?}");
        }
        for line in ["{\"a\":[1]}", "", "  ", "1", "\"[\"", "\u{feff}{}"] {
            assert!(!is_batch(line.as_bytes()), "{line:?}");
        }
    }

    #[test]
    fn each_element_is_decoded_as_its_own_line_would_be() {
        let got = codes(
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, {"jsonrpc":"2.0","method":"n"},
                {"jsonrpc":"2.0","id":2}, 1, [], {"jsonrpc":"2.0","id":3,"method":"x","params":{"n":1e400}},
                {"jsonrpc":"2.0","id":"\ud83d","method":"ping"}]"#,
        );
        assert_eq!(
            got,
            vec![
                Ok("ping".into()),
                Ok("n".into()),
                Err((Some(RequestId::Number(2)), INVALID_REQUEST)),
                Err((None, INVALID_REQUEST)),
                Err((None, INVALID_REQUEST)),
                Err((Some(RequestId::Number(3)), PARSE_ERROR)),
                Ok("ping".into()),
            ]
        );
    }

    #[test]
    fn an_empty_or_broken_batch_gets_one_error() {
        let empty = decode(b" [ ] ").unwrap_err();
        assert_eq!((empty.id, empty.error.code), (None, INVALID_REQUEST));
        for broken in [
            &b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"[..],
            b"[\xff]",
        ] {
            let e = decode(broken).unwrap_err();
            assert_eq!((e.id, e.error.code), (None, PARSE_ERROR));
        }
        let bom = "\u{feff}[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]";
        assert_eq!(codes(bom), vec![Ok("ping".into())]);
    }

    #[test]
    fn the_refusal_names_the_version_that_has_batches() {
        assert!(REFUSED.contains(BATCH_VERSION));
    }
}
