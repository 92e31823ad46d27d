//! The GitHub tools against a mock GitHub on loopback (`tests/common/github.rs`): paging,
//! filters, ranking (heuristic and ULTRA) with zero scores kept, issues and pull requests
//! read in parallel, token and rate-limit errors, and the cache.

mod common;

use common::github::{MockGithub, issue, repo};
use common::{Backend, Client, DaemonBuilder, daemon, daemon_for};
use serde_json::{Value, json};
use std::collections::HashMap;

fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "expected success: {result}");
    &result["structuredContent"]
}

fn error(result: &Value) -> &Value {
    assert_eq!(result["isError"], true, "expected a tool error: {result}");
    &result["structuredContent"]["error"]
}

/// Five repositories in GitHub's order (ids 1..5; even ids private).
fn five_repos() -> Vec<Value> {
    vec![
        repo(1, "me/alpha", 10, 0, "a parser for json"),
        repo(2, "me/beta", 0, 0, "nothing to see"),
        repo(3, "me/old-json", 3, 10, "legacy"),
        repo(4, "me/gamma", 50, 2, "web server"),
        repo(5, "me/delta", 1, 1, "json tools"),
    ]
}

fn with_github(builder: DaemonBuilder, gh: &MockGithub, token: &str) -> DaemonBuilder {
    builder
        .env("IDE_AGENTS_GITHUB_API_URL", gh.url.clone())
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_PERSONAL_ACCESS_TOKEN", "")
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| {
            let v = if key.is_empty() { r } else { &r[key] };
            v["full_name"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn repos_are_paged_summarised_filtered_and_cached() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let d = with_github(daemon(), &gh, "good").start();
    let mut c = d.client();
    let r = c.call_tool(
        "ide_agents_github_repos",
        json!({"limit": 4, "per_page": 2}),
    );
    let repos = &ok(&r)["repos"];
    assert_eq!(
        names(repos, ""),
        ["me/alpha", "me/beta", "me/old-json", "me/gamma"]
    );
    assert_eq!(
        repos[0],
        json!({"id": 1, "name": "alpha", "full_name": "me/alpha", "private": false,
               "html_url": "https://github.com/me/alpha", "description": "a parser for json",
               "stargazers_count": 10, "watchers_count": 10, "forks_count": 0,
               "updated_at": "2025-01-01T00:00:00Z"})
    );
    assert_eq!(
        gh.requests(),
        [
            "GET /user/repos?per_page=2&page=1",
            "GET /user/repos?per_page=2&page=2"
        ]
    );
    assert!(gh.authorizations().iter().all(|a| a == "Bearer good"));

    // The same call again, and a differently filtered one over the same pages: no requests.
    let again = c.call_tool(
        "ide_agents_github_repos",
        json!({"limit": 4, "per_page": 2}),
    );
    assert_eq!(ok(&again), ok(&r));
    let filtered = c.call_tool(
        "ide_agents_github_repos",
        json!({"limit": 4, "per_page": 2, "include": ["JSON", "a"], "exclude": ["old"], "top": 2}),
    );
    assert_eq!(names(&ok(&filtered)["repos"], ""), ["me/alpha", "me/beta"]);
    assert_eq!(
        gh.requests().len(),
        2,
        "served from the cache: {:?}",
        gh.requests()
    );

    // Starting page and visibility are passed on.
    let private = c.call_tool(
        "ide_agents_github_repos",
        json!({"visibility": "private", "page": 2, "per_page": 1, "limit": 1}),
    );
    assert_eq!(names(&ok(&private)["repos"], ""), ["me/gamma"]);
    assert_eq!(
        gh.requests()[2],
        "GET /user/repos?per_page=1&page=2&visibility=private"
    );
    let bad = c.call_tool("ide_agents_github_repos", json!({"limit": 101}));
    assert_eq!(error(&bad)["code"], "invalid_arguments");
}

#[test]
fn heuristic_ranking_orders_all_then_cuts_to_top_and_keeps_zero_scores() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let d = with_github(daemon(), &gh, "good").start();
    let mut c = d.client();
    let r = c.call_tool(
        "ide_agents_github_rank_repos",
        json!({"query": "json", "per_page": 2}),
    );
    let r = ok(&r);
    assert_eq!(r["ranker"], "heuristic");
    let ranking = r["ranking"].as_array().unwrap();
    let got: Vec<(String, f64)> = ranking
        .iter()
        .map(|e| {
            (
                e["repo"]["full_name"].as_str().unwrap().into(),
                e["score"].as_f64().unwrap(),
            )
        })
        .collect();
    // stars + 0.3·forks + 5 when the name or description mentions the query.
    let want = [
        ("me/gamma", 50.6),
        ("me/alpha", 15.0),
        ("me/old-json", 11.0),
        ("me/delta", 6.3),
        ("me/beta", 0.0),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((name, score), (want_name, want_score)) in got.iter().zip(want) {
        assert_eq!(name, want_name);
        assert!((score - want_score).abs() < 1e-9, "{name}: {score}");
    }
    // Ranked first, then cut: the top two include a repository from the last page.
    let top = c.call_tool(
        "ide_agents_github_rank_repos",
        json!({"query": "json", "per_page": 2, "top": 2, "exclude": ["alpha"]}),
    );
    assert_eq!(
        names(&ok(&top)["ranking"], "repo"),
        ["me/gamma", "me/old-json"]
    );
}

#[test]
fn ultra_ranking_goes_through_the_backend_and_keeps_zero_scores() {
    let backend = Backend::start();
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let d = with_github(daemon_for(&backend), &gh, "good")
        .env("IDE_AGENTS_ULTRA_ENABLED", "true")
        .start();
    let r = d.client().call_tool(
        "ide_agents_github_rank_repos",
        json!({"query": "json parser"}),
    );
    let r = ok(&r);
    assert_eq!(r["ranker"], "ultra");
    assert_eq!(backend.hits("POST /ai/intelligence/rank"), 1);
    let ranking = r["ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 5, "nothing dropped: {r}");
    assert_eq!(ranking[0]["repo"]["full_name"], "me/alpha");
    assert_eq!(ranking[0]["score"], 1.0);
    // Word overlap: "me/old-json: legacy" and "me/delta: json tools" share one of two words.
    assert_eq!(
        names(&r["ranking"], "repo")[1..3],
        ["me/old-json", "me/delta"]
    );
    assert_eq!(ranking[4]["score"], 0.0);
}

#[test]
fn rank_all_reads_five_repos_issues_in_parallel_and_ranks_everything_together() {
    let mut repos = five_repos();
    repos.push(repo(6, "me/sixth", 0, 0, "not read for issues"));
    let mut issues = HashMap::new();
    issues.insert(
        "me/alpha".to_string(),
        vec![
            issue(100, 1, "json crash on empty input", 20, false),
            issue(101, 2, "Fix json crash", 2, true),
        ],
    );
    issues.insert("me/beta".to_string(), vec![issue(102, 7, "typo", 0, false)]);
    issues.insert(
        "me/sixth".to_string(),
        vec![issue(103, 1, "never read", 99, false)],
    );
    let gh = MockGithub::start(repos, issues);
    gh.hold_issues_until(5);
    let d = with_github(daemon(), &gh, "good").start();
    let r = d.client().call_tool(
        "ide_agents_github_rank_all",
        json!({"query": "json", "items_per_repo": 10, "since": "2025-01-01T00:00:00Z"}),
    );
    assert!(
        !gh.barrier_missed(),
        "the five issues requests were not in flight together"
    );
    let ranking = ok(&r)["ranking"].as_array().unwrap().clone();
    assert_eq!(ranking.len(), 6 + 3, "{ranking:?}");
    let issue_reqs: Vec<String> = gh
        .requests()
        .into_iter()
        .filter(|r| r.contains("/issues"))
        .collect();
    assert_eq!(issue_reqs.len(), 5, "{issue_reqs:?}");
    assert!(issue_reqs.contains(
        &"GET /repos/me/alpha/issues?state=open&per_page=10&page=1&since=2025-01-01T00%3A00%3A00Z".to_string()
    ));
    // Repositories dominate by stars; the issue with 20 comments and a match follows.
    assert_eq!(
        (ranking[0]["type"].as_str(), ranking[0]["repo"].as_str()),
        (Some("repo"), Some("me/gamma"))
    );
    assert_eq!(ranking[0]["norm_score"], 10.0);
    let crash = ranking
        .iter()
        .find(|e| e["type"] == "issue" && e["issue"]["number"] == 1)
        .unwrap();
    assert_eq!(
        (crash["repo"].as_str(), crash["score"].as_f64()),
        (Some("me/alpha"), Some(25.0))
    );
    assert_eq!(crash["issue"]["labels"], json!(["bug"]));
    let pr = ranking.iter().find(|e| e["type"] == "pr").unwrap();
    assert_eq!(
        (pr["pr"]["number"].as_u64(), pr["score"].as_f64()),
        (Some(2), Some(7.0))
    );
    let last = ranking.last().unwrap();
    assert_eq!(
        (last["score"].as_f64(), last["norm_score"].as_f64()),
        (Some(0.0), Some(0.0))
    );
    let scores: Vec<f64> = ranking
        .iter()
        .map(|e| e["score"].as_f64().unwrap())
        .collect();
    let sorted = {
        let mut s = scores.clone();
        s.sort_by(|a, b| b.total_cmp(a));
        s
    };
    assert_eq!(scores, sorted);
}

#[test]
fn token_and_rate_limit_problems_are_clear_tool_errors() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let call = |token: &str| {
        let d = with_github(daemon(), &gh, token).start();
        let mut c: Client = d.client();
        c.call_tool("ide_agents_github_repos", json!({}))
    };
    let bad = call("bad");
    let e = error(&bad);
    assert_eq!(
        (e["code"].as_str(), e["github_status"].as_u64()),
        (Some("unauthorized"), Some(401))
    );
    assert!(
        e["message"].as_str().unwrap().contains("GITHUB_TOKEN"),
        "{e}"
    );

    let limited = call("limited");
    let e = error(&limited);
    assert_eq!(e["code"], "rate_limited");
    assert_eq!(e["reset_at"], "2100-01-01T00:00:00.000Z", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("2100-01-01T00:00:00.000Z"),
        "{e}"
    );

    let before = gh.requests().len();
    let throttled = call("throttled");
    let e = error(&throttled);
    assert_eq!(
        (e["code"].as_str(), e["retry_after_s"].as_u64()),
        (Some("rate_limited"), Some(42))
    );
    assert_eq!(
        e["retry_after_ms"], 42_000,
        "as the daemon's own limit: {e}"
    );
    assert_eq!(
        gh.requests().len(),
        before + 1,
        "a rate limit is not retried"
    );

    // Errors are not cached: the next call asks again.
    let again = call("bad");
    assert_eq!(error(&again)["code"], "unauthorized");

    let before = gh.requests().len();
    let none = call("");
    let e = error(&none);
    assert_eq!(e["code"], "unauthorized");
    assert!(
        e["message"].as_str().unwrap().contains("GITHUB_TOKEN"),
        "{e}"
    );
    assert_eq!(
        gh.requests().len(),
        before,
        "nothing is sent without a token"
    );

    // A token no header can carry is named as such, every time: nothing is sent, so there
    // is no failure for the breaker to count (its threshold is 5).
    let d = with_github(daemon(), &gh, "go od").start();
    let mut c: Client = d.client();
    for _ in 0..6 {
        let r = c.call_tool("ide_agents_github_repos", json!({}));
        let e = error(&r);
        assert_eq!(e["code"], "unauthorized", "{e}");
        assert!(e["message"].as_str().unwrap().contains("characters"), "{e}");
    }
    assert_eq!(gh.requests().len(), before);

    // The line end a CRLF .env file leaves is not part of the token.
    let listed = call("good\r\n");
    assert_eq!(listed["isError"], false, "{listed}");
    assert_eq!(gh.authorizations().last().unwrap(), "Bearer good");
}

#[test]
fn an_answer_that_is_not_a_list_is_an_error_not_an_empty_listing() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let d = with_github(daemon(), &gh, "object").start();
    let mut c: Client = d.client();
    for _ in 0..2 {
        let r = c.call_tool("ide_agents_github_repos", json!({}));
        let e = error(&r);
        assert_eq!(e["code"], "backend_error", "{e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("/user/repos with an object"), "{e}");
    }
    assert_eq!(gh.requests().len(), 2, "an error is not cached");
}

#[test]
fn the_github_breaker_shows_in_status_and_metrics() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let d = with_github(daemon(), &gh, "broken")
        .env("IDE_AGENTS_RETRY_ATTEMPTS", "1")
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "2")
        .start();
    let mut c: Client = d.client();
    for _ in 0..2 {
        let r = c.call_tool("ide_agents_github_repos", json!({}));
        let e = error(&r);
        assert_eq!(e["code"], "backend_error", "{e}");
    }
    let r = c.call_tool("ide_agents_github_repos", json!({}));
    let e = error(&r);
    assert_eq!(e["code"], "circuit_open", "{e}");
    let metrics = c.call_tool("ide_agents_metrics_snapshot", json!({}));
    let breaker = &metrics["structuredContent"]["breaker"];
    assert_eq!(breaker["github"]["state"], "open", "{breaker}");
    assert_eq!(
        breaker["state"], "closed",
        "the backend's own breaker: {breaker}"
    );
    let (_, status) = d.status_json();
    assert_eq!(status["breaker"]["github"]["state"], "open", "{status}");
}

