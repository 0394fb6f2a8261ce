//! Short-lived HS256 access tokens, and the extractors that demand them.
//!
//! Two scopes. A *tenant* token (from client credentials) is the tenant's back end: every
//! route. A *capture* token is minted with a capture session for one browser: it may read
//! the capture keys and submit that session's one capture, and expires with the session.

use crate::error::ApiError;
use crate::jwt_keys::{JwtKeys, KeyRefusal};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use liveness_contract::ErrorCode;
use serde::{Deserialize, Serialize};

const ISSUER: &str = "liveness-producer";

const CAPTURE_SCOPE: &str = "capture";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// Tenant id.
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
    /// Absent on tenant tokens (and on every token issued before scopes existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// The capture session (its nonce) of a capture token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Tenant(i64),
    /// A browser holding a capture token for one session of this tenant.
    Capture {
        tenant: i64,
        session: String,
    },
}

impl Caller {
    pub fn tenant(&self) -> i64 {
        match self {
            Self::Tenant(id) | Self::Capture { tenant: id, .. } => *id,
        }
    }
}

pub fn issue(keys: &JwtKeys, tenant_id: i64, ttl_secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    sign(
        keys,
        &Claims {
            sub: tenant_id.to_string(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + ttl_secs,
            scope: None,
            sid: None,
        },
    )
}

/// A capture token for one session, valid until the session expires.
pub fn issue_capture(
    keys: &JwtKeys,
    tenant_id: i64,
    session: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> String {
    sign(
        keys,
        &Claims {
            sub: tenant_id.to_string(),
            iss: ISSUER.into(),
            iat: chrono::Utc::now().timestamp(),
            exp: expires_at.timestamp(),
            scope: Some(CAPTURE_SCOPE.into()),
            sid: Some(session.into()),
        },
    )
}

/// Signed with the current key, its id in the header.
fn sign(keys: &JwtKeys, claims: &Claims) -> String {
    let (kid, secret) = keys.signing();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    encode(&header, claims, &EncodingKey::from_secret(secret)).expect("HS256 signing cannot fail")
}

pub fn verify(keys: &JwtKeys, token: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::Unauthorized("the access token is invalid");
    // The header is read before the signature is checked only to pick the key; the
    // algorithm stays fixed to HS256 whatever the header says.
    let header = decode_header(token).map_err(|_| invalid())?;
    let secret = keys
        .checking(header.kid.as_deref(), chrono::Utc::now())
        .map_err(|refusal| match refusal {
            KeyRefusal::Unknown => invalid(),
            KeyRefusal::Retired => ApiError::Unauthorized(
                "the access token is signed with a retired key: request a new token",
            ),
        })?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.leeway = 0;
    let data = decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation).map_err(
        |e| match e.kind() {
            ErrorKind::ExpiredSignature => ApiError::TokenExpired,
            _ => invalid(),
        },
    )?;
    let tenant = data.claims.sub.parse().map_err(|_| invalid())?;
    match (data.claims.scope.as_deref(), data.claims.sid) {
        (None, None) => Ok(Caller::Tenant(tenant)),
        (Some(CAPTURE_SCOPE), Some(session)) => Ok(Caller::Capture { tenant, session }),
        _ => Err(invalid()),
    }
}

/// The bearer token of a request, if it has one.
fn bearer(parts: &Parts) -> Option<&str> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token =
            bearer(parts).ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
        let caller = verify(&state.config.jwt_keys, token)?;
        let id = caller.tenant();
        let disabled = match state.disabled_tenants.is_disabled(id) {
            Some(known) => known,
            None => liveness_pipeline::db::tenants::get(&state.db, id)
                .await
                .map_err(ApiError::database)?
                .is_none(),
        };
        if disabled {
            return Err(ApiError::Unauthorized("the tenant is disabled"));
        }
        tracing::Span::current().record("tenant_id", id);
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The tenant's back end: a tenant token. A capture token gets 403 `insufficient_scope`.
#[derive(Debug, Clone, Copy)]
pub struct TenantId(pub i64);

impl FromRequestParts<AppState> for TenantId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Tenant(id) => Ok(TenantId(id)),
            Caller::Capture { .. } => Err(ApiError::Refused {
                code: ErrorCode::InsufficientScope,
                message: "a capture token may only read the capture keys and submit its \
                          session's capture; this route needs the tenant's own token"
                    .into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::single("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn tokens_verify_and_expire() {
        let secret = &keys();
        assert_eq!(
            verify(secret, &issue(secret, 42, 60)).unwrap(),
            Caller::Tenant(42)
        );
        let in_a_minute = chrono::Utc::now() + chrono::Duration::seconds(60);
        assert_eq!(
            verify(secret, &issue_capture(secret, 42, "n1", in_a_minute)).unwrap(),
            Caller::Capture {
                tenant: 42,
                session: "n1".into()
            }
        );
        let a_second_ago = chrono::Utc::now() - chrono::Duration::seconds(1);
        assert!(matches!(
            verify(secret, &issue_capture(secret, 42, "n1", a_second_ago)),
            Err(ApiError::TokenExpired)
        ));
        assert!(matches!(
            verify(secret, &issue(secret, 42, -5)),
            Err(ApiError::TokenExpired)
        ));
        assert!(matches!(
            verify(
                &JwtKeys::single("another-secret-another-secret-xx").unwrap(),
                &issue(secret, 42, 60)
            ),
            Err(ApiError::Unauthorized(_))
        ));
        // alg "none": header {"alg":"none"}, no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiIsImlzcyI6ImxpdmVuZXNzLXByb2R1Y2VyIiwiaWF0IjoxLCJleHAiOjk5OTk5OTk5OTl9.";
        assert!(matches!(
            verify(secret, none),
            Err(ApiError::Unauthorized(_))
        ));
    }
}
