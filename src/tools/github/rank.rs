//! Ranking GitHub items against a query: the ULTRA ranker on the backend when enabled, else
//! a heuristic. Every item has an id (`owner/repo`, `owner/repo#12`) that its candidate text
//! starts with; the ranker's answer is matched back by position or by that exact text, never
//! by fuzzy text. A score of 0 is a score: nothing is dropped for it.

use crate::actors::backend_pool::{self, BackendPool};
use crate::backend::{BackendCall, Target};
use crate::tools::ToolError;
use crate::tools::ultra::{item_index, item_score, item_text, ranking_items, unreadable_item};
use actix::Addr;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Something to rank: its text for the ranker and its heuristic score.
pub struct Candidate {
    pub text: String,
    pub heuristic: f64,
}

impl Candidate {
    /// `stars + 0.3·forks + 5·[query in name or description]`.
    pub fn repo(repo: &Value, query: &str) -> Candidate {
        let name = repo["full_name"].as_str().unwrap_or("");
        let description = repo["description"].as_str().unwrap_or("");
        let stars = repo["stargazers_count"].as_f64().unwrap_or(0.0);
        let forks = repo["forks_count"].as_f64().unwrap_or(0.0);
        let matched =
            mentions(repo["name"].as_str().unwrap_or(""), query) || mentions(description, query);
        Candidate {
            text: format!("{name}: {description}"),
            heuristic: stars + 0.3 * forks + if matched { 5.0 } else { 0.0 },
        }
    }

    /// `comments + reactions + 5·[query in title or body]`.
    pub fn issue(repo: &str, issue: &Value, query: &str) -> Candidate {
        let title = issue["title"].as_str().unwrap_or("");
        let body = issue["body"].as_str().unwrap_or("");
        let comments = issue["comments"].as_f64().unwrap_or(0.0);
        let reactions = issue["reactions"]["total_count"].as_f64().unwrap_or(0.0);
        let matched = mentions(title, query) || mentions(body, query);
        Candidate {
            text: format!("{repo}#{}: {title}", issue["number"]),
            heuristic: comments + reactions + if matched { 5.0 } else { 0.0 },
        }
    }
}

fn mentions(text: &str, query: &str) -> bool {
    text.to_lowercase().contains(&query.to_lowercase())
}

/// Which ranker scored a ranking.
pub enum Ranker {
    Ultra,
    Heuristic,
}

impl Ranker {
    pub fn as_str(&self) -> &'static str {
        match self {
            Ranker::Ultra => "ultra",
            Ranker::Heuristic => "heuristic",
        }
    }
}

/// One score per candidate, in the candidates' order.
pub async fn score(
    pool: &Addr<BackendPool>,
    ranker: &Ranker,
    query: &str,
    candidates: &[Candidate],
) -> Result<Vec<f64>, ToolError> {
    if matches!(ranker, Ranker::Heuristic) || candidates.is_empty() {
        return Ok(candidates.iter().map(|c| c.heuristic).collect());
    }
    let texts: Vec<&str> = candidates.iter().map(|c| c.text.as_str()).collect();
    let call = BackendCall::post_idempotent(
        Target::Ultra,
        "/ai/intelligence/rank",
        json!({"query": query, "candidates": texts}),
    );
    let reply = backend_pool::call(pool, call)
        .await
        .map_err(|e| e.to_tool_error())?;
    scores_by_id(&reply.body, &texts)
}

/// The ranker's scores placed by candidate; one it did not score gets 0.
fn scores_by_id(body: &Value, texts: &[&str]) -> Result<Vec<f64>, ToolError> {
    let position: HashMap<&str, usize> = texts.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut scores = vec![0.0; texts.len()];
    for item in ranking_items(body)? {
        let at = item_index(item)
            .filter(|i| *i < texts.len())
            .or_else(|| position.get(item_text(item)?).copied());
        match (at, item_score(item)) {
            (Some(i), Some(s)) => scores[i] = s,
            _ => return Err(unreadable_item(item)),
        }
    }
    Ok(scores)
}

/// Candidate positions, best first; equal scores keep their order.
pub fn order(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    idx
}

/// Scores mapped onto 0–10: the lowest 0, the highest 10 (all equal: 10, or 0 if all 0).
pub fn normalise(scores: &[f64]) -> Vec<f64> {
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    scores
        .iter()
        .map(|s| {
            let n = if max > min {
                10.0 * (s - min) / (max - min)
            } else if *s > 0.0 {
                10.0
            } else {
                0.0
            };
            (n * 1000.0).round() / 1000.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repo_heuristic_counts_stars_forks_and_a_match() {
        let repo = json!({"name": "fastjson", "full_name": "me/fastjson", "description": "JSON parser",
                          "stargazers_count": 10, "forks_count": 10});
        assert_eq!(Candidate::repo(&repo, "json").heuristic, 18.0);
        assert_eq!(Candidate::repo(&repo, "yaml").heuristic, 13.0);
        let empty = json!({"full_name": "me/empty"});
        assert_eq!(Candidate::repo(&empty, "x").heuristic, 0.0);
    }

    #[test]
    fn ranker_answers_are_matched_by_position_or_exact_id_text() {
        let texts = ["a/x: same", "a/y: same", "a/z: other"];
        let by_text = json!({"ranked": [{"candidate": "a/y: same", "score": 0.5},
                                        {"candidate": "a/x: same", "score": 0.0}]});
        assert_eq!(scores_by_id(&by_text, &texts).unwrap(), vec![0.0, 0.5, 0.0]);
        let by_index = json!([{"index": 2, "score": 0.9}]);
        assert_eq!(
            scores_by_id(&by_index, &texts).unwrap(),
            vec![0.0, 0.0, 0.9]
        );
        assert!(scores_by_id(&json!([{"candidate": "same", "score": 1}]), &texts).is_err());
    }

    #[test]
    fn order_is_stable_and_zero_is_kept() {
        assert_eq!(order(&[0.0, 2.0, 0.0, 5.0]), vec![3, 1, 0, 2]);
        assert_eq!(normalise(&[0.0, 5.0, 10.0]), vec![0.0, 5.0, 10.0]);
        assert_eq!(normalise(&[3.0, 3.0]), vec![10.0, 10.0]);
        assert_eq!(normalise(&[0.0]), vec![0.0]);
    }
}
