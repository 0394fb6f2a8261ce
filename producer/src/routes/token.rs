//! `POST /api/v3/auth/token`: client credentials (JSON or form) for a short-lived JWT.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

pub async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let credentials = crate::form::credentials(content_type, &body)?;
    // No client id we issue has a NUL (PostgreSQL text cannot even hold one).
    if credentials.client_id.contains('\0') || credentials.client_id.len() > 256 {
        return Err(ApiError::Unauthorized("unknown client or wrong secret"));
    }
    let tenant = liveness_pipeline::tenants::authenticate(
        &state.db,
        &credentials.client_id,
        &credentials.client_secret,
    )
    .await
    .map_err(ApiError::database)?
    .ok_or(ApiError::Unauthorized("unknown client or wrong secret"))?;
    let ttl = state.config.jwt_ttl.as_secs() as i64;
    Ok(Json(json!({
        "access_token": crate::auth::issue(&state.config.jwt_secret, tenant.id, ttl),
        "token_type": "Bearer",
        "expires_in": ttl,
    })))
}
