//! Secrets taken out of a command before it is written to the audit log (SPEC §8.2:
//! "secrets never"). A command is read word by word, and these are taken out:
//! - a word shaped like a well-known token (`ghp_…`, `AKIA…`, `sk-…`, a JWT);
//! - the word after a credential scheme (`Bearer`, `Basic`, `token`);
//! - the value of an option whose name says secret (`--password X`, `--client-secret=X`,
//!   `-storepass X`), of a `key=value` whose key does (`API_KEY=X`, `MYSQL_PWD=X`,
//!   `--from-literal=password=X`, a query's or form's `?api_key=X&q=1`), and of such a
//!   setting (`git config github.token X`, `aws configure set aws_secret_access_key X`);
//! - the value of a header or field that carries a credential, however it is quoted:
//!   `X-Api-Key: X`, `Authorization:Bearer X`, `--header='Private-Token: X'`,
//!   `{"password":"X"}`, and the cookie values of `Cookie:`, `Set-Cookie:`, `curl -b`;
//! - the password of `user:password` after `-u`, `--user`, `--proxy-user`, `--auth` (not a
//!   `uid:gid`) and in a URL, a token standing as a URL's user, OpenSSL's `pass:SECRET`;
//! - a password given as a short option where the program says what the option means:
//!   `mysql -pX` (and the other MySQL and MariaDB programs), `sshpass -p X`,
//!   `docker login -p X`, `redis-cli -a X`, `zip -P X`, `7z -pX`, `mongosh -p X`.
//!
//! What is not recognised is kept: the log must still say what ran.

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

/// Prefixes of tokens (OpenAI and Anthropic, Stripe, npm, PyPI, Hugging Face, Google, AWS
/// session keys, Slack apps) that also begin ordinary words (`hf_transfer`), so they count only
/// on a word as long as a token.
const LONG_TOKEN_PREFIXES: [&str; 9] = [
    "sk-", "sk_live_", "rk_live_", "npm_", "pypi-", "hf_", "AIza", "ASIA", "xapp-",
];
const LONG_TOKEN_MIN_LEN: usize = 20;

/// Credential schemes: the word after one is the credential (`Authorization: Bearer X`).
const SCHEMES: [&str; 3] = ["bearer", "token", "basic"];

/// Words after which a `user:password` word has its password taken out (`curl -u`); `-u`
/// alone means too many other things (`sort -u`, `python -u`) to take its word.
const USER_INTRODUCERS: [&str; 4] = ["-u", "--user", "--proxy-user", "--auth"];

/// Parts of a name (of an option, a `key=`, a header or a field) that make its value a secret.
/// They are looked for with case and `-`, `_`, `.` ignored, so `API_KEY` and `api-key` hold `apikey`.
const SECRET_NAME_PARTS: [&str; 10] = [
    "token",
    "bearer",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "privatekey",
    "accesskey",
    "credential",
];

/// Header and field names that carry a credential without saying secret (`X-Api-Key`,
/// `Proxy-Authorization`, `Cookie`, a JSON `"auth"`), as one of their `-`/`_` separated parts.
const SECRET_FIELD_PARTS: [&str; 4] = ["key", "auth", "authorization", "cookie"];

/// First and last parts of option names that say secret while their next word is not one: a
/// flag (`--no-password`, `--ask-pass`, `--password-stdin`) or a name, place, kind or amount
/// (`--secret-id`, `--token-file`, `--token-type`, `--max-tokens`). Their `--x=value` form is
/// still taken out: there the value surely is the option's.
const FLAG_FIRST_PARTS: [&str; 6] = ["no", "ask", "with", "max", "min", "num"];
const FLAG_LAST_PARTS: [&str; 14] = [
    "id", "name", "arn", "file", "path", "dir", "type", "ttl", "stdin", "env", "prompt", "helper",
    "limit", "count",
];

/// Quotes a field name or value may have, longest first: `\"` is a JSON quote inside a
/// double-quoted shell word.
const QUOTES: [&str; 3] = ["\\\"", "\"", "'"];

/// Shell punctuation around a word that is not part of it.
const WRAPPING: [char; 7] = ['\'', '"', '`', '(', ')', ',', ';'];

/// `command` with its secrets replaced by [`REDACTED`].
pub fn redact(command: &str) -> Cow<'_, str> {
    let mut reader = Reader {
        command,
        out: String::new(),
        copied: 0,
        expect: Expect::Anything,
        previous: "",
        program: None,
        open_secret: None,
    };
    for word in command.split_whitespace() {
        reader.word(word);
    }
    reader.finish()
}

