//! What can still be made of a line the JSON parser refused although it is JSON by the
//! grammar (RFC 8259): clients send lone surrogates (editor text cut inside an emoji, as
//! JavaScript's `JSON.stringify` writes it) and a leading byte order mark, which are
//! repaired; numbers beyond `f64` and nesting beyond the parser's depth cannot be, but the
//! request's id can still be read, so its error reaches the request that caused it.
//!
//! Only refused lines come here: nothing on this path runs for a line that parses.

/// The line with a leading byte order mark dropped and every lone surrogate escape
/// (`\ud83d` not followed by a low one, or a low one alone) written as `\ufffd`, the
/// replacement character; `None` when there is nothing of the kind to repair.
pub fn repair(text: &str) -> Option<String> {
    let body = text.strip_prefix('\u{feff}');
    let mut changed = body.is_some();
    let text = body.unwrap_or(text);
    let bytes = text.as_bytes();
    let mut out = String::new();
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = hex_escape(bytes, i) else {
            // `\\`, `\"` and the other one-character escapes: skip the escaped byte.
            i += 2;
            continue;
        };
        if (0xD800..0xDC00).contains(&unit)
            && hex_escape(bytes, i + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low))
        {
            i += 12; // a pair: one character
        } else if (0xD800..0xE000).contains(&unit) {
            // Escapes start at an ASCII `\`, so these slices fall on character boundaries.
            out.push_str(&text[copied..i]);
            out.push_str("\\ufffd");
            i += 6;
            copied = i;
            changed = true;
        } else {
            i += 6;
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The UTF-16 unit of a `\uXXXX` escape starting at `at`.
fn hex_escape(bytes: &[u8], at: usize) -> Option<u32> {
    let escape = bytes.get(at..at + 6)?;
    if escape[..2] != *b"\\u" {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

/// The JSON text of the `"id"` member of `text`, when `text` is one JSON object by the
/// grammar, however deep it nests and however large its numbers, with one `"id"` member.
pub fn readable_id(text: &str) -> Option<&str> {
    let mut p = Grammar {
        bytes: text.as_bytes(),
        at: 0,
    };
    p.whitespace();
    p.expect(b'{')?;
    p.whitespace();
    let mut id = None;
    if !p.eat(b'}') {
        loop {
            let key_start = p.string()?;
            let key = &text[key_start..p.at];
            p.whitespace();
            p.expect(b':')?;
            p.whitespace();
            let start = p.at;
            p.value()?;
            if is_id_key(key) {
                if id.is_some() {
                    return None; // two ids: which one the client means is not ours to pick
                }
                id = Some(&text[start..p.at]);
            }
            p.whitespace();
            if p.eat(b'}') {
                break;
            }
            p.expect(b',')?;
            p.whitespace();
        }
    }
    p.whitespace();
    if p.at == p.bytes.len() { id } else { None }
}

/// `key` is a member name as written, quotes included.
fn is_id_key(key: &str) -> bool {
    key == "\"id\""
        || (key.contains('\\') && serde_json::from_str::<String>(key).is_ok_and(|k| k == "id"))
}

/// A recognizer for RFC 8259's grammar, without limits: nesting is tracked on a heap stack
/// (bounded by the line, which framing bounds) and numbers are only checked for their shape.
struct Grammar<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Grammar<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// One value of any depth.
    fn value(&mut self) -> Option<()> {
        // The closing bracket each open container is waiting for.
        let mut open: Vec<u8> = Vec::new();
        loop {
            self.whitespace();
            match self.peek()? {
                b'{' => {
                    self.at += 1;
                    self.whitespace();
                    if !self.eat(b'}') {
                        open.push(b'}');
                        self.member_key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.at += 1;
                    self.whitespace();
                    if !self.eat(b']') {
                        open.push(b']');
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // A value is complete: close what it completes, up to the next element.
            loop {
                let Some(&close) = open.last() else {
                    return Some(());
                };
                self.whitespace();
                if self.eat(b',') {
                    if close == b'}' {
                        self.whitespace();
                        self.member_key()?;
                    }
                    break;
                }
                self.expect(close)?;
                open.pop();
            }
        }
    }

    fn member_key(&mut self) -> Option<()> {
        self.string()?;
        self.whitespace();
        self.expect(b':')
    }

    /// A string; returns where it starts.
    fn string(&mut self) -> Option<usize> {
        let start = self.at;
        self.expect(b'"')?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(start);
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 5;
                        }
                        _ => return None,
                    }
                }
                0..0x20 => return None,
                _ => self.at += 1,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let hit = self.bytes.get(self.at..self.at + word.len()) == Some(word);
        self.at += if hit { word.len() } else { 0 };
        hit.then_some(())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        if !self.eat(b'0') {
            self.digits()?;
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.digits()?;
        }
        Some(())
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        assert_eq!(
            repair(r#"{"s":"ab\ud83d"}"#).as_deref(),
            Some(r#"{"s":"ab\ufffd"}"#)
        );
        assert_eq!(
            repair(r#"{"s":"\udc00x\uD83D\uDE00\ud83dy"}"#).as_deref(),
            Some(r#"{"s":"\ufffdx\uD83D\uDE00\ufffdy"}"#)
        );
        // A high surrogate followed by another high one: both are lone.
        assert_eq!(
            repair(r#""\ud83d\ud83d""#).as_deref(),
            Some(r#""\ufffd\ufffd""#)
        );
        // An escaped backslash before `u` is text, not an escape.
        assert_eq!(repair(r#"{"s":"\\ud83d é"}"#), None);
        assert_eq!(repair(r#"{"s":"\ud83d\ude00 \n \u00e9"}"#), None);
        // What it writes parses.
        let fixed = repair(r#"{"s":"é\ud83d","t":"\udfff"}"#).unwrap();
        let v: serde_json::Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(v["s"], "é\u{fffd}");
        assert_eq!(v["t"], "\u{fffd}");
    }

    #[test]
    fn a_leading_byte_order_mark_is_dropped() {
        assert_eq!(repair("\u{feff}{\"id\":1}").as_deref(), Some("{\"id\":1}"));
        assert_eq!(repair("{\"id\":1}"), None);
    }

    #[test]
    fn the_id_is_read_from_json_the_parser_cannot_hold() {
        let deep = format!(
            r#"{{"id": "deep", "p": {}1{}}}"#,
            "[".repeat(500),
            "]".repeat(500)
        );
        assert_eq!(readable_id(&deep), Some(r#""deep""#));
        assert_eq!(
            readable_id(r#"{"jsonrpc":"2.0","params":{"n":1e400},"id":42}"#),
            Some("42")
        );
        assert_eq!(
            readable_id(r#" { "\u0069d" : -7.5e3 , "x" : [true, false, null, {"id": 1}] } "#),
            Some("-7.5e3")
        );
        assert_eq!(readable_id(r#"{"x":1}"#), None);
    }

    #[test]
    fn no_id_is_read_from_what_is_not_json_or_names_two() {
        for line in [
            r#"{"id":1"#,
            r#"{"id":1,}"#,
            r#"{"id":01}"#,
            r#"{"id":1} x"#,
            r#"{"id":1,"p":[1,]}"#,
            r#"{"id":1,"p":{"a"}}"#,
            r#"{"id":1,"p":"\x"}"#,
            "{\"id\":1,\"p\":\"\u{1}\"}",
            r#"{"id":1,"p":tru}"#,
            r#"{"id":1,"id":2}"#,
            r#"[{"id":1}]"#,
            r#"{"id":-}"#,
            r#"{"id":1.}"#,
            r#"{"id":1e}"#,
        ] {
            assert_eq!(readable_id(line), None, "{line}");
        }
    }
}
