//! Deterministic stand-ins for the ML endpoints: same input, same answer, no model files.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::core_api::{CALIBRATION_FACTOR, words};
use crate::reply;
use crate::stats::lock;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ai/intelligence/mood/analyze", web::post().to(mood))
        .route(
            "/ai/intelligence/predictions/{user_id}",
            web::get().to(predictions),
        )
        .route(
            "/ai/intelligence/insights/{user_id}",
            web::get().to(insights),
        )
        .route("/ai/intelligence/status", web::get().to(status))
        .route("/entities/test/{command}", web::get().to(reasoning))
        .route(
            "/api/v1/ml/calibration/score",
            web::post().to(calibration_score),
        )
        .route(
            "/api/v1/ml/calibration/metrics",
            web::get().to(calibration_metrics),
        )
        .route(
            "/api/v1/ml/predictions/rank",
            web::post().to(rank_predictions),
        )
        .route(
            "/api/v1/ml/predictions/record_outcome",
            web::post().to(record_outcome),
        )
        .route(
            "/api/v1/ml/predictions/metrics",
            web::get().to(prediction_metrics),
        )
        .route("/api/v1/ml/baseline/{user_id}", web::get().to(baseline))
        .route("/api/v1/ml/adaptation/trigger", web::post().to(adaptation));
}

/// Recorded prediction outcomes; cleared by `POST /_control/reset`.
#[derive(Default)]
pub struct Outcomes {
    total: u64,
    accepted: u64,
}

impl Outcomes {
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

const POSITIVE: &[&str] = &[
    "happy",
    "great",
    "love",
    "good",
    "excellent",
    "awesome",
    "glad",
    "nice",
    "thanks",
    "wonderful",
    "fantastic",
    "pleased",
    "like",
];
const NEGATIVE: &[&str] = &[
    "sad",
    "angry",
    "broken",
    "fail",
    "failed",
    "failing",
    "bad",
    "hate",
    "terrible",
    "awful",
    "crash",
    "bug",
    "frustrated",
    "annoyed",
    "wrong",
];

/// Keyword vote. Confidence = sentiment words / all words; a tie or no sentiment is neutral 0.5.
pub fn analyze_mood(text: &str) -> (&'static str, f64) {
    let (mut total, mut pos, mut neg) = (0usize, 0usize, 0usize);
    for w in words(text) {
        total += 1;
        pos += usize::from(POSITIVE.contains(&w.as_str()));
        neg += usize::from(NEGATIVE.contains(&w.as_str()));
    }
    if pos == neg {
        return ("neutral", 0.5);
    }
    let mood = if pos > neg { "positive" } else { "negative" };
    let confidence = ((pos + neg) as f64 / total as f64).clamp(0.0, 1.0);
    (mood, confidence)
}

#[derive(Deserialize)]
struct MoodRequest {
    text: String,
}

async fn mood(body: web::Json<MoodRequest>) -> HttpResponse {
    let (mood, confidence) = analyze_mood(&body.text);
    HttpResponse::Ok().json(json!({ "mood": mood, "confidence": confidence }))
}

async fn predictions(user_id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "user_id": user_id.into_inner(),
        "predictions": [
            {"id": "p1", "text": "Run the test suite", "confidence": 0.8},
            {"id": "p2", "text": "Review open pull requests", "confidence": 0.65},
            {"id": "p3", "text": "Update the changelog", "confidence": 0.4},
        ],
    }))
}

async fn insights(user_id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "user_id": user_id.into_inner(),
        "insights": [
            {"id": "i1", "text": "Most sessions start with a build", "weight": 0.7},
            {"id": "i2", "text": "Tests are usually run after edits to src/", "weight": 0.5},
        ],
    }))
}

async fn status() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "personality_engine": {"type": "balanced", "mood": "neutral", "tone": "professional"},
        "models_loaded": 3,
        "status": "ok",
    }))
}

