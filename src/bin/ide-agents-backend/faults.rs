//! Fault injection: one config (set by CLI flags or `POST /_control/faults`) and the middleware that
//! applies it to every non-control request. Everything is deterministic so tests can count on it.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody, SizedStream};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::stats::lock;

/// Paths under this prefix are never counted nor faulted: tests must always be able to reach them.
pub const CONTROL_PREFIX: &str = "/_control";

pub fn is_control(path: &str) -> bool {
    path == CONTROL_PREFIX || path.starts_with("/_control/")
}

/// The whole fault set. The same struct is the CLI flags and the control API body, so the two
/// cannot drift apart.
#[derive(clap::Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Delay added before answering (ms).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction 0..1 of requests that fail with --status (or 500); deterministic, not random.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// With error rate 0: every request answers this status with {"error":"injected"}.
    #[arg(long)]
    pub status: Option<u16>,
    /// `Retry-After` value sent with an injected status: seconds or an HTTP-date.
    #[arg(long)]
    pub retry_after: Option<String>,
    /// Never answer (the client must time out or go away).
    #[arg(long)]
    pub hang: bool,
    /// Send status line and headers declaring a body, then close without the full body.
    #[arg(long)]
    pub close_after_headers: bool,
    /// Handle the request, then close the connection without any answer (a backend that dies
    /// mid-request).
    #[arg(long)]
    pub close_without_answer: bool,
    /// Answer 200 application/json with a body that is not JSON.
    #[arg(long)]
    pub garbage: bool,
    /// Answer 200 with a valid JSON body of this many MiB (an answer too large to read).
    #[arg(long)]
    pub huge_body_mib: Option<u32>,
    /// Path prefixes the faults apply to (comma-separated); default every non-control path.
    #[arg(long, value_delimiter = ',')]
    pub paths: Option<Vec<String>>,
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error_rate must be within 0..1, got {}",
                self.error_rate
            ));
        }
        if let Some(code) = self.status {
            // 1xx would be an interim response, not an answer; keep to final statuses.
            if !(200..=599).contains(&code) {
                return Err(format!("status must be within 200..599, got {code}"));
            }
        }
        if let Some(wait) = &self.retry_after
            && !wait.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(format!(
                "retry_after must be printable ASCII (a header value), got {wait:?}"
            ));
        }
        Ok(())
    }

    fn applies_to(&self, path: &str) -> bool {
        match &self.paths {
            None => true,
            Some(prefixes) => prefixes.iter().any(|p| path.starts_with(p.as_str())),
        }
    }
}

/// Decides which requests fail for a given error rate: request k (1-based) fails when
/// floor(k * rate) advances. Rate 0.5 fails requests 2, 4, 6…; rate 1 fails all; 0.25 fails 4, 8…
/// The epsilon absorbs float error (0.29 * 100 = 28.999…), so the sequence is what a reader expects.
#[derive(Debug, Default)]
pub struct ErrorRate {
    rate: f64,
    seen: u64,
}

impl ErrorRate {
    pub fn new(rate: f64) -> Self {
        Self {
            rate: rate.clamp(0.0, 1.0),
            seen: 0,
        }
    }

    pub fn next_fails(&mut self) -> bool {
        let failed_by = |k: u64| (k as f64 * self.rate + 1e-9).floor();
        self.seen += 1;
        failed_by(self.seen) > failed_by(self.seen - 1)
    }
}

/// What the middleware does instead of (or before) the real handler.
#[derive(Debug, PartialEq)]
pub enum Action {
    Pass,
    Status(u16),
    CloseAfterHeaders,
    CloseWithoutAnswer,
    Garbage,
    /// A JSON string of this many MiB.
    Huge(u32),
}

#[derive(Debug, PartialEq)]
pub struct Plan {
    pub latency: Duration,
    pub hang: bool,
    pub action: Action,
    pub retry_after: Option<String>,
}

#[derive(Debug, Default)]
pub struct FaultState {
    config: FaultConfig,
    errors: ErrorRate,
}

