//! Every failure of a request, mapped once to an HTTP status and a stable code. Verdicts
//! (700-715) are not errors: they are 200 answers with `valid: false`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("the access token has expired; request a new one")]
    TokenExpired,
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The resource exists but has nothing to give (404 with its own code).
    #[error("{message}")]
    Absent { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden {
        code: &'static str,
        message: &'static str,
    },
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("send {0}")]
    UnsupportedMediaType(&'static str),
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyConflict,
    #[error("{component} is unavailable; nothing was stored, retry later")]
    Unavailable { component: &'static str },
    /// Refused before any work: this instance is serving all it takes on (requests in
    /// flight, or password verifications).
    #[error("the service is at capacity; retry in {retry_after} s")]
    Overloaded { retry_after: u64 },
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("the request did not complete within {0} s")]
    RequestTimeout(u64),
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Absent { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Self::Gone { code, .. } => (StatusCode::GONE, code),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::IdempotencyConflict => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            Self::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Self::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// Seconds a client should wait before retrying, for the answers that have one.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Unavailable { .. } => Some(5),
            Self::Overloaded { retry_after } | Self::RateLimited { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// A JSON body that is missing, malformed or of the wrong shape.
    pub fn json(rejection: axum::extract::rejection::JsonRejection) -> Self {
        if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            Self::UnsupportedMediaType("application/json")
        } else {
            Self::bad_request("invalid_json", rejection.body_text())
        }
    }

    pub fn database(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        if liveness_pipeline::db::is_transient(&e) {
            Self::Unavailable {
                component: "the database",
            }
        } else {
            Self::Internal
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut response = (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", "Bearer".parse().expect("static header"));
        }
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert("retry-after", seconds.max(1).into());
        }
        response
    }
}
