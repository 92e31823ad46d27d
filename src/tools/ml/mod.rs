//! The ML group (SPEC §3.4): 15 tools over the agents backend's ML endpoints. Its actor is
//! started lazily, on a worker's first need (see `actors::groups`).

mod dashboard;
mod specs;

pub use specs::specs;

use super::{CallNotes, ErrorCode, ToolCall, ToolError, ToolGroup, ToolResult, ToolWork, arg_str};
use crate::actors::backend_pool::{self, BackendPool};
use crate::backend::encode::path_segment;
use crate::backend::{BackendCall, Target};
use actix::Addr;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const DEFAULT_USER: &str = "default_user";

#[derive(Clone)]
pub struct MlTools {
    pool: Addr<BackendPool>,
    /// The call being served: its span names the backend's status.
    notes: Arc<CallNotes>,
}

impl MlTools {
    pub fn new(pool: Addr<BackendPool>) -> Self {
        MlTools {
            pool,
            notes: Arc::default(),
        }
    }

    async fn send(&self, call: BackendCall) -> ToolResult {
        let reply = backend_pool::call(&self.pool, call)
            .await
            .map_err(|e| e.to_tool_error())?;
        self.notes.backend_status(reply.status);
        Ok(reply.body)
    }

    async fn get(&self, path: String) -> ToolResult {
        self.send(BackendCall::get(Target::Backend, path)).await
    }

    async fn run(self, name: &'static str, args: Map<String, Value>) -> ToolResult {
        let user = || path_segment(arg_str(&args, "user_id").unwrap_or(DEFAULT_USER));
        let result = match name {
            "ide_agents_ml_analyze_emotion" => {
                let text = arg_str(&args, "text").unwrap_or_default();
                let body = json!({ "text": text });
                let call = BackendCall::post_idempotent(
                    Target::Backend,
                    "/ai/intelligence/mood/analyze",
                    body,
                );
                let reply = self.send(call).await?;
                let mood = required_member(&reply, "mood", "/ai/intelligence/mood/analyze")?;
                json!({"text": text, "mood": mood, "confidence": reply["confidence"]})
            }
            "ide_agents_ml_get_predictions" => {
                self.get(format!("/ai/intelligence/predictions/{}", user()))
                    .await?
            }
            "ide_agents_ml_get_learning_insights" => {
                self.get(format!("/ai/intelligence/insights/{}", user()))
                    .await?
            }
            "ide_agents_ml_analyze_reasoning" => {
                let command = arg_str(&args, "command").unwrap_or_default();
                self.get(format!("/entities/test/{}", path_segment(command)))
                    .await?
            }
            "ide_agents_ml_get_personality_profile" => {
                let status = self.get("/ai/intelligence/status".into()).await?;
                let engine =
                    required_member(&status, "personality_engine", "/ai/intelligence/status")?;
                json!({ "personality_engine": engine })
            }
            "ide_agents_ml_adjust_personality" => {
                let requested: Map<String, Value> = ["personality_type", "mood", "tone"]
                    .iter()
                    .filter_map(|k| Some((k.to_string(), args.get(*k)?.clone())))
                    .collect();
                json!({"requested": requested, "status": "simulated"})
            }
            "ide_agents_ml_get_system_status" => self.get("/ai/intelligence/status".into()).await?,
            "ide_agents_ml_calibrate_confidence" => {
                let call = BackendCall::post_idempotent(
                    Target::Backend,
                    "/api/v1/ml/calibration/score",
                    Value::Object(args.clone()),
                );
                self.send(call).await?
            }
            "ide_agents_ml_rank_predictions_rlhf" => self.rank_predictions(&args).await?,
            "ide_agents_ml_record_prediction_outcome" => {
                let call = BackendCall::post_once(
                    Target::Backend,
                    "/api/v1/ml/predictions/record_outcome",
                    Value::Object(args.clone()),
                );
                self.send(call).await?
            }
            "ide_agents_ml_get_calibration_metrics" => {
                self.get("/api/v1/ml/calibration/metrics".into()).await?
            }
            "ide_agents_ml_get_rlhf_metrics" => {
                self.get("/api/v1/ml/predictions/metrics".into()).await?
            }
            "ide_agents_ml_behavioral_baseline_check" => {
                self.get(format!("/api/v1/ml/baseline/{}", user())).await?
            }
            "ide_agents_ml_trigger_auto_adaptation" => {
                let body = json!({ "reason": arg_str(&args, "reason") });
                let call =
                    BackendCall::post_once(Target::Backend, "/api/v1/ml/adaptation/trigger", body);
                self.send(call).await?
            }
            "ide_agents_ml_get_ultra_dashboard" => dashboard::gather(&self).await,
            other => {
                return Err(ToolError::new(
                    ErrorCode::UnknownTool,
                    format!("the ml group has no tool {other}"),
                ));
            }
        };
        Ok(as_object(result))
    }

    /// Ranks the given candidates, or the user's current predictions when none are given.
    async fn rank_predictions(&self, args: &Map<String, Value>) -> ToolResult {
        let user_id = arg_str(args, "user_id").unwrap_or(DEFAULT_USER);
        let candidates = match args.get("candidates") {
            Some(Value::Array(c)) if !c.is_empty() => Value::Array(c.clone()),
            _ => {
                let fetched = self
                    .get(format!(
                        "/ai/intelligence/predictions/{}",
                        path_segment(user_id)
                    ))
                    .await?;
                match fetched {
                    Value::Object(mut o) => o.remove("predictions").unwrap_or(json!([])),
                    list @ Value::Array(_) => list,
                    _ => json!([]),
                }
            }
        };
        let body = json!({"user_id": user_id, "candidates": candidates});
        let call =
            BackendCall::post_idempotent(Target::Backend, "/api/v1/ml/predictions/rank", body);
        self.send(call).await
    }
}

impl ToolGroup for MlTools {
    fn call(&mut self, call: ToolCall) -> ToolWork {
        let tools = MlTools {
            notes: call.ctx.notes.clone(),
            ..self.clone()
        };
        super::boxed(tools.run(call.tool.name, call.args))
    }
}

/// Tool results are objects; a bare backend value is wrapped as `{result: …}`.
fn as_object(body: Value) -> Value {
    match body {
        Value::Object(_) => body,
        other => json!({ "result": other }),
    }
}

/// The member a tool's result is made of: a success without it would report nulls as if
/// the backend had said them.
fn required_member(body: &Value, key: &str, path: &str) -> Result<Value, ToolError> {
    match body.get(key) {
        Some(v) if !v.is_null() => Ok(v.clone()),
        _ => Err(ToolError::new(
            ErrorCode::BackendError,
            format!("The agents backend answered {path} without `{key}`."),
        )),
    }
}