/// What a word says about the word after it.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    Anything,
    /// The next word is a credential (after `Bearer`, `X-Api-Key:`).
    Credential,
    /// The next word is an option's secret value, unless it is another option.
    OptionValue,
    /// The next word holds a field's value (after `"password":`); `Some` when the value is a
    /// quoted string already open, which goes on to its closing quote.
    FieldValue(Option<&'static str>),
    /// The next word goes on with a list of cookies; `file_allowed` when it may instead be the
    /// name of a cookie file (`curl -b cookies.txt`).
    Cookies {
        file_allowed: bool,
    },
    /// The next word goes on with a quoted secret, up to this closing quote.
    QuotedRest(char),
}

/// Programs that take a password as a short option, whose meaning depends on the program
/// (`-p` is also `mkdir -p`, `ssh -p PORT`); read for the rest of their pipeline segment.
#[derive(Clone, Copy, PartialEq)]
enum Program {
    /// `mysql -pSECRET`: the password glued to `-p`; a bare `-p` asks for it.
    GluedP,
    /// `sshpass -p SECRET ssh …`: glued or the next word, up to the command it runs.
    Sshpass,
    /// `redis-cli -a SECRET`, `zip -P SECRET`, `docker login -p SECRET`: glued or the next word.
    PasswordOption(&'static str),
    /// `curl -b 'sid=SECRET'`, `curl -ualice:SECRET`.
    Curl,
    /// `git config github.token SECRET`, `aws configure set aws_secret_access_key SECRET`: the
    /// word after a setting named for a secret.
    Config,
}

impl Program {
    fn named(word: &str, previous: &str) -> Option<Self> {
        let name = word.rsplit('/').next().unwrap_or(word);
        let previous = previous.rsplit('/').next().unwrap_or(previous);
        Some(match name {
            "sshpass" => Self::Sshpass,
            "7z" | "7za" | "7zr" | "rar" | "unrar" => Self::GluedP,
            "zip" | "unzip" => Self::PasswordOption("-P"),
            "redis-cli" => Self::PasswordOption("-a"),
            "mongo" | "mongosh" | "mongodump" | "mongorestore" | "mongoexport" | "mongoimport" => {
                Self::PasswordOption("-p")
            }
            // `gh auth login -p` is its git protocol.
            "login"
                if matches!(
                    previous,
                    "docker"
                        | "podman"
                        | "nerdctl"
                        | "buildah"
                        | "skopeo"
                        | "oras"
                        | "az"
                        | "registry"
                ) =>
            {
                Self::PasswordOption("-p")
            }
            "config" => Self::Config,
            "configure" if previous == "aws" => Self::Config,
            "curl" => Self::Curl,
            _ if (name.starts_with("mysql") || name.starts_with("mariadb"))
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_') =>
            {
                Self::GluedP
            }
            _ => return None,
        })
    }
}

struct Reader<'a> {
    command: &'a str,
    /// The command up to `copied`, with its secrets replaced; empty until one is found.
    out: String,
    copied: usize,
    expect: Expect,
    /// The word before, without its wrapping.
    previous: &'a str,
    program: Option<Program>,
    /// The quote a secret just taken opened and its word did not close
    /// (`PGPASSWORD='correct horse`): the words up to that quote are the secret too.
    open_secret: Option<char>,
}

impl<'a> Reader<'a> {
    fn word(&mut self, word: &'a str) {
        let core = word.trim_matches(WRAPPING);
        let expect = std::mem::replace(&mut self.expect, Expect::Anything);
        self.read(word, core, expect);
        if let Some(quote) = self.open_secret.take()
            && self.expect == Expect::Anything
        {
            self.expect = Expect::QuotedRest(quote);
        }
        if word.ends_with([';', '|', '&']) {
            self.program = None;
        }
        self.previous = core;
    }

