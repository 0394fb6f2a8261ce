//! Capture sessions (a nonce and a capture token for one browser capture) and the server's
//! public keys.

use crate::auth::{Caller, TenantId};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use liveness_contract::api::{Keys, PublicKey, Session};

/// The keys clients may seal to now, the one to use first.
fn public_keys(state: &AppState) -> Vec<PublicKey> {
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    state
        .config
        .capture_keys
        .offered(now_ms)
        .iter()
        .map(|k| PublicKey {
            key_id: k.key_id.as_str().to_owned(),
            public_key: k.to_base64(),
            suite: "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-128-GCM".into(),
        })
        .collect()
}

/// `POST /api/v3/biometrics/liveness/sessions`, by the tenant's back end: a nonce to seal
/// into the packet, the keys, and a capture token that lets one browser submit this one
/// capture (and nothing else) until the session expires.
#[utoipa::path(post, path = "/api/v3/biometrics/liveness/sessions", tag = "capture",
    summary = "Start a capture session: a single-use nonce, the keys to seal to and a capture token for the browser",
    security(("bearer" = [])),
    responses((status = 200, description = "The session", body = Session)))]
pub async fn create(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Session>, ApiError> {
    let ttl = chrono::Duration::from_std(state.config.session_ttl)
        .unwrap_or(chrono::Duration::minutes(5));
    let session = liveness_pipeline::db::sessions::create(&state.db, tenant, ttl)
        .await
        .map_err(ApiError::database)?;
    let capture_token = crate::auth::issue_capture(
        &state.config.jwt_keys,
        tenant,
        &session.nonce,
        session.expires_at,
    );
    Ok(Json(Session {
        keys: public_keys(&state),
        capture_token,
        capture_token_expires_in: (session.expires_at - chrono::Utc::now())
            .num_seconds()
            .max(0),
        expires_at: session.expires_at.to_rfc3339(),
        nonce: session.nonce,
    }))
}

/// `GET /api/v3/biometrics/liveness/keys`: the keys; for a capture token also the nonce of
/// its session, so a page given only the token can seal.
#[utoipa::path(get, path = "/api/v3/biometrics/liveness/keys", tag = "capture",
    summary = "The capture public keys to seal to, the one to use first; with a capture token also its session's nonce",
    security(("bearer" = [])),
    responses((status = 200, description = "The keys", body = Keys)))]
pub async fn keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Keys>, ApiError> {
    let mut body = Keys {
        keys: public_keys(&state),
        nonce: None,
        expires_at: None,
    };
    if let Caller::Capture { tenant, session } = &caller {
        let session = liveness_pipeline::db::sessions::get(&state.db, *tenant, session)
            .await
            .map_err(ApiError::database)?
            .ok_or(ApiError::TokenExpired)?;
        body.expires_at = Some(session.expires_at.to_rfc3339());
        body.nonce = Some(session.nonce);
    }
    Ok(Json(body))
}
