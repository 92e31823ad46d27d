//! The GitHub group (SPEC §3.2): list and rank the token owner's repositories, and rank
//! them together with their issues and pull requests.

mod api;
mod rank;
mod select;
mod specs;

pub use specs::specs;

use super::{ErrorCode, ToolCall, ToolError, ToolGroup, ToolResult, ToolWork, arg_str};
use crate::actors::backend_pool::BackendPool;
use crate::backend::encode::percent_encode;
use crate::shared::Shared;
use actix::Addr;
use api::Github;
use futures_util::future::join_all;
use rank::{Candidate, Ranker};
use select::RepoQuery;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Repositories whose issues `ide_agents_github_rank_all` reads.
const ISSUE_REPOS: usize = 5;

#[derive(Clone)]
pub struct GithubTools {
    github: Github,
    pool: Addr<BackendPool>,
    ultra: bool,
}

impl GithubTools {
    pub fn new(shared: Arc<Shared>, pool: Addr<BackendPool>) -> Self {
        GithubTools {
            ultra: shared.config.ultra_enabled,
            github: Github::new(shared, pool.clone()),
            pool,
        }
    }

    fn ranker(&self) -> Ranker {
        if self.ultra {
            Ranker::Ultra
        } else {
            Ranker::Heuristic
        }
    }

    async fn run(self, name: &'static str, args: Map<String, Value>) -> ToolResult {
        match name {
            "ide_agents_github_repos" => self.repos(&args).await,
            "ide_agents_github_rank_repos" => self.rank_repos(&args).await,
            "ide_agents_github_rank_all" => self.rank_all(&args).await,
            other => Err(ToolError::new(
                ErrorCode::UnknownTool,
                format!("the github group has no tool {other}"),
            )),
        }
    }

    /// Fetched (paged), then filtered.
    async fn selected(&self, q: &RepoQuery) -> Result<Vec<Value>, ToolError> {
        let mut repos = self.github.repos(q).await?;
        repos.retain(|r| q.admits(r));
        Ok(repos)
    }

    async fn repos(&self, args: &Map<String, Value>) -> ToolResult {
        let q = RepoQuery::from_args(args);
        let repos = q.cut(self.selected(&q).await?);
        Ok(json!({ "repos": repos }))
    }

    async fn rank_repos(&self, args: &Map<String, Value>) -> ToolResult {
        let q = RepoQuery::from_args(args);
        let query = arg_str(args, "query").unwrap_or_default();
        let repos = self.selected(&q).await?;
        let candidates: Vec<Candidate> = repos.iter().map(|r| Candidate::repo(r, query)).collect();
        let ranker = self.ranker();
        let scores = rank::score(&self.pool, &ranker, query, &candidates).await?;
        let ranking: Vec<Value> = rank::order(&scores)
            .into_iter()
            .map(|i| json!({"repo": repos[i], "score": scores[i]}))
            .collect();
        Ok(json!({"ranking": q.cut(ranking), "ranker": ranker.as_str()}))
    }

    async fn rank_all(&self, args: &Map<String, Value>) -> ToolResult {
        let query = arg_str(args, "query").unwrap_or_default();
        // `page` is the page of issues here; repositories are read from the first page.
        let q = RepoQuery {
            page: 1,
            ..RepoQuery::from_args(args)
        };
        let repos = self.selected(&q).await?;
        let issue_query = issue_query(args);
        let fetches = repos.iter().take(ISSUE_REPOS).map(|r| {
            let full = r["full_name"].as_str().unwrap_or("").to_string();
            let github = self.github.clone();
            let issue_query = issue_query.clone();
            async move {
                let issues = github.issues(&full, &issue_query).await;
                (full, issues)
            }
        });
        // (kind, repo full name, the repo or issue summary)
        let mut items: Vec<(&str, String, Value)> = Vec::new();
        let mut candidates = Vec::new();
        for r in &repos {
            candidates.push(Candidate::repo(r, query));
            items.push((
                "repo",
                r["full_name"].as_str().unwrap_or("").into(),
                r.clone(),
            ));
        }
        let mut skipped = Vec::new();
        let fetched = join_all(fetches).await;
        let all_failed = !fetched.is_empty() && fetched.iter().all(|(_, r)| r.is_err());
        for (full, issues) in fetched {
            let issues = match issues {
                // One repository's issues missing (404, 410) or failing (5xx, a timeout):
                // rank the rest and say which. A token problem is every repository's.
                Err(e) if is_missing(&e) || (!all_failed && !about_the_token(&e)) => {
                    skipped.push(json!({"repo": full, "reason": e.message}));
                    continue;
                }
                other => other?,
            };
            for issue in issues {
                candidates.push(Candidate::issue(&full, &issue, query));
                let kind = if issue.get("pull_request").is_some() {
                    "pr"
                } else {
                    "issue"
                };
                items.push((kind, full.clone(), issue_summary(&issue)));
            }
        }
        let ranker = self.ranker();
        let scores = rank::score(&self.pool, &ranker, query, &candidates).await?;
        let norm = rank::normalise(&scores);
        let ranking: Vec<Value> = rank::order(&scores)
            .into_iter()
            .map(|i| {
                let (kind, repo, summary) = &items[i];
                let mut entry =
                    json!({"type": kind, "score": scores[i], "norm_score": norm[i], "repo": repo});
                if *kind != "repo" {
                    entry[*kind] = summary.clone();
                }
                entry
            })
            .collect();
        Ok(json!({"ranking": q.cut(ranking), "ranker": ranker.as_str(), "skipped": skipped}))
    }
}

/// Failures every repository would have: the token is refused or its rate limit used up.
fn about_the_token(e: &ToolError) -> bool {
    matches!(e.code, ErrorCode::Unauthorized | ErrorCode::RateLimited)
}

fn is_missing(e: &ToolError) -> bool {
    e.code == ErrorCode::NotFound || e.details.get("github_status") == Some(&json!(410))
}

/// The query string of the issues listing: state, page size, page, since.
fn issue_query(args: &Map<String, Value>) -> String {
    let state = arg_str(args, "state").unwrap_or("open");
    let per_page = args
        .get("items_per_repo")
        .and_then(Value::as_u64)
        .unwrap_or(30);
    let page = args.get("page").and_then(Value::as_u64).unwrap_or(1);
    let mut q = format!("state={state}&per_page={per_page}&page={page}");
    if let Some(since) = arg_str(args, "since") {
        q.push_str(&format!("&since={}", percent_encode(since)));
    }
    q
}

fn issue_summary(i: &Value) -> Value {
    let labels: Vec<&Value> = i["labels"]
        .as_array()
        .map(|l| l.iter().map(|l| &l["name"]).collect())
        .unwrap_or_default();
    json!({
        "id": i["id"],
        "number": i["number"],
        "title": i["title"],
        "state": i["state"],
        "html_url": i["html_url"],
        "comments": i["comments"],
        "user": i["user"]["login"],
        "labels": labels,
        "updated_at": i["updated_at"],
    })
}

impl ToolGroup for GithubTools {
    fn call(&mut self, call: ToolCall) -> ToolWork {
        let tools = GithubTools {
            github: self.github.for_call(call.ctx.notes.clone()),
            ..self.clone()
        };
        super::boxed(tools.run(call.tool.name, call.args))
    }
}