    fn read(&mut self, word: &'a str, core: &'a str, expect: Expect) {
        match expect {
            Expect::Anything => {}
            Expect::Credential => return self.credential(core),
            Expect::OptionValue if !core.starts_with('-') => return self.credential(core),
            Expect::OptionValue => {}
            Expect::FieldValue(quote) => {
                let end = self.field_value(word, 0, quote, true);
                return self.fields(word, end);
            }
            Expect::Cookies { file_allowed } => return self.cookies(word, file_allowed),
            Expect::QuotedRest(quote) => {
                match word.find(quote) {
                    Some(end) => {
                        self.take(&word[..end]);
                        // What follows the closing quote is read as a word of its own
                        // (`PGPASSWORD='a b'&&TOKEN=ghp_…`).
                        let rest = &word[end + quote.len_utf8()..];
                        if !rest.is_empty() {
                            self.read(rest, rest.trim_matches(WRAPPING), Expect::Anything);
                        }
                    }
                    None => {
                        self.take(word);
                        self.expect = Expect::QuotedRest(quote);
                    }
                }
                return;
            }
        }
        // A program's name is read on too: `https://…/mysql` is a URL.
        match Program::named(core, self.previous) {
            Some(program) => self.program = Some(program),
            None if self.program_option(core) => return,
            None => {}
        }
        if is_scheme(core) {
            self.expect = Expect::Credential;
            return;
        }
        let user = if USER_INTRODUCERS.contains(&self.previous) {
            Some(core)
        } else {
            USER_INTRODUCERS
                .iter()
                .find_map(|o| core.strip_prefix(o)?.strip_prefix('='))
        };
        if let Some((user, password)) = user.and_then(|u| u.split_once(':')) {
            // `docker run -u 1000:1000` and `--user 0:0` give a uid and gid, not a password.
            if !(is_number(user) && is_number(password)) {
                return self.take(password);
            }
        }
        // OpenSSL's `-passin pass:SECRET` (its other sources, `env:`, `file:`, name no secret).
        if let Some(password) = core.strip_prefix("pass:") {
            return self.take(password);
        }
        if is_token(core) {
            return self.take(core);
        }
        // A JWT inside a word (`session=eyJ…`, `"id_token":"eyJ…"`) whatever it is named.
        let mut jwts = embedded_jwts(core).peekable();
        if jwts.peek().is_some() {
            return jwts.for_each(|jwt| self.take(jwt));
        }
        if let Some(password) = url_secret(core) {
            self.take(password);
            // The query after it may hold more (`https://u:pw@host/?token=X`).
            let after = offset(core, password) + password.len();
            if let Some(value) = secret_assignment(&core[after..]) {
                self.take(value);
            }
            return;
        }
        if self.option(core) {
            return;
        }
        if let Some(value) = secret_assignment(core) {
            return self.take(value);
        }
        self.fields(word, 0)
    }

    /// Reads `core` as the word a credential was announced for.
    fn credential(&mut self, core: &'a str) {
        // `Authorization: token X`: the scheme is not the secret, it introduces it.
        if is_scheme(core) {
            self.expect = Expect::Credential;
        } else if !is_redirection(core) {
            self.take(core);
        }
    }

    /// Reads `core` as an option of the segment's password-taking program; whether it was one.
    fn program_option(&mut self, core: &'a str) -> bool {
        let Some(program) = self.program else {
            return false;
        };
        let (flag, glued_only) = match program {
            Program::GluedP => ("-p", true),
            Program::Sshpass | Program::PasswordOption(_) if !core.starts_with('-') => {
                // sshpass's options end where the command it runs begins.
                if program == Program::Sshpass && !matches!(self.previous, "-f" | "-d" | "-P") {
                    self.program = None;
                }
                return false;
            }
            Program::Sshpass => ("-p", false),
            Program::PasswordOption(flag) => (flag, false),
            Program::Config => {
                let names_a_secret = !core.starts_with('-')
                    && !core.contains('=')
                    && names_secret(core)
                    && !is_flag(core);
                if names_a_secret {
                    self.expect = Expect::Credential;
                }
                return names_a_secret;
            }
            Program::Curl => {
                if core == "-b" {
                    self.expect = Expect::Cookies { file_allowed: true };
                    return true;
                }
                if let Some(cookies) = core.strip_prefix("-b") {
                    self.cookies(cookies, true);
                    return true;
                }
                if let Some((_, password)) = core.strip_prefix("-u").and_then(|u| u.split_once(':'))
                {
                    self.take(password);
                    return true;
                }
                return false;
            }
        };
        match core.strip_prefix(flag) {
            Some("") if !glued_only => self.expect = Expect::OptionValue,
            Some(glued) if !glued.is_empty() => self.take(unquoted(glued)),
            _ => return false,
        }
        true
    }

    /// Reads `core` as an option whose name says it holds a secret or cookies; whether it was one.
    fn option(&mut self, core: &'a str) -> bool {
        let Some(option) = core.strip_prefix('-') else {
            return false;
        };
        let option = option.strip_prefix('-').unwrap_or(option);
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        if name.eq_ignore_ascii_case("cookie") {
            match value {
                Some(cookies) => self.cookies(cookies, true),
                None => self.expect = Expect::Cookies { file_allowed: true },
            }
            return true;
        }
        if !names_secret(name) {
            return false;
        }
        match value {
            Some(value) => self.take(unquoted(value)),
            None if is_flag(name) => {}
            None => self.expect = Expect::OptionValue,
        }
        true
    }

    /// Takes out the values of secret fields (`X-Api-Key:X`, `"password":"X"`) in `word` from `from`.
    fn fields(&mut self, word: &'a str, mut from: usize) {
        while let Some(colon) = word[from..].find(':').map(|i| from + i) {
            let after = colon + 1;
            from = match field_name(&word[..colon]) {
                Some((name, quoted)) if offset(word, name) >= from && is_secret_field(name) => {
                    if has_part_named(name, "cookie") {
                        return self.cookies(&word[after..], false);
                    }
                    self.field_value(word, after, None, quoted)
                }
                _ => after,
            };
        }
    }

