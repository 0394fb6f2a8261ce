//! Capture sessions (a nonce and a capture token for one browser capture) and the server's
//! public keys.

use crate::auth::{Caller, TenantId};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

/// The keys clients may seal to now, the one to use first.
fn public_keys(state: &AppState) -> Value {
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let keys: Vec<Value> = state
        .config
        .capture_keys
        .offered(now_ms)
        .iter()
        .map(|k| json!({ "key_id": k.key_id.as_str(), "public_key": k.to_base64(), "suite": "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-128-GCM" }))
        .collect();
    Value::Array(keys)
}

/// `POST /api/v3/biometrics/liveness/sessions`, by the tenant's back end: a nonce to seal
/// into the packet, the keys, and a capture token that lets one browser submit this one
/// capture (and nothing else) until the session expires.
pub async fn create(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Value>, ApiError> {
    let ttl = chrono::Duration::from_std(state.config.session_ttl)
        .unwrap_or(chrono::Duration::minutes(5));
    let session = liveness_pipeline::sessions::create(&state.db, tenant, ttl)
        .await
        .map_err(ApiError::database)?;
    let capture_token = crate::auth::issue_capture(
        &state.config.jwt_keys,
        tenant,
        &session.nonce,
        session.expires_at,
    );
    Ok(Json(json!({
        "nonce": session.nonce,
        "expires_at": session.expires_at.to_rfc3339(),
        "keys": public_keys(&state),
        "capture_token": capture_token,
        "capture_token_expires_in": (session.expires_at - chrono::Utc::now()).num_seconds().max(0),
    })))
}

/// `GET /api/v3/biometrics/liveness/keys`: the keys; for a capture token also the nonce of
/// its session, so a page given only the token can seal.
pub async fn keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut body = json!({ "keys": public_keys(&state) });
    if let Caller::Capture { tenant, session } = &caller {
        let session = liveness_pipeline::sessions::get(&state.db, *tenant, session)
            .await
            .map_err(ApiError::database)?
            .ok_or(ApiError::TokenExpired)?;
        body["nonce"] = json!(session.nonce);
        body["expires_at"] = json!(session.expires_at.to_rfc3339());
    }
    Ok(Json(body))
}