/// A repository without issues (410) or whose issues fail (502) is skipped and named; the
/// rest are ranked.
#[test]
fn rank_all_skips_a_repository_whose_issues_it_cannot_read_and_says_so() {
    for (name, status) in [("me/no-issues", "410"), ("me/failing-issues", "502")] {
        let repos = vec![repo(1, name, 5, 0, "x"), repo(3, "me/other", 1, 0, "y")];
        let mut issues = HashMap::new();
        issues.insert("me/other".to_string(), vec![issue(9, 4, "y bug", 1, false)]);
        let gh = MockGithub::start(repos, issues);
        let d = with_github(daemon(), &gh, "good")
            .env("IDE_AGENTS_RETRY_ATTEMPTS", "1")
            .start();
        let r = d
            .client()
            .call_tool("ide_agents_github_rank_all", json!({"query": "y"}));
        let r = ok(&r);
        assert_eq!(r["ranking"].as_array().unwrap().len(), 3, "{r}");
        assert_eq!(r["skipped"][0]["repo"], name, "{r}");
        let reason = r["skipped"][0]["reason"].as_str().unwrap();
        assert!(reason.contains(status), "{r}");
    }
}

/// GitHub's own limit is a failure of the call, audited as one; only the daemon's limit
/// has an audit event of its own.
#[test]
fn a_github_rate_limit_is_audited_as_a_tool_failure() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let d = with_github(daemon(), &gh, "throttled")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "0.05")
        .start();
    let r = d.client().call_tool("ide_agents_github_repos", json!({}));
    assert_eq!(error(&r)["code"], "rate_limited", "{r}");
    let audit = d.dir.path().join("logs/security_audit.jsonl");
    common::wait_until("the audit event", || {
        common::json_lines(&audit)
            .iter()
            .any(|l| l["type"] == "tool_failure" && l["error_code"] == "rate_limited")
    });
}