    /// Takes out the value of a secret field that starts at `at` in `word` and says where the
    /// reading of fields goes on; `quote` is the quote of a string value already open, and a
    /// quoted name (`"pin":1234`) makes a bare value end at JSON punctuation.
    fn field_value(
        &mut self,
        word: &'a str,
        at: usize,
        quote: Option<&'static str>,
        quoted_name: bool,
    ) -> usize {
        let text = &word[at..];
        if text.is_empty() {
            self.expect = if quoted_name {
                Expect::FieldValue(None)
            } else {
                Expect::Credential
            };
            return word.len();
        }
        let (quote, start) = match quote {
            Some(quote) => (Some(quote), 0),
            None => match QUOTES.iter().find(|q| text.starts_with(**q)) {
                Some(quote) => (Some(*quote), quote.len()),
                None => (None, 0),
            },
        };
        let body = &text[start..];
        // An object or array: its own fields are read on.
        if quote.is_none() && body.starts_with(['{', '[']) {
            return at;
        }
        let (value, end, open) = match quote {
            Some(quote) => match body.find(quote) {
                Some(end) => (&body[..end], start + end + quote.len(), false),
                None => (body.trim_end_matches(WRAPPING), text.len(), true),
            },
            None => {
                let ends: &[char] = if quoted_name {
                    &[',', '}', ']', '"', '\'']
                } else {
                    &['"', '\'']
                };
                let end = body.find(ends).unwrap_or(body.len());
                (&body[..end], end, false)
            }
        };
        if is_scheme(value) {
            if open {
                self.expect = Expect::FieldValue(quote);
            } else if quote.is_none() && end == text.len() {
                self.expect = Expect::Credential;
            }
        } else {
            self.take(value);
            if open {
                self.expect = Expect::FieldValue(quote);
            }
        }
        at + end
    }

    /// Takes out the values of a `name=value; name=value` cookie list; a cookie file's name
    /// (no `=`, where `file_allowed`) is kept.
    fn cookies(&mut self, text: &'a str, file_allowed: bool) {
        let list = text.trim_matches(['\'', '"', '`']);
        if list.is_empty() {
            // `Cookie:` ends its word: the cookies are in the next.
            self.expect = Expect::Cookies {
                file_allowed: false,
            };
            return;
        }
        if file_allowed && !list.contains('=') {
            return;
        }
        for cookie in list.split(';') {
            let cookie = cookie.trim();
            let value = cookie.split_once('=').map_or(cookie, |(_, value)| value);
            self.take(value.trim_matches(['\'', '"']));
        }
        if list.ends_with(';') {
            self.expect = Expect::Cookies {
                file_allowed: false,
            };
        }
    }

    /// Replaces `secret`, a slice of the command after what was replaced before, in the output.
    fn take(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let start = offset(self.command, secret);
        debug_assert!(start >= self.copied, "secrets are taken in order");
        self.out.push_str(&self.command[self.copied..start]);
        self.out.push_str(REDACTED);
        self.copied = start + secret.len();
        // A value opened by a quote and cut by a space goes on to its closing quote.
        let before = self.command[..start].chars().next_back();
        let after = self.command[self.copied..].chars().next();
        if let Some(quote @ ('\'' | '"')) = before
            && after.is_none_or(char::is_whitespace)
        {
            self.open_secret = Some(quote);
        }
    }

    fn finish(mut self) -> Cow<'a, str> {
        if self.copied == 0 {
            return Cow::Borrowed(self.command);
        }
        self.out.push_str(&self.command[self.copied..]);
        Cow::Owned(self.out)
    }
}

