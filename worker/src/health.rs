//! The worker's own HTTP port: liveness, readiness (consuming jobs) and Prometheus metrics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the supervisor and the consumers report about themselves.
#[derive(Default)]
pub struct Status {
    /// A consumer is attached to the work queue.
    pub consuming: AtomicBool,
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready while a consumer is attached to the work queue (not during a broker outage).
async fn readyz(State(status): State<Arc<Status>>) -> (StatusCode, Json<Value>) {
    let consuming = status.consuming.load(Ordering::Relaxed);
    let code = if consuming {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({ "ready": consuming, "consuming": consuming })),
    )
}

async fn metrics() -> String {
    liveness_pipeline::telemetry::prometheus().render()
}

pub fn router(status: Arc<Status>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(status)
}
