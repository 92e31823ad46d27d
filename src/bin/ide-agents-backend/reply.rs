//! Shared JSON reply helpers, so every error the backend produces is JSON that a client can parse.

use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{Error, HttpRequest, HttpResponse, web};
use serde_json::json;

/// `{"error": msg}` with the given status.
pub fn error(status: StatusCode, msg: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": msg.into() }))
}

pub fn bad_request(msg: impl Into<String>) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, msg)
}

/// Fallback for unknown routes (faults still apply to it, like to any non-control path).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method(), req.path()),
    )
}

/// Turns an extractor failure into a 400 with a JSON body instead of actix's plain-text default.
fn reject(err: impl std::fmt::Display + std::fmt::Debug + 'static, what: &str) -> Error {
    let body = bad_request(format!("{what}: {err}"));
    InternalError::from_response(err, body).into()
}

/// Lenient about Content-Type: curl's `-d` sends form encoding, and tests should not have to care.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .content_type_required(false)
        .error_handler(|err: JsonPayloadError, _req| reject(err, "invalid JSON body"))
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err: QueryPayloadError, _req| reject(err, "invalid query string"))
}

/// actix answers 404 for undecodable path parameters; a malformed request is a 400.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| reject(err, "invalid path"))
}