/// Where `inner`, a slice of `outer`, starts in it.
fn offset(outer: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// A shell redirection or operator (`<`, `2>`, `&&`), never an option's value.
fn is_redirection(word: &str) -> bool {
    let word = word.trim_start_matches(|c: char| c.is_ascii_digit());
    !word.is_empty() && word.chars().all(|c| matches!(c, '<' | '>' | '|' | '&'))
}

fn is_scheme(word: &str) -> bool {
    SCHEMES.iter().any(|s| word.eq_ignore_ascii_case(s))
}

fn is_token(word: &str) -> bool {
    TOKEN_PREFIXES.iter().any(|p| word.starts_with(p))
        || is_jwt(word)
        || (word.len() >= LONG_TOKEN_MIN_LEN
            && LONG_TOKEN_PREFIXES.iter().any(|p| word.starts_with(p))
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// A JSON Web Token wherever it stands (`eyJhbGciOi….eyJzdWIi….sig`): its header and payload
/// are base64url JSON objects, so both begin `eyJ`.
fn is_jwt(word: &str) -> bool {
    let mut parts = word.split('.');
    let base64url = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(header), Some(payload), Some(signature), None)
            if header.len() > 10 && header.starts_with("eyJ") && payload.starts_with("eyJ")
                && base64url(header) && base64url(payload) && base64url(signature)
    )
}

/// The JWTs inside `word`, each starting at the word's start or after punctuation.
fn embedded_jwts(word: &str) -> impl Iterator<Item = &str> {
    word.match_indices("eyJ").filter_map(move |(start, _)| {
        let boundary = word[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
        let len = word[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(word.len() - start);
        let candidate = word[start..start + len].trim_end_matches('.');
        (boundary && is_jwt(candidate)).then_some(candidate)
    })
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// The password of a URL (`https://bob:pw@host`), or its user when that is a token
/// (`https://ghp_…@github.com`).
fn url_secret(word: &str) -> Option<&str> {
    let at = word.find("://")? + 3;
    let (userinfo, _) = word[at..].split_once('@')?;
    if userinfo.contains('/') {
        return None;
    }
    match userinfo.split_once(':') {
        Some((_, password)) => Some(password),
        None => is_token(userinfo).then_some(userinfo),
    }
}

/// The value of a `key=value` whose key names a secret: a whole word (`API_KEY=X`), one in
/// another's value (`--from-literal=password=X`), or a pair in a query, form or JSON string
/// (`?api_key=X&q=1`, `user=u&password=X`, npm's `//host/:_authToken=X`), whose value ends where
/// the next pair or the string does.
fn secret_assignment(word: &str) -> Option<&str> {
    let mut rest = word;
    while let Some((key, value)) = rest.split_once('=') {
        // The key is the name just before `=`: `api_key` in `https://x/?api_key`.
        let name = &key[key.trim_end_matches(is_name_char).len()..];
        if names_secret(if name.is_empty() { key } else { name }) {
            let value = unquoted(value.trim_start_matches('='));
            let end = if key.contains(['?', '&']) {
                value.find(['&', '#'])
            } else if key.contains(['"', '\'']) {
                value.find(['"', '\''])
            } else {
                None
            };
            return Some(&value[..end.unwrap_or(value.len())]);
        }
        rest = value;
    }
    None
}

/// The name before a field's colon at the end of `text` (`X-Api-Key`, `"password"`,
/// `\"token\"`), and whether it was quoted; only where a field can start: at the start of the
/// word, after `=` (`--header=`), a quote or JSON punctuation, so `host:port` inside a URL is not one.
fn field_name(text: &str) -> Option<(&str, bool)> {
    let (text, quoted) = match text.strip_suffix(['"', '\'']) {
        Some(inner) => (inner.strip_suffix('\\').unwrap_or(inner), true),
        None => (text, false),
    };
    let before = text.trim_end_matches(is_name_char);
    let name = &text[before.len()..];
    let fits = if quoted {
        before.ends_with(['"', '\''])
    } else {
        before.is_empty() || before.ends_with(['=', '{', ',', '(', '[', '"', '\''])
    };
    (!name.is_empty() && fits).then_some((name, quoted))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Whether a name of an option or `key=` says its value is a secret.
fn names_secret(name: &str) -> bool {
    SECRET_NAME_PARTS
        .iter()
        .any(|part| contains_letters(name, part) && !(*part == "token" && names_tokenizer(name)))
        || parts(name).any(|part| {
            // `--pass`, `DB_PASS`, `SSHPASS`, keytool's `-storepass`, `-keypass`.
            part.eq_ignore_ascii_case("pass")
                || part.eq_ignore_ascii_case("sshpass")
                || ends_with_ignoring_case(part, "storepass")
                || ends_with_ignoring_case(part, "keypass")
        })
        // `MYSQL_PWD`, but not `PWD`, the working directory.
        || parts(name).skip(1).any(|part| part.eq_ignore_ascii_case("pwd"))
}

/// Whether "token" in `name` is only that of a tokenizer (`--tokenizer gpt2`, `TOKENIZERS_PARALLELISM`).
fn names_tokenizer(name: &str) -> bool {
    let tokenizer = |part: &str| part.len() > 7 && part[..7].eq_ignore_ascii_case("tokeniz");
    parts(name).any(tokenizer)
        && parts(name)
            .filter(|part| !tokenizer(part))
            .all(|part| !contains_letters(part, "token"))
}

/// Whether a header or field name says its value is a credential.
fn is_secret_field(name: &str) -> bool {
    names_secret(name)
        || SECRET_FIELD_PARTS
            .iter()
            .any(|wanted| has_part_named(name, wanted))
}

/// Whether a secret-named option (`name`, without its dashes) is a flag or names, places or
/// counts a secret rather than taking it as its next word.
fn is_flag(name: &str) -> bool {
    let first = parts(name).next().unwrap_or("");
    let last = parts(name).last().unwrap_or("");
    FLAG_FIRST_PARTS
        .iter()
        .any(|p| first.eq_ignore_ascii_case(p))
        || FLAG_LAST_PARTS.iter().any(|p| last.eq_ignore_ascii_case(p))
}

/// The parts of a name between `-`, `_` and `.`.
fn parts(name: &str) -> impl Iterator<Item = &str> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
}

fn has_part_named(name: &str, wanted: &str) -> bool {
    parts(name).any(|part| part.eq_ignore_ascii_case(wanted))
}

fn ends_with_ignoring_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Whether the letters and digits of `name`, lowercased, contain `part` (lowercase letters).
fn contains_letters(name: &str, part: &str) -> bool {
    let name = name.as_bytes();
    (0..name.len())
        .filter(|&start| name[start].is_ascii_alphanumeric())
        .any(|start| {
            let mut letters = name[start..]
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_lowercase);
            part.bytes().all(|want| letters.next() == Some(want))
        })
}

/// `value` without a leading quote (`-p'SECRET'`, `password="SECRET"`), which is kept.
fn unquoted(value: &str) -> &str {
    value.trim_start_matches(['\'', '"'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_redacted(cases: &[(&str, &str)]) {
        for (command, want) in cases {
            assert_eq!(redact(command), *want, "{command}");
        }
    }

    #[test]
    fn credentials_are_replaced_and_the_rest_kept() {
        assert_redacted(&[
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
                "PGPASSWORD=pw psql -h db",
                "PGPASSWORD=[redacted] psql -h db",
            ),
            (
                "curl -u alice:pw https://x",
                "curl -u alice:[redacted] https://x",
            ),
            (
                "git clone https://bob:pw@github.com/o/r",
                "git clone https://bob:[redacted]@github.com/o/r",
            ),
            ("echo github_pat_11AB", "echo [redacted]"),
        ]);
    }

    #[test]
    fn key_headers_are_replaced_however_written() {
        assert_redacted(&[
            (
                "curl -H 'X-Api-Key: SECRET' https://x",
                "curl -H 'X-Api-Key: [redacted]' https://x",
            ),
            (
                "curl -H \"X-Auth-Token: SECRET\" https://x",
                "curl -H \"X-Auth-Token: [redacted]\" https://x",
            ),
            (
                "curl -H 'X-Api-Key:SECRET' https://x",
                "curl -H 'X-Api-Key:[redacted]' https://x",
            ),
            (
                "curl -H 'Authorization:Bearer SECRET' x",
                "curl -H 'Authorization:Bearer [redacted]' x",
            ),
            (
                "curl -H Authorization:SECRET x",
                "curl -H Authorization:[redacted] x",
            ),
            (
                "curl --header=Authorization:Bearer SECRET x",
                "curl --header=Authorization:Bearer [redacted] x",
            ),
            (
                "curl --header='Authorization: Bearer SECRET' x",
                "curl --header='Authorization: Bearer [redacted]' x",
            ),
            (
                "wget --header=\"Private-Token: SECRET\" x",
                "wget --header=\"Private-Token: [redacted]\" x",
            ),
            (
                "curl -H 'Proxy-Authorization:Basic dXNlcjpwdw==' x",
                "curl -H 'Proxy-Authorization:Basic [redacted]' x",
            ),
            (
                "curl -H 'X-Goog-Api-Key:SECRET' -H 'Ocp-Apim-Subscription-Key: SECRET' x",
                "curl -H 'X-Goog-Api-Key:[redacted]' -H 'Ocp-Apim-Subscription-Key: [redacted]' x",
            ),
            (
                "http GET x Authorization:'Bearer SECRET'",
                "http GET x Authorization:'Bearer [redacted]'",
            ),
        ]);
    }

    #[test]
    fn cookie_values_are_replaced_and_their_names_kept() {
        assert_redacted(&[
            (
                "curl -H 'Cookie: session=SECRET; theme=dark' x",
                "curl -H 'Cookie: session=[redacted]; theme=[redacted]' x",
            ),
            (
                "curl -H 'Set-Cookie:id=SECRET' x",
                "curl -H 'Set-Cookie:id=[redacted]' x",
            ),
            ("curl -b 'sid=SECRET' x", "curl -b 'sid=[redacted]' x"),
            (
                "curl --cookie \"a=SECRET; b=SECRET\" x",
                "curl --cookie \"a=[redacted]; b=[redacted]\" x",
            ),
            (
                "curl --cookie=sid=SECRET x",
                "curl --cookie=sid=[redacted] x",
            ),
        ]);
    }

    #[test]
    fn passwords_of_short_options_are_replaced_where_the_program_says_so() {
        assert_redacted(&[
            ("mysql -u root -pSECRET db", "mysql -u root -p[redacted] db"),
            (
                "sudo /usr/bin/mysqldump -uroot -p'SECRET' db",
                "sudo /usr/bin/mysqldump -uroot -p'[redacted]' db",
            ),
            (
                "docker exec db mariadb -pSECRET -e 'select 1'",
                "docker exec db mariadb -p[redacted] -e 'select 1'",
            ),
            (
                "sshpass -p SECRET ssh -p 2222 host",
                "sshpass -p [redacted] ssh -p 2222 host",
            ),
            (
                "sshpass -P assword -pSECRET scp f host:",
                "sshpass -P assword -p[redacted] scp f host:",
            ),
            (
                "docker login -u bob -p SECRET ghcr.io",
                "docker login -u bob -p [redacted] ghcr.io",
            ),
            ("redis-cli -a SECRET ping", "redis-cli -a [redacted] ping"),
            ("zip -P SECRET out.zip f", "zip -P [redacted] out.zip f"),
            ("7z x -pSECRET a.7z", "7z x -p[redacted] a.7z"),
            (
                "az login --service-principal -u id -p SECRET --tenant t",
                "az login --service-principal -u id -p [redacted] --tenant t",
            ),
            (
                "mongosh -u bob -p SECRET db",
                "mongosh -u bob -p [redacted] db",
            ),
            ("curl -ualice:SECRET x", "curl -ualice:[redacted] x"),
        ]);
    }

    #[test]
    fn values_of_options_named_for_secrets_are_replaced() {
        assert_redacted(&[
            (
                "app --access-token SECRET --client-secret SECRET --apikey SECRET -v",
                "app --access-token [redacted] --client-secret [redacted] --apikey [redacted] -v",
            ),
            (
                "app --access-token=SECRET --client-secret='SECRET' --apikey=SECRET",
                "app --access-token=[redacted] --client-secret='[redacted]' --apikey=[redacted]",
            ),
            (
                "curl --oauth2-bearer SECRET https://x; openssl rsa -passin pass:SECRET -in k.pem",
                "curl --oauth2-bearer [redacted] https://x; openssl rsa -passin pass:[redacted] -in k.pem",
            ),
            (
                "app --tokenizer-token SECRET; docker run -u app:SECRET img",
                "app --tokenizer-token [redacted]; docker run -u app:[redacted] img",
            ),
            (
                "PGPASSWORD='correct horse battery staple' psql; app --password \"a b c\" -v",
                "PGPASSWORD='[redacted] [redacted] [redacted] [redacted]' psql; app --password \"[redacted] [redacted] [redacted]\" -v",
            ),
            (
                "PGPASSWORD='a b'&&GITHUB_TOKEN=ghp_abcdef psql; app --password \"a b\"'--token=S2' x",
                "PGPASSWORD='[redacted] [redacted]'&&GITHUB_TOKEN=[redacted] psql; app --password \"[redacted] [redacted]\"'--token=[redacted]' x",
            ),
            (
                "curl -H \"Authorization: Bearer 'abc def\" -H 'X-Api-Key: S2'",
                // A quote inside another (literal to the shell) runs on too far: better than a leak.
                "curl -H \"Authorization: Bearer '[redacted] [redacted] [redacted] 'X-Api-Key: [redacted]'",
            ),
            (
                "app --password='correct horse' --token 'one' x",
                "app --password='[redacted] [redacted]' --token '[redacted]' x",
            ),
            (
                "app --api_key SECRET --credential SECRET --passwd SECRET",
                "app --api_key [redacted] --credential [redacted] --passwd [redacted]",
            ),
            (
                "gpg --batch --passphrase SECRET -d f",
                "gpg --batch --passphrase [redacted] -d f",
            ),
            (
                "keytool -list -storepass SECRET -keystore ks.jks",
                "keytool -list -storepass [redacted] -keystore ks.jks",
            ),
            (
                "openssl enc -aes256 -pass pass:SECRET -passin pass:SECRET",
                "openssl enc -aes256 -pass [redacted] -passin pass:[redacted]",
            ),
            ("mysql --password --host db", "mysql --password --host db"),
            (
                "curl --user=alice:SECRET x",
                "curl --user=alice:[redacted] x",
            ),
        ]);
    }

    #[test]
    fn values_of_keys_named_for_secrets_are_replaced() {
        assert_redacted(&[
            ("MYSQL_PWD=SECRET mysql", "MYSQL_PWD=[redacted] mysql"),
            (
                "SSHPASS=SECRET sshpass -e ssh host",
                "SSHPASS=[redacted] sshpass -e ssh host",
            ),
            ("DB_PASS=SECRET ./run", "DB_PASS=[redacted] ./run"),
            (
                "export PASSWORD=\"SECRET\"",
                "export PASSWORD=\"[redacted]\"",
            ),
            (
                "echo '{\"cmd\":\"token=SECRET\"}' a,secret=SECRET",
                "echo '{\"cmd\":\"token=[redacted]\"}' a,secret=[redacted]",
            ),
            (
                "kubectl create secret generic s --from-literal=password=SECRET",
                "kubectl create secret generic s --from-literal=password=[redacted]",
            ),
            (
                "curl 'https://x/api?api_key=SECRET&q=1#top'",
                "curl 'https://x/api?api_key=[redacted]&q=1#top'",
            ),
            (
                "curl -d 'grant_type=password&username=u&password=SECRET' https://u:pw@x/?token=SECRET",
                "curl -d 'grant_type=password&username=u&password=[redacted]' https://u:[redacted]@x/?token=[redacted]",
            ),
            (
                "npm config set //registry.npmjs.org/:_authToken=SECRET",
                "npm config set //registry.npmjs.org/:_authToken=[redacted]",
            ),
            (
                "git config --global github.token SECRET",
                "git config --global github.token [redacted]",
            ),
            (
                "aws configure set aws_secret_access_key SECRET",
                "aws configure set aws_secret_access_key [redacted]",
            ),
            (
                "helm install x --set-string db.pass=SECRET",
                "helm install x --set-string db.pass=[redacted]",
            ),
        ]);
    }

    #[test]
    fn json_secret_values_are_replaced_and_the_punctuation_kept() {
        assert_redacted(&[
            (
                "echo '{\"password\":\"SECRET\"}'",
                "echo '{\"password\":\"[redacted]\"}'",
            ),
            (
                "curl -d '{\"api_key\": \"SECRET\"}' x",
                "curl -d '{\"api_key\": \"[redacted]\"}' x",
            ),
            (
                "curl -d \"{\\\"token\\\":\\\"SECRET\\\",\\\"n\\\":1}\" x",
                "curl -d \"{\\\"token\\\":\\\"[redacted]\\\",\\\"n\\\":1}\" x",
            ),
            (
                "curl -d '{\"user\":\"bob\",\"password\":\"two words\",\"secret\":42}' x",
                "curl -d '{\"user\":\"bob\",\"password\":\"[redacted] [redacted]\",\"secret\":[redacted]}' x",
            ),
            (
                "curl -d '{\"headers\": {\"Authorization\": \"Bearer SECRET\"}}' x",
                "curl -d '{\"headers\": {\"Authorization\": \"Bearer [redacted]\"}}' x",
            ),
            (
                "echo '{\"auths\":{\"ghcr.io\":{\"auth\":\"SECRET\"}}}'",
                "echo '{\"auths\":{\"ghcr.io\":{\"auth\":\"[redacted]\"}}}'",
            ),
            (
                "python -c \"f({'password': 'SECRET'})\"",
                "python -c \"f({'password': '[redacted]'})\"",
            ),
        ]);
    }

    #[test]
    fn tokens_are_replaced_wherever_they_stand() {
        assert_redacted(&[
            (
                "git clone https://ghp_abc@github.com/o/r",
                "git clone https://[redacted]@github.com/o/r",
            ),
            ("echo sk-proj-abcdefghijklmnopqrstuvwx", "echo [redacted]"),
            (
                "curl -H 'X-Session: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl' https://x",
                "curl -H 'X-Session: [redacted]' https://x",
            ),
            (
                "curl -H 'X-Session:eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln' 'https://x/cb?s=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln&q=1'",
                "curl -H 'X-Session:[redacted]' 'https://x/cb?s=[redacted]&q=1'",
            ),
            (
                "SESSION=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln app -d '{\"s\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln\"}'",
                "SESSION=[redacted] app -d '{\"s\":\"[redacted]\"}'",
            ),
        ]);
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
            "mkdir -p dir",
            "git log --format=%H:%s",
            "ssh -p 2222 host",
            "docker run -p 8080:80 -e TZ=UTC nginx",
            "psql -h db -p 5432 app",
            "mysql -p db",
            "mysqldump -u root -p --all-databases",
            "mysql -e 'select 1' db; mkdir -pv out",
            "rsync -a host:/srv/ .",
            "git push origin main:main",
            "date +%H:%M",
            "curl -b cookies.txt -c cookies.txt https://x",
            "curl -H 'Accept: application/json' -d '{\"name\":\"x\",\"count\":1}' https://x",
            "echo '{\"keyboard\":\"qwerty\"}'",
            "echo x | docker login --password-stdin -u bob ghcr.io",
            "aws secretsmanager get-secret-value --secret-id prod/db",
            "llm --max-tokens 500 prompt",
            "ansible-playbook --ask-pass site.yml",
            "kubectl get secret s -o jsonpath='{.data.password}'",
            "pip install hf_transfer",
            "PWD=/tmp ./run",
            "tar -xzf a.tgz && make -j2",
            "gh auth login -p https --with-token < token.txt",
            "git config --global credential.helper store",
            "curl 'https://x/search?q=token&page=2'",
            "curl https://token.example.com/?q=1",
            "docker run -u 1000:1000 --user 0:0 img",
            "python train.py --tokenizer gpt2 TOKENIZERS_PARALLELISM=false",
            "openssl pkcs12 -passin env:P12_PASS -in a.p12",
            "echo eyJhbGciOiJIUzI1NiJ9.json",
        ] {
            assert!(matches!(redact(command), Cow::Borrowed(_)), "{command}");
        }
    }
}
