//! Text as a person must see it before deciding on it, in a terminal or in an IDE's
//! question: control characters (a carriage return that hides what precedes it, escape
//! sequences, newlines that fake another entry or another line of the question) and
//! invisible marks written as escapes.

/// Marks a terminal (or a text box) does not show but obeys: zero-width characters and direction overrides
/// (U+202E shows what follows reversed).
fn invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A command as it must be shown to the person deciding: whole, with control
/// characters (a carriage return that hides what precedes it, escape sequences, newlines
/// that fake another entry) and invisible marks written as escapes.
pub fn printable(command: &str) -> String {
    let mut out = String::with_capacity(command.len());
    for c in command.chars() {
        if c.is_control() || invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines of a report (whose strings JSON already escaped) with the invisible marks a
/// client put in them written as escapes.
pub fn visible(report: &str) -> String {
    let mut out = String::with_capacity(report.len());
    for c in report.chars() {
        if invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_terminal_would_hide_is_written_as_escapes() {
        assert_eq!(printable("ls -la"), "ls -la");
        assert_eq!(
            printable("ls -la /root/.ssh\r\u{1b}[18Cpwd\u{1b}[K"),
            "ls -la /root/.ssh\\r\\u{1b}[18Cpwd\\u{1b}[K"
        );
        assert_eq!(printable("a\nb\u{202e}c é"), "a\\nb\\u{202e}c é");
        assert_eq!(
            visible("pending: echo \u{202e}gnp.exe\nnext é"),
            "pending: echo \\u{202e}gnp.exe\nnext é"
        );
    }
}
