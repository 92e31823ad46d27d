//! The ULTRA group: ranking and calibration through the backend (or IDE_AGENTS_ULTRA_URL).

use super::spec::{Annotations, GroupId, ToolSpec, object_schema};
use super::{ErrorCode, ToolCall, ToolError, ToolGroup, ToolWork, arg_str};
use crate::actors::backend_pool::{self, BackendPool};
use crate::backend::{BackendCall, Target};
use actix::Addr;
use serde_json::{Value, json};

pub fn specs() -> Vec<ToolSpec> {
    let annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    };
    vec![
        ToolSpec {
            name: "ide_agents_ultra_rank",
            group: GroupId::Ultra,
            description: "Rank candidate texts against a query with the ULTRA ranker; highest score first.",
            input_schema: object_schema(
                json!({
                    "query": {"type": "string", "minLength": 1},
                    "candidates": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                }),
                &["query", "candidates"],
            ),
            annotations,
        },
        ToolSpec {
            name: "ide_agents_ultra_calibrate",
            group: GroupId::Ultra,
            description: "Calibrate raw model scores with the ULTRA calibrator.",
            input_schema: object_schema(
                json!({"scores": {"type": "array", "items": {"type": "number"}}}),
                &["scores"],
            ),
            annotations,
        },
    ]
}

pub struct UltraTools {
    pool: Addr<BackendPool>,
}

impl UltraTools {
    pub fn new(pool: Addr<BackendPool>) -> Self {
        UltraTools { pool }
    }
}

impl ToolGroup for UltraTools {
    fn call(&mut self, call: ToolCall) -> ToolWork {
        let pool = self.pool.clone();
        let notes = call.ctx.notes.clone();
        super::boxed(async move {
            match call.tool.name {
                "ide_agents_ultra_rank" => {
                    let query = arg_str(&call.args, "query").unwrap_or_default().to_string();
                    let candidates: Vec<String> = call.args["candidates"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|c| c.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    let body = json!({"query": query, "candidates": candidates});
                    let call =
                        BackendCall::post_idempotent(Target::Ultra, "/ai/intelligence/rank", body);
                    let reply = backend_pool::call(&pool, call)
                        .await
                        .map_err(|e| e.to_tool_error())?;
                    notes.backend_status(reply.status);
                    Ok(json!({ "ranked": parse_ranking(&reply.body, &candidates)? }))
                }
                "ide_agents_ultra_calibrate" => {
                    let body = json!({"scores": call.args["scores"]});
                    let call = BackendCall::post_idempotent(
                        Target::Ultra,
                        "/ai/intelligence/calibrate",
                        body,
                    );
                    let reply = backend_pool::call(&pool, call)
                        .await
                        .map_err(|e| e.to_tool_error())?;
                    notes.backend_status(reply.status);
                    Ok(json!({ "calibration": reply.body }))
                }
                other => Err(ToolError::new(
                    ErrorCode::UnknownTool,
                    format!("no ULTRA tool {other}"),
                )),
            }
        })
    }
}

/// Reads the backend's ranking in any of the shapes it uses — the list under `ranked`,
/// `ranking`, `results` or `data`, or bare; items naming the candidate as `candidate`, `text`
/// or `item` (or by `index`) and the score as `score`, `value` or `similarity` — into
/// `[{text, score}]` sorted by score, highest first. A score of 0 is kept.
pub fn parse_ranking(body: &Value, candidates: &[String]) -> Result<Vec<Value>, ToolError> {
    let list = ranking_items(body)?;
    let mut ranked: Vec<(String, f64)> = Vec::with_capacity(list.len());
    for item in list {
        let text = item_text(item).map(String::from).or_else(|| {
            let i = item_index(item)?;
            candidates.get(i).cloned()
        });
        match (text, item_score(item)) {
            // A ranking is of the texts asked about; anything else is the ranker's mistake.
            (Some(t), Some(_)) if !candidates.contains(&t) => {
                return Err(ToolError::new(
                    ErrorCode::BackendError,
                    format!("The ranker scored an item that is not one of the candidates: {item}"),
                ));
            }
            (Some(t), Some(s)) => ranked.push((t, s)),
            _ => return Err(unreadable_item(item)),
        }
    }
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ranked
        .into_iter()
        .map(|(text, score)| json!({"text": text, "score": score}))
        .collect())
}

/// The ranker's list of scored items, wherever its answer holds it.
pub fn ranking_items(body: &Value) -> Result<&Vec<Value>, ToolError> {
    ["ranked", "ranking", "results", "data"]
        .iter()
        .find_map(|k| body.get(k))
        .unwrap_or(body)
        .as_array()
        .ok_or_else(|| {
            ToolError::new(
                ErrorCode::BackendError,
                "The ranker's answer holds no list of scores.",
            )
        })
}

/// The candidate text an item names.
pub fn item_text(item: &Value) -> Option<&str> {
    ["candidate", "text", "item"]
        .iter()
        .find_map(|k| item.get(k).and_then(Value::as_str))
}

/// The candidate position an item names.
pub fn item_index(item: &Value) -> Option<usize> {
    Some(item.get("index")?.as_u64()? as usize)
}

pub fn item_score(item: &Value) -> Option<f64> {
    ["score", "value", "similarity"]
        .iter()
        .find_map(|k| item.get(k).and_then(Value::as_f64))
}

pub fn unreadable_item(item: &Value) -> ToolError {
    ToolError::new(
        ErrorCode::BackendError,
        format!("The ranker returned an item without a candidate and a score: {item}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_shape_is_read_and_zero_scores_are_kept() {
        let candidates = vec!["a".to_string(), "b".to_string()];
        let want = json!([{"text": "b", "score": 0.5}, {"text": "a", "score": 0.0}]);
        for body in [
            json!({"ranked": [{"candidate": "a", "score": 0.0}, {"candidate": "b", "score": 0.5}]}),
            json!({"ranking": [{"text": "a", "value": 0}, {"text": "b", "value": 0.5}]}),
            json!({"results": [{"item": "b", "similarity": 0.5}, {"item": "a", "similarity": 0.0}]}),
            json!({"data": [{"index": 0, "score": 0.0}, {"index": 1, "score": 0.5}]}),
            json!([{"candidate": "a", "score": 0.0}, {"candidate": "b", "score": 0.5}]),
        ] {
            assert_eq!(
                Value::Array(parse_ranking(&body, &candidates).unwrap()),
                want,
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_rankings_are_backend_errors() {
        assert!(parse_ranking(&json!({"ranked": "no"}), &[]).is_err());
        assert!(parse_ranking(&json!([{"candidate": "a"}]), &[]).is_err());
        let candidates = vec!["a".to_string(), "b".to_string()];
        let e = parse_ranking(&json!([{"candidate": "zzz", "score": 0.3}]), &candidates);
        assert!(e.unwrap_err().message.contains("not one of the candidates"));
        let out_of_range = json!([{"index": 2, "score": 0.3}]);
        assert!(parse_ranking(&out_of_range, &candidates).is_err());
    }
}
