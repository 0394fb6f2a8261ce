//! Every failure of a request, mapped once to an HTTP status and a stable code. Verdicts
//! (700-715) are not errors: they are 200 answers with `valid: false`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use liveness_contract::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("the access token has expired; request a new one")]
    TokenExpired,
    /// A refusal whose code says it all (its status follows from the code).
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error("no such {0}")]
    NotFound(&'static str),
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
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code().status()).expect("error codes carry valid statuses")
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::Refused { code, .. } => *code,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::TooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::IdempotencyConflict => ErrorCode::IdempotencyKeyReused,
            Self::Unavailable { .. } => ErrorCode::ServiceUnavailable,
            Self::Overloaded { .. } => ErrorCode::Overloaded,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::RequestTimeout(_) => ErrorCode::RequestTimeout,
            Self::Internal => ErrorCode::InternalError,
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

    /// A JSON body that is missing, malformed or of the wrong shape.
    pub fn json(rejection: axum::extract::rejection::JsonRejection) -> Self {
        if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            Self::UnsupportedMediaType("application/json")
        } else {
            Self::refused(ErrorCode::InvalidJson, rejection.body_text())
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
        let status = self.status();
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
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
