//! `ide_agents_ml_get_ultra_dashboard`: three backend reads at once, one answer. A part
//! that failed is reported in place (and listed under `errors`); the call itself succeeds.

use super::MlTools;
use serde_json::{Map, Value, json};

const PARTS: [(&str, &str); 3] = [
    ("calibration_metrics", "/api/v1/ml/calibration/metrics"),
    ("rlhf_metrics", "/api/v1/ml/predictions/metrics"),
    ("system_status", "/ai/intelligence/status"),
];

pub async fn gather(tools: &MlTools) -> Value {
    let [a, b, c] = PARTS.map(|(_, path)| tools.get(path.to_string()));
    let (a, b, c) = futures_util::future::join3(a, b, c).await;
    let mut out = Map::new();
    let mut errors = Vec::new();
    for ((part, _), outcome) in PARTS.iter().zip([a, b, c]) {
        let value = match outcome {
            Ok(v) => v,
            Err(e) => {
                errors.push(json!(part));
                json!({"error": {"code": e.code.as_str(), "message": e.message}})
            }
        };
        out.insert(part.to_string(), value);
    }
    out.insert("complete".into(), json!(errors.is_empty()));
    out.insert("errors".into(), Value::Array(errors));
    Value::Object(out)
}
