//! Control plane under `/_control/`: never counted, never faulted (see `faults::is_control`).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::AppState;
use crate::faults::{FaultConfig, FaultState};
use crate::reply;
use crate::stats::lock;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/_control/faults", web::post().to(set_faults))
        .route("/_control/faults", web::get().to(get_faults))
        .route("/_control/reset", web::post().to(reset))
        .route("/_control/stats", web::get().to(stats));
}

/// Replaces the whole fault set (absent fields = off) and restarts the error-rate sequence.
async fn set_faults(state: web::Data<AppState>, body: web::Json<FaultConfig>) -> HttpResponse {
    let config = body.into_inner();
    if let Err(e) = config.validate() {
        return reply::bad_request(e);
    }
    log::info!("faults set: {config:?}");
    *lock(&state.faults) = FaultState::new(config.clone());
    HttpResponse::Ok().json(json!({ "ok": true, "faults": config }))
}

async fn get_faults(state: web::Data<AppState>) -> HttpResponse {
    let config = lock(&state.faults).config().clone();
    HttpResponse::Ok().json(json!({ "faults": config }))
}

/// Clears faults and every counter (in-flight requests are live, so that gauge stays).
async fn reset(state: web::Data<AppState>) -> HttpResponse {
    *lock(&state.faults) = FaultState::default();
    state.stats.reset();
    lock(&state.outcomes).reset();
    log::info!("faults and counters reset");
    HttpResponse::Ok().json(json!({ "ok": true }))
}

async fn stats(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats.snapshot())
}
