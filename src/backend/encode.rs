//! Percent-encoding for query values and path segments (RFC 3986: unreserved bytes stay).

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
