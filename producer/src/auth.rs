//! Short-lived HS256 access tokens for tenants, and the extractor that demands one.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "liveness-producer";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// Tenant id.
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
}

pub fn issue(secret: &str, tenant_id: i64, ttl_secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: tenant_id.to_string(),
        iss: ISSUER.into(),
        iat: now,
        exp: now + ttl_secs,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing cannot fail")
}

pub fn verify(secret: &str, token: &str) -> Result<i64, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.leeway = 0;
    let data = decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::ExpiredSignature => ApiError::TokenExpired,
        _ => ApiError::Unauthorized("the access token is invalid"),
    })?;
    data.claims
        .sub
        .parse()
        .map_err(|_| ApiError::Unauthorized("the access token is invalid"))
}

/// The authenticated tenant of a request.
#[derive(Debug, Clone, Copy)]
pub struct TenantId(pub i64);

impl FromRequestParts<AppState> for TenantId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
        let id = verify(&state.config.jwt_secret, token.trim())?;
        let disabled = match state.disabled_tenants.is_disabled(id) {
            Some(known) => known,
            None => liveness_pipeline::tenants::get(&state.db, id)
                .await
                .map_err(ApiError::database)?
                .is_none(),
        };
        if disabled {
            return Err(ApiError::Unauthorized("the tenant is disabled"));
        }
        tracing::Span::current().record("tenant_id", id);
        Ok(TenantId(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_verify_and_expire() {
        assert_eq!(verify(SECRET, &issue(SECRET, 42, 60)).unwrap(), 42);
        assert!(matches!(
            verify(SECRET, &issue(SECRET, 42, -5)),
            Err(ApiError::TokenExpired)
        ));
        assert!(matches!(
            verify("another-secret-another-secret-xx", &issue(SECRET, 42, 60)),
            Err(ApiError::Unauthorized(_))
        ));
        // alg "none": header {"alg":"none"}, no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiIsImlzcyI6ImxpdmVuZXNzLXByb2R1Y2VyIiwiaWF0IjoxLCJleHAiOjk5OTk5OTk5OTl9.";
        assert!(matches!(
            verify(SECRET, none),
            Err(ApiError::Unauthorized(_))
        ));
    }
}
