//! A mock GitHub API on a loopback port: `/user/repos` (paged with `Link`, `visibility`) and
//! `/repos/{owner}/{repo}/issues` (`state`, paged). The bearer token picks the behaviour:
//! `good` answers, `bad` gets 401, `limited` a 403 rate limit with a reset time, `throttled`
//! a 429 with `Retry-After`, `broken` a 500, `chatty` a 500 with a 100 000-character message.
//! A repository named `*no-issues*` answers 410 for its issues, `*failing-issues*` 502.
//! Every request is recorded.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub const LIMIT_RESET: u64 = 4_102_444_800; // 2100-01-01T00:00:00Z

#[derive(Default)]
struct State {
    repos: Vec<Value>,
    issues: HashMap<String, Vec<Value>>,
    /// `METHOD path?query` of every request, in arrival order.
    requests: Vec<String>,
    authorizations: Vec<String>,
    /// Issues requests wait until this many arrived together (proves they are parallel).
    issue_barrier: usize,
    issues_arrived: usize,
    barrier_missed: bool,
}

pub struct MockGithub {
    pub url: String,
    state: Arc<(Mutex<State>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl MockGithub {
    pub fn start(repos: Vec<Value>, issues: HashMap<String, Vec<Value>>) -> MockGithub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mock github");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new((
            Mutex::new(State {
                repos,
                issues,
                ..State::default()
            }),
            Condvar::new(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, base) = (state.clone(), stop.clone(), url.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, base) = (s.clone(), base.clone());
                std::thread::spawn(move || serve(conn, &s, &base));
            }
        });
        MockGithub { url, state, stop }
    }

    /// Issues requests are held until `n` of them are in flight together (or 5 s pass).
    pub fn hold_issues_until(&self, n: usize) {
        self.state.0.lock().unwrap().issue_barrier = n;
    }

    pub fn barrier_missed(&self) -> bool {
        self.state.0.lock().unwrap().barrier_missed
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.0.lock().unwrap().requests.clone()
    }

    pub fn authorizations(&self) -> Vec<String> {
        self.state.0.lock().unwrap().authorizations.clone()
    }
}

impl Drop for MockGithub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn serve(conn: TcpStream, state: &(Mutex<State>, Condvar), base: &str) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut auth = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            auth = v.trim().to_string();
        }
    }
    {
        let mut s = state.0.lock().unwrap();
        s.requests.push(format!("{method} {target}"));
        s.authorizations.push(auth.clone());
    }
    let (status, headers, body) = answer(&target, &auth, state, base);
    let body = body.to_string();
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let mut conn = conn;
    let _ = conn.write_all(out.as_bytes());
}

fn answer(
    target: &str,
    auth: &str,
    state: &(Mutex<State>, Condvar),
    base: &str,
) -> (u16, Vec<(String, String)>, Value) {
    match auth {
        "Bearer good" => {}
        "Bearer limited" => {
            return (
                403,
                vec![
                    ("X-RateLimit-Remaining".into(), "0".into()),
                    ("X-RateLimit-Reset".into(), LIMIT_RESET.to_string()),
                ],
                json!({"message": "API rate limit exceeded for user ID 1."}),
            );
        }
        "Bearer throttled" => {
            return (
                429,
                vec![("Retry-After".into(), "42".into())],
                json!({"message": "You have exceeded a secondary rate limit."}),
            );
        }
        // GitHub failing, and something before it answering JSON that is not GitHub's.
        "Bearer broken" => return (500, vec![], json!({"message": "Server Error"})),
        "Bearer chatty" => return (500, vec![], json!({"message": "x".repeat(100_000)})),
        "Bearer object" => return (200, vec![], json!({"message": "sign in first"})),
        _ => return (401, vec![], json!({"message": "Bad credentials"})),
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let num = |k: &str, d: usize| params.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (page, per_page) = (num("page", 1), num("per_page", 30));
    if path == "/user/repos" {
        let repos: Vec<Value> = {
            let s = state.0.lock().unwrap();
            s.repos
                .iter()
                .filter(|r| match params.get("visibility") {
                    Some(&"private") => r["private"] == true,
                    Some(&"public") => r["private"] == false,
                    _ => true,
                })
                .cloned()
                .collect()
        };
        let start = (page - 1) * per_page;
        let slice: Vec<Value> = repos.iter().skip(start).take(per_page).cloned().collect();
        let mut headers = Vec::new();
        if start + per_page < repos.len() {
            let mut next = format!("{base}/user/repos?per_page={per_page}&page={}", page + 1);
            if let Some(v) = params.get("visibility") {
                next.push_str(&format!("&visibility={v}"));
            }
            headers.push((
                "Link".into(),
                format!("<{next}>; rel=\"next\", <{base}/user/repos?page=99>; rel=\"last\""),
            ));
        }
        return (200, headers, Value::Array(slice));
    }
    if let Some(repo) = path
        .strip_prefix("/repos/")
        .and_then(|p| p.strip_suffix("/issues"))
    {
        if repo.contains("failing-issues") {
            return (502, vec![], json!({"message": "Bad Gateway"}));
        }
        if repo.contains("no-issues") {
            return (
                410,
                vec![],
                json!({"message": "Issues are disabled for this repo"}),
            );
        }
        let (lock, cv) = state;
        let mut s = lock.lock().unwrap();
        s.issues_arrived += 1;
        if s.issue_barrier > 0 {
            cv.notify_all();
            let need = s.issue_barrier;
            let (guard, timeout) = cv
                .wait_timeout_while(s, Duration::from_secs(5), |s| s.issues_arrived < need)
                .unwrap();
            s = guard;
            if timeout.timed_out() {
                s.barrier_missed = true;
            }
        }
        let state_wanted = params.get("state").copied().unwrap_or("open");
        let issues: Vec<Value> = s
            .issues
            .get(repo)
            .map(|all| {
                all.iter()
                    .filter(|i| i["state"] == state_wanted)
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        return (200, vec![], Value::Array(issues));
    }
    (404, vec![], json!({"message": "Not Found"}))
}

/// A repository as GitHub lists it (with fields the daemon must drop).
pub fn repo(id: u64, full_name: &str, stars: u64, forks: u64, description: &str) -> Value {
    let name = full_name.split('/').nth(1).unwrap_or(full_name);
    json!({
        "id": id, "node_id": "x", "name": name, "full_name": full_name, "private": id.is_multiple_of(2),
        "html_url": format!("https://github.com/{full_name}"), "description": description,
        "stargazers_count": stars, "watchers_count": stars, "forks_count": forks,
        "updated_at": "2025-01-01T00:00:00Z", "owner": {"login": "me"},
    })
}

pub fn issue(id: u64, number: u64, title: &str, comments: u64, pr: bool) -> Value {
    let mut i = json!({
        "id": id, "number": number, "title": title, "state": "open", "body": "",
        "html_url": format!("https://github.com/x/issues/{number}"), "comments": comments,
        "user": {"login": "someone"}, "labels": [{"name": "bug"}], "updated_at": "2025-01-02T00:00:00Z",
    });
    if pr {
        i["pull_request"] = json!({"url": "x"});
    }
    i
}
