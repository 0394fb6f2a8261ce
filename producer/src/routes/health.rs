//! Liveness, readiness and metrics of the producer itself.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when PostgreSQL, RabbitMQ and the bucket all answer.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = sqlx::query_scalar!("SELECT 1")
        .fetch_one(&state.db)
        .await
        .is_ok();
    let broker = state.broker_ready().await;
    let storage = state.storage.ensure_bucket().await.is_ok();
    let ready = database && broker && storage;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "ready": ready, "database": database, "broker": broker, "storage": storage })),
    )
}

pub async fn metrics(State(state): State<AppState>) -> String {
    state.metrics.render()
}
