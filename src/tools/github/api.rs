//! Reading GitHub through the worker's pool (`Target::Github`, `IDE_AGENTS_GITHUB_API_URL`):
//! authorized, cached per token (60 s), paged by `Link: rel="next"`, and GitHub's 401, 403
//! and 429 turned into tool errors that say what to do.

use super::select::RepoQuery;
use crate::actors::backend_pool::{self, BackendPool};
use crate::backend::encode::{path_segment, percent_encode};
use crate::backend::{BackendCall, BackendError, Headers, Target, cut_detail, unexpected_shape};
use crate::cache::Kind;
use crate::clock;
use crate::shared::Shared;
use crate::tools::{CallNotes, ErrorCode, ToolError};
use actix::Addr;
use serde_json::{Value, json};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Pages followed at most for one listing, whatever the arguments.
const MAX_PAGES: usize = 100;

#[derive(Clone)]
pub struct Github {
    shared: Arc<Shared>,
    pool: Addr<BackendPool>,
    /// `Bearer <token>` and the token's identity for cache keys, or why there is none.
    auth: Result<(String, String), &'static str>,
    /// The call being served: what its span says about the cache and GitHub's status.
    notes: Arc<CallNotes>,
}

const NO_TOKEN: &str = "No GitHub token: set GITHUB_TOKEN (or GITHUB_PERSONAL_ACCESS_TOKEN) in the \
                        daemon's environment and restart it.";

const UNUSABLE_TOKEN: &str = "The GitHub token holds characters an HTTP header cannot carry \
                              (spaces, control characters or non-ASCII): check GITHUB_TOKEN (or \
                              GITHUB_PERSONAL_ACCESS_TOKEN) and restart the daemon.";

impl Github {
    pub fn new(shared: Arc<Shared>, pool: Addr<BackendPool>) -> Github {
        let auth = match shared.config.github_token.as_deref() {
            None => Err(NO_TOKEN),
            // Refused here, not by the HTTP client: its error would read as a network
            // failure and count against the breaker, though nothing was sent.
            Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => Err(UNUSABLE_TOKEN),
            Some(t) => Ok((format!("Bearer {t}"), token_identity(t))),
        };
        Github {
            shared,
            pool,
            auth,
            notes: Arc::default(),
        }
    }

    /// This client for one call, noting into its `notes`.
    pub fn for_call(&self, notes: Arc<CallNotes>) -> Github {
        Github {
            notes,
            ..self.clone()
        }
    }

    /// The token owner's repositories (summaries), following pages until `limit`.
    pub async fn repos(&self, q: &RepoQuery) -> Result<Vec<Value>, ToolError> {
        let mut path = format!("/user/repos?per_page={}&page={}", q.per_page, q.page);
        if let Some(v) = &q.visibility {
            path.push_str(&format!("&visibility={}", percent_encode(v)));
        }
        let mut repos = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.get(&path).await?;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            let empty = items.is_empty();
            repos.extend(items.iter().map(repo_summary));
            match page["next"].as_str() {
                Some(next) if repos.len() < q.limit && !empty => path = next.to_string(),
                _ => break,
            }
        }
        repos.truncate(q.limit);
        Ok(repos)
    }

    /// One page of a repository's issues and pull requests.
    pub async fn issues(&self, full_name: &str, query: &str) -> Result<Vec<Value>, ToolError> {
        let (owner, name) = full_name.split_once('/').unwrap_or((full_name, ""));
        let path = format!(
            "/repos/{}/{}/issues?{query}",
            path_segment(owner),
            path_segment(name)
        );
        let page = self.get(&path).await?;
        Ok(page["items"].as_array().cloned().unwrap_or_default())
    }

    /// `{items, next}` for one GitHub path, from the cache or GitHub. `next` is the path of
    /// the next page, kept only when it is on the configured GitHub host.
    async fn get(&self, path: &str) -> Result<Arc<Value>, ToolError> {
        let (auth, identity) = self
            .auth
            .as_ref()
            .map_err(|why| ToolError::new(ErrorCode::Unauthorized, *why))?;
        let base = self.shared.config.github_api_url.clone();
        let call = BackendCall::get(Target::Github, path)
            .header("authorization", auth.clone())
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(
                "user-agent",
                concat!("ide-agentsd/", env!("CARGO_PKG_VERSION")),
            );
        let pool = self.pool.clone();
        let notes = self.notes.clone();
        let load = async move {
            let reply = backend_pool::call(&pool, call)
                .await
                .map_err(|e| github_error(&e))?;
            notes.backend_status(reply.status);
            // Both listings GitHub is asked for are arrays; anything else (a proxy's or
            // an SSO page's JSON) would read as "no repositories" for a whole TTL.
            if !reply.body.is_array() {
                let listing = path.split_once('?').map_or(path, |(p, _)| p);
                return Err(unexpected_shape(
                    "GitHub",
                    listing,
                    reply.status,
                    &reply.body,
                    "a list",
                ));
            }
            let next = reply
                .headers
                .get("link")
                .and_then(next_link)
                .and_then(|url| url.strip_prefix(&base).map(String::from));
            Ok::<_, ToolError>(json!({"items": reply.body, "next": next}))
        };
        let key = format!("{identity} {path}");
        let cached = self.shared.cache.fetch(&key, Kind::Github, load).await?;
        self.notes.cache_part(cached.hit);
        Ok(cached.value)
    }
}

