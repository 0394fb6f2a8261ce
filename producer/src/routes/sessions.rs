//! Capture sessions (a nonce for the capture library) and the server's public keys.

use crate::auth::TenantId;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

fn public_keys(state: &AppState) -> Value {
    let keys: Vec<Value> = state
        .config
        .capture_keys
        .public_keys()
        .iter()
        .map(|k| json!({ "key_id": k.key_id.as_str(), "public_key": k.to_base64(), "suite": "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-128-GCM" }))
        .collect();
    Value::Array(keys)
}

pub async fn create(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Value>, ApiError> {
    let ttl = chrono::Duration::from_std(state.config.session_ttl)
        .unwrap_or(chrono::Duration::minutes(5));
    let session = liveness_pipeline::sessions::create(&state.db, tenant, ttl)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(json!({
        "nonce": session.nonce,
        "expires_at": session.expires_at.to_rfc3339(),
        "keys": public_keys(&state),
    })))
}

pub async fn keys(State(state): State<AppState>, _tenant: TenantId) -> Json<Value> {
    Json(json!({ "keys": public_keys(&state) }))
}
