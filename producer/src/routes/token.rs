//! `POST /api/v3/auth/token`: client credentials (JSON or form) for a short-lived JWT.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::Json;
use liveness_contract::api::{Credentials, Token};
use liveness_contract::ErrorBody;
use liveness_pipeline::db::tenants::{self, Tenant};
use std::net::{IpAddr, Ipv6Addr};

#[utoipa::path(post, path = "/api/v3/auth/token", tag = "auth",
    summary = "Exchange client credentials for a short-lived access token",
    request_body(content(
        (Credentials = "application/json"),
        (Credentials = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "A tenant token", body = Token),
        (status = 400, description = "No client_id and client_secret (invalid_credentials_body)", body = ErrorBody),
        (status = 401, description = "Unknown client or wrong secret (unauthorized)", body = ErrorBody)))]
pub async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Result<Json<Token>, ApiError> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let credentials = crate::form::credentials(content_type, &body)?;
    // No client id we issue has a NUL (PostgreSQL text cannot even hold one).
    if credentials.client_id.contains('\0') || credentials.client_id.len() > 256 {
        return Err(ApiError::Unauthorized("unknown client or wrong secret"));
    }
    let peer =
        crate::serve::peer(&extensions).map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |p| p.ip());
    state
        .shedding
        .admit_token_request(peer, &credentials.client_id)?;
    let tenant = authenticate(&state, &credentials.client_id, credentials.client_secret).await?;
    let ttl = state.config.jwt_ttl.as_secs() as i64;
    Ok(Json(Token {
        access_token: crate::auth::issue(&state.config.jwt_keys, tenant.id, ttl),
        token_type: "Bearer".into(),
        expires_in: ttl,
    }))
}

/// The enabled tenant these credentials name. An unknown client id costs the same Argon2
/// verification as a known one (against a hash of a random secret with the same parameters),
/// so the answer's delay does not tell which client ids exist; and verifications run a few at
/// a time, so a flood of token requests cannot take all the memory and cores.
async fn authenticate(
    state: &AppState,
    client_id: &str,
    secret: String,
) -> Result<Tenant, ApiError> {
    let refused = || ApiError::Unauthorized("unknown client or wrong secret");
    let stored = tenants::secret_hash(&state.db, client_id)
        .await
        .map_err(ApiError::database)?;
    let _slot = state.shedding.hashing_slot().await?;
    let (id, stored, client) = match stored {
        Some(stored) => (Some(stored.id), stored, "known"),
        None => (
            None,
            tenants::StoredSecret {
                id: 0,
                hash: state.unknown_client_hash.to_string(),
                previous_hash: None,
            },
            "unknown",
        ),
    };
    metrics::counter!("auth_secret_verifications_total", "client" => client).increment(1);
    let matches = tokio::task::spawn_blocking(move || stored.verify(&secret))
        .await
        .map_err(|_| ApiError::Internal)?;
    match id {
        Some(id) if matches => tenants::get(&state.db, id)
            .await
            .map_err(ApiError::database)?
            .ok_or_else(refused),
        _ => Err(refused()),
    }
}