/// First word is the program, the rest its arguments: enough structure for reasoning tests.
async fn reasoning(command: web::Path<String>) -> HttpResponse {
    let command = command.into_inner();
    let tokens: Vec<&str> = command.split_whitespace().collect();
    let entities: Vec<Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let kind = if i == 0 { "program" } else { "argument" };
            json!({ "type": kind, "value": t })
        })
        .collect();
    let reasoning = match tokens.first() {
        Some(prog) => format!(
            "'{prog}' is the program; {} argument(s) follow",
            tokens.len() - 1
        ),
        None => "empty command: nothing to reason about".to_string(),
    };
    HttpResponse::Ok()
        .json(json!({ "command": command, "reasoning": reasoning, "entities": entities }))
}

async fn calibration_score(body: web::Json<Value>) -> HttpResponse {
    let Some(raw) = body.get("raw_score").and_then(Value::as_f64) else {
        return reply::bad_request("raw_score must be a number");
    };
    HttpResponse::Ok()
        .json(json!({ "calibrated_score": raw * CALIBRATION_FACTOR, "raw_score": raw }))
}

async fn calibration_metrics(state: web::Data<AppState>) -> HttpResponse {
    let samples = lock(&state.outcomes).total;
    HttpResponse::Ok().json(json!({ "ece": 0.05, "samples": samples }))
}

/// Candidates are kept as given and ordered by their `confidence` (missing = 0), ties by input order.
pub fn rank_by_confidence(mut candidates: Vec<Value>) -> Vec<Value> {
    let conf = |v: &Value| v.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
    candidates.sort_by(|a, b| conf(b).total_cmp(&conf(a)));
    candidates
}

#[derive(Deserialize)]
struct RankPredictionsRequest {
    candidates: Vec<Value>,
}

async fn rank_predictions(body: web::Json<RankPredictionsRequest>) -> HttpResponse {
    let ranked = rank_by_confidence(body.into_inner().candidates);
    HttpResponse::Ok().json(json!({ "ranked": ranked }))
}

#[derive(Deserialize)]
struct OutcomeRequest {
    prediction_id: Value,
    user_accepted: bool,
}

async fn record_outcome(
    state: web::Data<AppState>,
    body: web::Json<OutcomeRequest>,
) -> HttpResponse {
    if body.prediction_id.is_null() {
        return reply::bad_request("prediction_id is required");
    }
    {
        let mut o = lock(&state.outcomes);
        o.total += 1;
        o.accepted += u64::from(body.user_accepted);
    }
    HttpResponse::Ok().json(json!({ "recorded": true, "prediction_id": body.prediction_id }))
}

async fn prediction_metrics(state: web::Data<AppState>) -> HttpResponse {
    let (total, accepted) = {
        let o = lock(&state.outcomes);
        (o.total, o.accepted)
    };
    let rate = if total == 0 {
        0.0
    } else {
        accepted as f64 / total as f64
    };
    HttpResponse::Ok().json(json!({ "acceptance_rate": rate, "total": total }))
}

async fn baseline(user_id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "user_id": user_id.into_inner(),
        "baseline": {"commands_per_hour": 12.0, "error_rate": 0.02, "active_hours": [9, 17]},
        "anomaly": false,
    }))
}

#[derive(Deserialize)]
struct AdaptationRequest {
    #[serde(default)]
    reason: Option<String>,
}

async fn adaptation(body: web::Json<AdaptationRequest>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "triggered": true, "reason": body.reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mood_keywords() {
        assert_eq!(analyze_mood("I love this, great work"), ("positive", 0.4));
        assert_eq!(
            analyze_mood("The build is BROKEN, tests fail"),
            ("negative", 2.0 / 6.0)
        );
        assert_eq!(analyze_mood("hello there"), ("neutral", 0.5));
        assert_eq!(analyze_mood(""), ("neutral", 0.5));
        assert_eq!(analyze_mood("happy sad"), ("neutral", 0.5));
        assert_eq!(analyze_mood("great!"), ("positive", 1.0));
    }

    #[test]
    fn predictions_rank_by_confidence_stably() {
        let c = vec![
            json!({"id": "a", "confidence": 0.2}),
            json!({"id": "b"}),
            json!({"id": "c", "confidence": 0.9}),
            json!({"id": "d", "confidence": 0.2}),
        ];
        let ids: Vec<_> = rank_by_confidence(c)
            .iter()
            .map(|v| v["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!("c"), json!("a"), json!("d"), json!("b")]);
    }
}