impl FaultState {
    pub fn new(config: FaultConfig) -> Self {
        let errors = ErrorRate::new(config.error_rate);
        Self { config, errors }
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Decided at arrival, so which request fails depends only on arrival order.
    pub fn plan(&mut self, path: &str) -> Option<Plan> {
        let cfg = &self.config;
        if *cfg == FaultConfig::default() || !cfg.applies_to(path) {
            return None;
        }
        let action = if cfg.error_rate > 0.0 {
            if self.errors.next_fails() {
                Action::Status(cfg.status.unwrap_or(500))
            } else {
                Self::body_fault(cfg)
            }
        } else if let Some(code) = cfg.status {
            Action::Status(code)
        } else {
            Self::body_fault(cfg)
        };
        Some(Plan {
            latency: Duration::from_millis(cfg.latency_ms),
            hang: cfg.hang,
            action,
            retry_after: cfg.retry_after.clone(),
        })
    }

    fn body_fault(cfg: &FaultConfig) -> Action {
        if cfg.close_after_headers {
            Action::CloseAfterHeaders
        } else if cfg.close_without_answer {
            Action::CloseWithoutAnswer
        } else if cfg.garbage {
            Action::Garbage
        } else if let Some(mib) = cfg.huge_body_mib {
            Action::Huge(mib)
        } else {
            Action::Pass
        }
    }
}

/// Middleware (via `middleware::from_fn`): counts, then delays / hangs / replaces the answer.
pub async fn inject(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|_| !is_control(req.path())) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let guard = state
        .stats
        .begin(format!("{} {}", req.method(), req.path()));
    let plan = lock(&state.faults).plan(req.path());
    log::debug!("{} {} faults={:?}", req.method(), req.path(), plan);
    let Some(plan) = plan else {
        let res = next.call(req).await;
        guard.finish();
        return Ok(res?.map_into_boxed_body());
    };
    if !plan.latency.is_zero() {
        actix_rt::time::sleep(plan.latency).await;
    }
    if plan.hang {
        // Dropped by actix when the client disconnects; the guard then counts it as dropped.
        std::future::pending::<()>().await;
    }
    let res = match plan.action {
        Action::Pass => next.call(req).await.map(|r| r.map_into_boxed_body()),
        Action::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut answer = HttpResponse::build(status);
            if let Some(wait) = &plan.retry_after {
                answer.insert_header(("retry-after", wait.as_str()));
            }
            let body = answer.json(json!({ "error": "injected" }));
            Ok(req.into_response(body))
        }
        Action::CloseAfterHeaders => Ok(req.into_response(truncated_response())),
        Action::CloseWithoutAnswer => {
            // The request is handled (a command runs, a recording is stored), then the body's
            // stream fails before the head is written, so the connection closes unanswered.
            let handled = next.call(req).await?;
            let unanswered = stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("close_without_answer fault"))
            });
            Ok(handled.into_response(HttpResponse::Ok().body(SizedStream::new(64, unanswered))))
        }
        Action::Garbage => Ok(req.into_response(
            HttpResponse::Ok()
                .content_type("application/json")
                .body("<<not json>>"),
        )),
        Action::Huge(mib) => {
            let mut body = vec![b'x'; mib as usize * 1024 * 1024];
            body[0] = b'"';
            *body.last_mut().unwrap_or(&mut 0) = b'"';
            Ok(req.into_response(
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body),
            ))
        }
    };
    guard.finish();
    res
}

/// Declares a 64-byte body, sends a few bytes, then fails the body stream: actix flushes the head
/// and the partial chunk while waiting, then aborts the connection on the stream error.
fn truncated_response() -> HttpResponse {
    let partial =
        stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"{\"partial\":")) });
    let abort = stream::once(async {
        // The pause lets the dispatcher write what it has before the error tears the socket down.
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        Err(std::io::Error::other("close_after_headers fault"))
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(SizedStream::new(64, partial.chain(abort)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(rate: f64, n: usize) -> Vec<usize> {
        let mut e = ErrorRate::new(rate);
        (1..=n).filter(|_| e.next_fails()).collect()
    }

    #[test]
    fn error_rate_is_a_deterministic_counter() {
        assert_eq!(failures(0.5, 6), vec![2, 4, 6]);
        assert_eq!(failures(1.0, 3), vec![1, 2, 3]);
        assert_eq!(failures(0.0, 10), Vec::<usize>::new());
        assert_eq!(failures(0.25, 12), vec![4, 8, 12]);
        assert_eq!(failures(0.1, 100).len(), 10);
        assert_eq!(failures(1.0 / 3.0, 9), vec![3, 6, 9]);
        assert_eq!(failures(0.29, 100).len(), 29);
    }

    #[test]
    fn status_alone_fails_everything_and_error_rate_uses_it() {
        let mut s = FaultState::new(FaultConfig {
            status: Some(503),
            ..Default::default()
        });
        assert_eq!(
            s.plan("/health").map(|p| p.action),
            Some(Action::Status(503))
        );
        let mut s = FaultState::new(FaultConfig {
            status: Some(429),
            error_rate: 0.5,
            ..Default::default()
        });
        let actions: Vec<_> = (0..4)
            .filter_map(|_| s.plan("/x"))
            .map(|p| p.action)
            .collect();
        use Action::*;
        assert_eq!(actions, vec![Pass, Status(429), Pass, Status(429)]);
    }

    #[test]
    fn paths_limit_faults_and_empty_config_is_inert() {
        let mut s = FaultState::new(FaultConfig {
            garbage: true,
            paths: Some(vec!["/command".into()]),
            ..Default::default()
        });
        assert_eq!(s.plan("/health"), None);
        assert_eq!(s.plan("/command").map(|p| p.action), Some(Action::Garbage));
        assert_eq!(FaultState::default().plan("/health"), None);
    }

    #[test]
    fn validation_and_control_paths() {
        let bad = FaultConfig {
            error_rate: 1.5,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = FaultConfig {
            status: Some(99),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = FaultConfig {
            retry_after: Some("1\r\nx-injected: 1".into()),
            ..Default::default()
        };
        assert!(
            bad.validate().is_err(),
            "a header value cannot hold a line break"
        );
        assert!(is_control("/_control/stats"));
        assert!(!is_control("/_controlx"));
        let parsed: Result<FaultConfig, _> = serde_json::from_str(r#"{"latncy_ms":5}"#);
        assert!(parsed.is_err(), "typos in fault names must not be ignored");
    }
}
