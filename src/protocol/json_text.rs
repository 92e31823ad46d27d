//! Writing JSON strings on the hot path: most strings the daemon writes (names, URIs, ids,
//! versions) hold nothing to escape and are copied as they are; the rest go through
//! serde_json.

/// Whether `s` can stand between quotes as it is.
pub fn is_plain(s: &str) -> bool {
    !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if is_plain(s) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_serde_json_writes() {
        for s in [
            "",
            "plain",
            "é ☃",
            "q\"uote",
            "back\\slash",
            "nl\n",
            "\u{1f}",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}
