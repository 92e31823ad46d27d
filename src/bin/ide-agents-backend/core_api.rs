//! Core endpoints (not Rust's `core`): health, entity mappings, documentation, ranking and calibration.

use std::collections::{BTreeSet, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::reply;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/entities/mappings", web::get().to(mappings))
        .route("/documentation", web::get().to(documentation))
        .route("/ai/intelligence/rank", web::post().to(rank))
        .route("/ai/intelligence/calibrate", web::post().to(calibrate));
}

/// The calibration factor shared with the ML calibration endpoint.
pub const CALIBRATION_FACTOR: f64 = 0.9;

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "ok": true,
        "ml_models": {"mood": "keyword-v1", "ranker": "overlap-v1", "calibrator": "linear-0.9"},
    }))
}

const ENTITIES: [(&str, &str, &str); 5] = [
    ("repo", "resource", "A source repository"),
    ("file", "resource", "A file inside a repository"),
    (
        "command",
        "action",
        "An allow-listed program run by the backend",
    ),
    ("user", "actor", "A person using the IDE agents"),
    (
        "prediction",
        "ml",
        "A suggested next action with a confidence",
    ),
];

async fn mappings() -> HttpResponse {
    let list: Vec<_> = ENTITIES
        .iter()
        .map(|(name, kind, description)| {
            json!({ "name": name, "type": kind, "description": description })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

const TOPICS: [(&str, &str); 5] = [
    (
        "getting-started",
        "Start the backend with `ide-agents-backend --port 8001`, then point the daemon at it with \
         IDE_AGENTS_BACKEND_URL=http://127.0.0.1:8001.",
    ),
    (
        "commands",
        "POST /command runs one of echo, ls, pwd, whoami, date by argv (no shell), with an optional \
         payload {cwd, timeout}.",
    ),
    (
        "ranking",
        "POST /ai/intelligence/rank scores each candidate by the share of query words it contains.",
    ),
    (
        "ml",
        "The ML endpoints are deterministic stand-ins: keyword mood scoring, fixed predictions, \
         calibration = score x 0.9.",
    ),
    (
        "faults",
        "POST /_control/faults with latency_ms, error_rate, status, retry_after, hang, \
         close_after_headers, close_without_answer, garbage, huge_body_mib, paths; GET /_control/stats for counters; POST /_control/reset to clear.",
    ),
];

async fn documentation(query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let Some(topic) = query.get("topic").filter(|t| !t.is_empty()) else {
        return reply::bad_request("missing query parameter: topic");
    };
    match TOPICS.iter().find(|(name, _)| name == topic) {
        Some((name, content)) => {
            HttpResponse::Ok().json(json!({ "topic": name, "content": content }))
        }
        None => reply::error(StatusCode::NOT_FOUND, "unknown topic"),
    }
}

/// Lowercase words: maximal runs of alphanumerics.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Ranked {
    pub candidate: String,
    pub score: f64,
}

/// Score = share of distinct query words found in the candidate; ties keep input order.
pub fn rank_candidates(query: &str, candidates: &[String]) -> Vec<Ranked> {
    let query_words: BTreeSet<String> = words(query).collect();
    let mut ranked: Vec<Ranked> = candidates
        .iter()
        .map(|c| {
            let score = if query_words.is_empty() {
                0.0
            } else {
                let cand: BTreeSet<String> = words(c).collect();
                query_words.intersection(&cand).count() as f64 / query_words.len() as f64
            };
            Ranked {
                candidate: c.clone(),
                score,
            }
        })
        .collect();
    // sort_by is stable, so equal scores stay in their original order.
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    ranked
}

#[derive(Deserialize)]
struct RankRequest {
    query: String,
    candidates: Vec<String>,
}

async fn rank(body: web::Json<RankRequest>) -> HttpResponse {
    let ranked = rank_candidates(&body.query, &body.candidates);
    HttpResponse::Ok().json(json!({ "ranked": ranked }))
}

#[derive(Deserialize)]
struct CalibrateRequest {
    scores: Vec<f64>,
}

async fn calibrate(body: web::Json<CalibrateRequest>) -> HttpResponse {
    let calibrated: Vec<f64> = body.scores.iter().map(|s| s * CALIBRATION_FACTOR).collect();
    HttpResponse::Ok().json(json!({ "calibrated": calibrated }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ranks_by_word_overlap_then_input_order() {
        let c = strings(&[
            "fix the parser",
            "Parser bug: crash!",
            "unrelated",
            "crash in parser",
        ]);
        let r = rank_candidates("parser crash", &c);
        let order: Vec<_> = r.iter().map(|x| (x.candidate.as_str(), x.score)).collect();
        assert_eq!(
            order,
            vec![
                ("Parser bug: crash!", 1.0),
                ("crash in parser", 1.0),
                ("fix the parser", 0.5),
                ("unrelated", 0.0),
            ]
        );
    }

    #[test]
    fn repeated_query_words_count_once_and_empty_query_scores_zero() {
        let c = strings(&["a b", "a"]);
        let r = rank_candidates("a a b", &c);
        assert_eq!(r[0].score, 1.0);
        assert_eq!(r[1].score, 0.5);
        let r = rank_candidates(" ,;", &c);
        assert!(r.iter().all(|x| x.score == 0.0));
        assert_eq!(r[0].candidate, "a b");
    }

    #[test]
    fn words_split_on_non_alphanumerics() {
        let w: Vec<_> = words("Hello, wörld!foo_bar 42").collect();
        assert_eq!(w, vec!["hello", "wörld", "foo", "bar", "42"]);
    }
}
