//! `GET`/`PUT /api/v3/biometrics/liveness/allowed-origins`: the web origins whose pages may
//! use this tenant's capture tokens (CORS; see `crate::cors`).

use crate::auth::TenantId;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct AllowedOrigins {
    origins: Vec<String>,
}

pub async fn get_allowed(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Value>, ApiError> {
    let tenant = liveness_pipeline::tenants::get(&state.db, tenant)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::Unauthorized("this client is disabled"))?;
    Ok(Json(json!({ "origins": tenant.allowed_origins })))
}

pub async fn put_allowed(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    body: Result<Json<AllowedOrigins>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(ApiError::json)?;
    let origins = liveness_pipeline::origins::canonical_list(&body.origins)
        .map_err(|e| ApiError::bad_request("invalid_origins", e.to_string()))?;
    liveness_pipeline::tenants::set_allowed_origins(&state.db, tenant, &origins)
        .await
        .map_err(ApiError::database)?;
    get_allowed(State(state), TenantId(tenant)).await
}