/// Keys carry a hash of the token, never the token: answers for one token are not served
/// to another.
fn token_identity(token: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut h);
    format!("token:{:016x}", h.finish())
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>'))
    })
}

fn repo_summary(r: &Value) -> Value {
    json!({
        "id": r["id"],
        "name": r["name"],
        "full_name": r["full_name"],
        "private": r["private"],
        "html_url": r["html_url"],
        "description": r["description"],
        "stargazers_count": r["stargazers_count"],
        "watchers_count": r["watchers_count"],
        "forks_count": r["forks_count"],
        "updated_at": r["updated_at"],
    })
}

/// GitHub's failures in GitHub's terms: which token problem, or when the limit resets.
pub fn github_error(e: &BackendError) -> ToolError {
    match e {
        BackendError::Status {
            url,
            status,
            body,
            headers,
        } => {
            let said = &cut_detail(body["message"].as_str().unwrap_or(""));
            // GitHub's own words after the status, when it gave any.
            let status_said = match said.is_empty() {
                true => status.to_string(),
                false => format!("{status} {said}"),
            };
            let rate_limited = *status == 429
                || (*status == 403
                    && (headers.get("x-ratelimit-remaining") == Some("0")
                        || said.to_lowercase().contains("rate limit")));
            let t = if rate_limited {
                rate_limit_error(headers)
            } else {
                match status {
                    401 => ToolError::new(
                        ErrorCode::Unauthorized,
                        format!(
                            "GitHub refused the token ({status_said}): check GITHUB_TOKEN (or \
                             GITHUB_PERSONAL_ACCESS_TOKEN) — it may be mistyped, expired or revoked."
                        ),
                    ),
                    403 => ToolError::new(
                        ErrorCode::Unauthorized,
                        format!(
                            "GitHub forbids this with the current token ({status_said}): it may lack \
                             the repo scope or access to the organisation."
                        ),
                    ),
                    404 => ToolError::new(
                        ErrorCode::NotFound,
                        format!("GitHub has no {url}, or the token cannot see it."),
                    ),
                    _ if said.is_empty() => ToolError::new(
                        ErrorCode::BackendError,
                        format!("GitHub answered {status} for {url}."),
                    ),
                    _ => ToolError::new(
                        ErrorCode::BackendError,
                        format!("GitHub answered {status} for {url}: {said}"),
                    ),
                }
            };
            t.with("url", url.as_str()).with("github_status", *status)
        }
        BackendError::Unavailable { url, reason } => ToolError::new(
            ErrorCode::BackendUnavailable,
            format!(
                "The GitHub API at {url} is not reachable ({reason}); check the network or \
                 IDE_AGENTS_GITHUB_API_URL."
            ),
        )
        .with("url", url.as_str()),
        other => {
            // Timeouts, an open breaker, garbage: same codes, with GitHub named.
            let mut t = other.to_tool_error();
            t.message = t.message.replace("The agents backend", "GitHub");
            t
        }
    }
}

