//! `GET`/`PUT /api/v3/biometrics/liveness/allowed-origins`: the web origins whose pages may
//! use this tenant's capture tokens (CORS; see `crate::cors`).

use crate::auth::TenantId;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use liveness_contract::api::Origins;
use liveness_contract::ErrorBody;
use liveness_contract::ErrorCode;

#[utoipa::path(get, path = "/api/v3/biometrics/liveness/allowed-origins", tag = "capture",
    summary = "Web origins whose pages may use this tenant's capture tokens (CORS)",
    security(("bearer" = [])),
    responses((status = 200, description = "The origins", body = Origins)))]
pub async fn get_allowed(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Origins>, ApiError> {
    let tenant = liveness_pipeline::db::tenants::get(&state.db, tenant)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::Unauthorized("this client is disabled"))?;
    Ok(Json(Origins {
        origins: tenant.allowed_origins,
    }))
}

#[utoipa::path(put, path = "/api/v3/biometrics/liveness/allowed-origins", tag = "capture",
    summary = "Replace the allowed origins (canonicalised: lower case, default port dropped)",
    security(("bearer" = [])),
    request_body = Origins,
    responses(
        (status = 200, description = "The origins now allowed", body = Origins),
        (status = 400, description = "Malformed body (invalid_json), or an origin that cannot be allowed (invalid_origins)", body = ErrorBody),
        (status = 415, description = "Not JSON (unsupported_media_type)", body = ErrorBody)))]
pub async fn put_allowed(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    body: Result<Json<Origins>, JsonRejection>,
) -> Result<Json<Origins>, ApiError> {
    let Json(body) = body.map_err(ApiError::json)?;
    let origins = liveness_pipeline::db::origins::canonical_list(&body.origins)
        .map_err(|e| ApiError::refused(ErrorCode::InvalidOrigins, e.to_string()))?;
    liveness_pipeline::db::tenants::set_allowed_origins(&state.db, tenant, &origins)
        .await
        .map_err(ApiError::database)?;
    get_allowed(State(state), TenantId(tenant)).await
}
