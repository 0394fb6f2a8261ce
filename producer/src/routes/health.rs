//! Liveness, readiness and metrics of the producer itself.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use liveness_contract::api::{Health, Readiness};

#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "The process is up",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Ready when PostgreSQL, RabbitMQ and the bucket all answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    summary = "Whether PostgreSQL, RabbitMQ and the bucket answer",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency does not answer", body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
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
        Json(Readiness {
            ready,
            database,
            broker,
            storage,
        }),
    )
}

#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics",
    responses((status = 200, description = "The text exposition format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> String {
    state.metrics.render()
}