/// An upstream message is quoted, not copied whole: it can be any length.
#[test]
fn a_long_github_message_is_cut_in_the_error() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let d = with_github(daemon(), &gh, "chatty")
        .env("IDE_AGENTS_RETRY_ATTEMPTS", "1")
        .start();
    let r = d.client().call_tool("ide_agents_github_repos", json!({}));
    let message = error(&r)["message"].as_str().unwrap().to_string();
    assert!(message.contains("500"), "{message}");
    assert!(message.ends_with('…'), "{message}");
    assert!(
        message.chars().count() < 600,
        "{} characters",
        message.len()
    );
}

/// Arguments that would make a URL no server takes are refused before anything is sent,
/// as invalid arguments: they say nothing about GitHub, so they never open its breaker.
#[test]
fn an_argument_too_long_for_a_url_is_refused_without_touching_the_breaker() {
    let repos = vec![repo(3, "me/other", 1, 0, "y")];
    let gh = MockGithub::start(repos, HashMap::new());
    let d = with_github(daemon(), &gh, "good")
        .env("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "2")
        .start();
    let mut c: Client = d.client();
    let since = "2025-01-01T00:00:00Z".repeat(2000);
    for _ in 0..3 {
        let r = c.call_tool(
            "ide_agents_github_rank_all",
            json!({"query": "y", "since": since}),
        );
        let e = error(&r);
        assert_eq!(e["code"], "invalid_arguments", "{e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("over the 16384-byte limit"), "{message}");
        assert!(message.len() < 1000, "{} bytes", message.len());
    }
    let sent = gh.requests();
    assert!(!sent.iter().any(|r| r.contains("since")), "{sent:?}");
    let r = c.call_tool("ide_agents_github_rank_all", json!({"query": "y"}));
    ok(&r);
}

/// A GitHub call's span says whether the cache answered it and, when GitHub did, its status.
#[test]
fn github_spans_name_the_cache_and_githubs_status() {
    let gh = MockGithub::start(five_repos(), HashMap::new());
    let mut d = with_github(daemon(), &gh, "good")
        .env("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "3600")
        .start();
    let mut c: Client = d.client();
    for _ in 0..2 {
        let r = c.call_tool("ide_agents_github_repos", json!({}));
        ok(&r);
    }
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(0));
    let spans = common::json_lines(&d.dir.path().join("logs/mcp_tool_spans.jsonl"));
    let extra: Vec<(&Value, &Value)> = spans
        .iter()
        .map(|s| (&s["extra"]["cache"], &s["extra"]["backend_status"]))
        .collect();
    assert_eq!(
        extra,
        [(&json!("miss"), &json!(200)), (&json!("hit"), &Value::Null)],
        "{spans:?}"
    );
}
