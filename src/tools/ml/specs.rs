//! The 15 ML tools as `tools/list` shows them: names, input schemas, behaviour hints.

use crate::tools::spec::{Annotations, GroupId, ToolSpec, no_arguments, object_schema};
use serde_json::{Value, json};

/// Computes on the backend without changing anything there (ranking, calibration).
const REMOTE_COMPUTE: Annotations = Annotations::REMOTE_READ;

/// Records something on the backend: not destructive, but not safe to repeat either.
const REMOTE_RECORD: Annotations = Annotations {
    read_only: false,
    destructive: false,
    idempotent: false,
    open_world: true,
};

/// Answered locally, changes nothing anywhere.
const LOCAL_SIMULATION: Annotations = Annotations {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
};

fn user_id() -> Value {
    json!({"type": "string", "minLength": 1, "default": "default_user",
           "description": "whose data; sent as one URL path segment"})
}

pub fn specs() -> Vec<ToolSpec> {
    let spec = |name, description, input_schema, annotations| ToolSpec {
        name,
        group: GroupId::Ml,
        description,
        input_schema,
        annotations,
    };
    vec![
        spec(
            "ide_agents_ml_analyze_emotion",
            "Analyze the mood of a text: mood (positive, negative or neutral) and a confidence.",
            object_schema(
                json!({"text": {"type": "string", "minLength": 1}}),
                &["text"],
            ),
            REMOTE_COMPUTE,
        ),
        spec(
            "ide_agents_ml_get_predictions",
            "The backend's predicted next actions for a user.",
            object_schema(json!({"user_id": user_id()}), &[]),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_get_learning_insights",
            "What the backend has learned about a user's habits.",
            object_schema(json!({"user_id": user_id()}), &[]),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_analyze_reasoning",
            "Break a command line into the program and its arguments, with the backend's reasoning.",
            object_schema(
                json!({"command": {"type": "string", "minLength": 1,
                                   "description": "sent as one URL path segment"}}),
                &["command"],
            ),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_get_personality_profile",
            "The assistant personality the backend's engine currently uses.",
            no_arguments(),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_adjust_personality",
            "Request a personality change. Simulated: echoes the request, changes nothing.",
            object_schema(
                json!({
                    "personality_type": {"type": "string"},
                    "mood": {"type": "string"},
                    "tone": {"type": "string"},
                }),
                &[],
            ),
            LOCAL_SIMULATION,
        ),
        spec(
            "ide_agents_ml_get_system_status",
            "Status of the backend's ML engines.",
            no_arguments(),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_calibrate_confidence",
            "Calibrate a raw model score into a confidence.",
            object_schema(
                json!({
                    "raw_score": {"type": "number"},
                    "entropy": {"type": "number", "minimum": 0},
                    "interaction_count": {"type": "integer", "minimum": 0},
                }),
                &["raw_score"],
            ),
            REMOTE_COMPUTE,
        ),
        spec(
            "ide_agents_ml_rank_predictions_rlhf",
            "Rank prediction candidates with the feedback-trained ranker; without candidates, \
             ranks the user's current predictions.",
            object_schema(
                json!({
                    "user_id": user_id(),
                    "candidates": {"type": "array", "items": {"type": "object"},
                                   "description": "predictions such as {id, text, confidence}"},
                }),
                &[],
            ),
            REMOTE_COMPUTE,
        ),
        spec(
            "ide_agents_ml_record_prediction_outcome",
            "Record whether the user accepted a prediction (feedback for the ranker). Sent once, \
             never retried.",
            object_schema(
                json!({
                    "prediction_id": {"type": ["string", "integer"]},
                    "user_accepted": {"type": "boolean"},
                    "prediction_type": {"type": "string"},
                    "prediction_text": {"type": "string"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "user_id": {"type": "string", "minLength": 1},
                    "context": {"type": "object"},
                }),
                &["prediction_id", "user_accepted"],
            ),
            REMOTE_RECORD,
        ),
        spec(
            "ide_agents_ml_get_calibration_metrics",
            "How well calibrated the confidences are (calibration error, sample count).",
            no_arguments(),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_get_rlhf_metrics",
            "Feedback metrics of the prediction ranker (acceptance rate, outcomes recorded).",
            no_arguments(),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_behavioral_baseline_check",
            "A user's behavioural baseline and whether current activity departs from it.",
            object_schema(json!({"user_id": user_id()}), &[]),
            Annotations::REMOTE_READ,
        ),
        spec(
            "ide_agents_ml_trigger_auto_adaptation",
            "Ask the backend to adapt its models now. Sent once, never retried.",
            object_schema(
                json!({"reason": {"type": "string", "description": "why, for the backend's log"}}),
                &[],
            ),
            REMOTE_RECORD,
        ),
        spec(
            "ide_agents_ml_get_ultra_dashboard",
            "Calibration metrics, feedback metrics and system status in one answer, fetched in \
             parallel; a part that failed is reported inside the answer.",
            no_arguments(),
            Annotations::REMOTE_READ,
        ),
    ]
}