fn rate_limit_error(headers: &Headers) -> ToolError {
    let now_s = clock::epoch_millis() / 1000;
    let reset = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let wait = headers
        .get("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| reset.map(|r| r.saturating_sub(now_s)));
    let reset_at = reset
        .or_else(|| wait.map(|w| now_s + w))
        .map(|r| clock::rfc3339_utc(r * 1000));
    let when = match (&reset_at, wait) {
        (Some(at), Some(w)) => format!("; it resets at {at} (in {w} s)"),
        (Some(at), None) => format!("; it resets at {at}"),
        _ => String::new(),
    };
    let mut t = ToolError::new(
        ErrorCode::RateLimited,
        format!("GitHub's rate limit for this token is used up{when}."),
    );
    if let Some(at) = reset_at {
        t = t.with("reset_at", at);
    }
    if let Some(w) = wait {
        // Both units: `retry_after_ms` as the daemon's own limit gives it.
        t = t
            .with("retry_after_s", w)
            .with("retry_after_ms", w.saturating_mul(1000));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let link = r#"<https://api.github.com/user/repos?page=3>; rel="next", <https://api.github.com/user/repos?page=9>; rel="last""#;
        assert_eq!(
            next_link(link),
            Some("https://api.github.com/user/repos?page=3")
        );
        assert_eq!(next_link(r#"<https://x/y?page=1>; rel="prev""#), None);
    }

    #[test]
    fn a_failure_without_a_message_ends_its_sentence() {
        let failed = |body| {
            github_error(&BackendError::Status {
                url: "http://gh/user/repos".into(),
                status: 502,
                body,
                headers: Headers(Vec::new()),
            })
            .message
        };
        assert_eq!(
            failed(Value::Null),
            "GitHub answered 502 for http://gh/user/repos."
        );
        assert_eq!(
            failed(json!({"message": "Bad Gateway"})),
            "GitHub answered 502 for http://gh/user/repos: Bad Gateway"
        );
    }

    #[test]
    fn token_identity_differs_per_token_and_hides_it() {
        let a = token_identity("ghp_secret_a");
        assert_ne!(a, token_identity("ghp_secret_b"));
        assert_eq!(a, token_identity("ghp_secret_a"));
        assert!(!a.contains("secret"));
    }

    #[test]
    fn rate_limits_name_the_reset_time() {
        let status = |status, headers: Vec<(&'static str, &str)>| BackendError::Status {
            url: "http://gh/user/repos".into(),
            status,
            body: json!({"message": "API rate limit exceeded"}),
            headers: Headers(
                headers
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect(),
            ),
        };
        let t = github_error(&status(
            403,
            vec![
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "4102444800"),
            ],
        ));
        assert_eq!(t.code, ErrorCode::RateLimited);
        assert!(t.message.contains("2100-01-01T00:00:00"), "{}", t.message);
        let t = github_error(&status(429, vec![("retry-after", "30")]));
        assert_eq!(
            (t.code, &t.details["retry_after_s"]),
            (ErrorCode::RateLimited, &json!(30))
        );
        let t = github_error(&BackendError::Status {
            url: "u".into(),
            status: 401,
            body: json!({"message": "Bad credentials"}),
            headers: Headers::default(),
        });
        assert_eq!(t.code, ErrorCode::Unauthorized);
        assert!(t.message.contains("GITHUB_TOKEN"));
        assert!(t.message.contains("(401 Bad credentials)"), "{}", t.message);
        // Without GitHub's words, the status stands alone.
        for code in [401, 403] {
            let t = github_error(&BackendError::Status {
                url: "u".into(),
                status: code,
                body: json!({}),
                headers: Headers::default(),
            });
            assert!(t.message.contains(&format!("({code})")), "{}", t.message);
        }
    }
}
