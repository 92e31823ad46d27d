//! Snippet names in resource URIs. A file name may hold spaces or non-ASCII letters, which
//! an RFC 3986 URI cannot: listed URIs percent-encode them (`backend::encode`, the encoding
//! backend paths and queries use), and a URI is read back here with one level of
//! percent-decoding, so clients that normalise URIs (and those that do not) reach the same
//! snippet. Confinement checks the decoded name.

/// `segment` with its `%XX` escapes decoded; as it is when it has none, when a `%` is not
/// followed by two hex digits, or when the decoded bytes are not UTF-8 (a name written
/// without encoding, such as `100%`).
pub fn decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_string();
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly (`from_str_radix` alone would take `+f`).
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                None => return segment.to_string(),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| segment.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(name: &str) -> String {
        crate::backend::encode::percent_encode(name)
    }

    #[test]
    fn names_outside_pchar_are_encoded_and_read_back() {
        for (name, uri) in [
            ("intro", "intro"),
            ("with space", "with%20space"),
            ("héllo_日本", "h%C3%A9llo_%E6%97%A5%E6%9C%AC"),
            ("100%", "100%25"),
            ("a?b#c/d", "a%3Fb%23c%2Fd"),
            ("it's-(v1.2)~x", "it%27s-%28v1.2%29~x"),
        ] {
            assert_eq!(encoded(name), uri);
            assert_eq!(decode(uri), name);
        }
    }

    #[test]
    fn names_written_without_encoding_are_read_as_written() {
        assert_eq!(decode("with space"), "with space");
        assert_eq!(decode("héllo"), "héllo");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("50%off"), "50%off");
        assert_eq!(decode("50%+10"), "50%+10");
        // Bytes that decode to something other than UTF-8 were not an encoding.
        assert_eq!(decode("%ff"), "%ff");
        // Traversal spelled encoded decodes to what confinement refuses.
        assert_eq!(decode("%2e%2e"), "..");
        assert_eq!(decode("sub%2Fdeep"), "sub/deep");
    }
}
