//! Percent-encoding for query values and path segments (RFC 3986: unreserved bytes stay).

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_percent_encoded(&mut out, s);
    out
}

/// Appends `s` percent-encoded: unreserved bytes as they are, every other byte as `%XX`.
/// Also how resource URIs spell snippet names (`resources::Target::uri`, on every read).
pub fn push_percent_encoded(out: &mut String, s: &str) {
    // Most text needs no escape: copied whole.
    if s.bytes().all(is_unreserved) {
        return out.push_str(s);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// One URL path segment: percent-encoded, and `.`/`..` encoded too, so an id can never
/// climb out of its place in the path.
pub fn path_segment(s: &str) -> String {
    match s {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => percent_encode(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_non_ascii_bytes_are_encoded() {
        assert_eq!(percent_encode("getting-started"), "getting-started");
        assert_eq!(percent_encode("a b/c?d&e=f"), "a%20b%2Fc%3Fd%26e%3Df");
        assert_eq!(percent_encode("../etc"), "..%2Fetc");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn dot_segments_cannot_climb() {
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("."), "%2E");
        assert_eq!(path_segment("a/../b"), "a%2F..%2Fb");
    }
}
