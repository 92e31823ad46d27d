//! Secrets taken out of a command before it is written to the audit log (SPEC §8.2:
//! "secrets never"). A command is read word by word; a word is a secret when it has the
//! shape of a well-known token, follows a word that introduces a credential (`Bearer`,
//! `--password`; `-u user:password`), is the value of a `key=value` whose key names one, or is the
//! password of a URL. What is not recognised is kept: the log must still say what ran.

use std::borrow::Cow;

pub const REDACTED: &str = "[redacted]";

/// Prefixes of tokens issued by GitHub, GitLab, Slack and AWS.
const TOKEN_PREFIXES: [&str; 10] = [
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
];

/// Words after which the next word is a credential.
const INTRODUCERS: [&str; 8] = [
    "bearer",
    "token",
    "basic",
    "authorization:",
    "--password",
    "--token",
    "--secret",
    "--api-key",
];

/// Words after which a `user:password` word has its password taken out (`curl -u`); `-u`
/// alone means too many other things (`sort -u`, `python -u`) to take its word.
const USER_INTRODUCERS: [&str; 2] = ["-u", "--user"];

/// Parts of a `key=value` key that make its value a secret.
const SECRET_KEYS: [&str; 7] = [
    "token", "secret", "password", "passwd", "apikey", "api_key", "api-key",
];

/// `command` with its secrets replaced by [`REDACTED`].
pub fn redact(command: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut changed = false;
    let mut previous = "";
    let mut rest = command;
    while !rest.is_empty() {
        let space = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..space]);
        rest = &rest[space..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        let core = word.trim_matches(|c| matches!(c, '\'' | '"' | '`' | '(' | ')' | ',' | ';'));
        let secret = secret_part(core, previous);
        match secret {
            Some(secret) if !secret.is_empty() => {
                changed = true;
                // `secret` is a slice of `word`: keep what surrounds it (quotes, `key=`).
                let start = secret.as_ptr() as usize - word.as_ptr() as usize;
                out.push_str(&word[..start]);
                out.push_str(REDACTED);
                out.push_str(&word[start + secret.len()..]);
            }
            _ => out.push_str(word),
        }
        previous = core;
        rest = &rest[end..];
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(command)
    }
}

/// The part of `core` that is a secret, given the word before it.
fn secret_part<'a>(core: &'a str, previous: &str) -> Option<&'a str> {
    let introduces = |word: &str| INTRODUCERS.iter().any(|w| word.eq_ignore_ascii_case(w));
    // `Authorization: token X`: the scheme is not the secret, it introduces it.
    if introduces(core) {
        return None;
    }
    if introduces(previous) {
        return Some(core);
    }
    if USER_INTRODUCERS.contains(&previous)
        && let Some((_, password)) = core.split_once(':')
    {
        return Some(password);
    }
    if TOKEN_PREFIXES.iter().any(|p| core.starts_with(p)) {
        return Some(core);
    }
    if let Some(at) = core.find("://").map(|i| i + 3)
        && let Some((userinfo, _)) = core[at..].split_once('@')
        && !userinfo.contains('/')
        && let Some(colon) = userinfo.find(':')
    {
        return Some(&core[at + colon + 1..at + userinfo.len()]);
    }
    if let Some((key, value)) = core.split_once('=') {
        let key = key.to_ascii_lowercase();
        if SECRET_KEYS.iter().any(|k| key.contains(k)) {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_replaced_and_the_rest_kept() {
        let cases = [
            (
                "curl -H 'Authorization: token ghp_abc123' https://api.github.com/user",
                "curl -H 'Authorization: token [redacted]' https://api.github.com/user",
            ),
            (
                "curl -H \"Authorization: Bearer eyJhbGciOi\" x",
                "curl -H \"Authorization: Bearer [redacted]\" x",
            ),
            (
                "deploy --token=s3cr3t --dry-run",
                "deploy --token=[redacted] --dry-run",
            ),
            (
                "mysql --password hunter2 db",
                "mysql --password [redacted] db",
            ),
            ("API_KEY=abc ./run", "API_KEY=[redacted] ./run"),
            (
                "curl -u alice:pw https://x",
                "curl -u alice:[redacted] https://x",
            ),
            (
                "git clone https://bob:pw@github.com/o/r",
                "git clone https://bob:[redacted]@github.com/o/r",
            ),
            ("echo github_pat_11AB", "echo [redacted]"),
        ];
        for (command, want) in cases {
            assert_eq!(redact(command), want, "{command}");
        }
    }

    #[test]
    fn ordinary_commands_are_untouched() {
        for command in [
            "ls -la /tmp",
            "echo token",
            "cargo test --release",
            "pwd",
            "git clone https://github.com/o/r",
            "curl http://host:8080/a@b",
            "sort -u names.txt",
            "python -u script.py",
            "echo a=b",
            "",
            "  spaced   out  ",
        ] {
            assert!(matches!(redact(command), Cow::Borrowed(_)), "{command}");
        }
    }
}
