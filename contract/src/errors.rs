//! Request errors: the `{"error": CODE, "message": ...}` answers, each code with the one HTTP
//! status it is sent with. The OpenAPI document and the README's table are checked against
//! this list, so a code cannot be answered without being documented.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A request error's stable code. The status is a property of the code, so handlers name the
/// code and the status follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MissingFile,
    InvalidField,
    InvalidMultipart,
    InvalidJson,
    InvalidPacket,
    UnknownKey,
    InvalidOrigins,
    InvalidHosts,
    InvalidHeader,
    InvalidQuery,
    InvalidCredentialsBody,
    Unauthorized,
    TokenExpired,
    InsufficientScope,
    OriginNotAllowed,
    NotFound,
    NoSelfie,
    RequestTimeout,
    EndpointExists,
    EndpointDisabled,
    NotFinished,
    CaptureAlreadySubmitted,
    CapturePurged,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyKeyReused,
    WebhookUrlRefused,
    WebhookHostNotAllowed,
    WebhookNotConfigured,
    RateLimited,
    InternalError,
    ServiceUnavailable,
    Overloaded,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 33] = [
        Self::MissingFile,
        Self::InvalidField,
        Self::InvalidMultipart,
        Self::InvalidJson,
        Self::InvalidPacket,
        Self::UnknownKey,
        Self::InvalidOrigins,
        Self::InvalidHosts,
        Self::InvalidHeader,
        Self::InvalidQuery,
        Self::InvalidCredentialsBody,
        Self::Unauthorized,
        Self::TokenExpired,
        Self::InsufficientScope,
        Self::OriginNotAllowed,
        Self::NotFound,
        Self::NoSelfie,
        Self::RequestTimeout,
        Self::EndpointExists,
        Self::EndpointDisabled,
        Self::NotFinished,
        Self::CaptureAlreadySubmitted,
        Self::CapturePurged,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::IdempotencyKeyReused,
        Self::WebhookUrlRefused,
        Self::WebhookHostNotAllowed,
        Self::WebhookNotConfigured,
        Self::RateLimited,
        Self::InternalError,
        Self::ServiceUnavailable,
        Self::Overloaded,
    ];

    /// The code as it appears in the `error` field.
    pub fn as_str(self) -> &'static str {
        self.describe().0
    }

    /// The HTTP status this code is always sent with.
    pub fn status(self) -> u16 {
        self.describe().1
    }

    /// When a client gets it, in a few words.
    pub fn meaning(self) -> &'static str {
        self.describe().2
    }

    fn describe(self) -> (&'static str, u16, &'static str) {
        match self {
            Self::MissingFile => ("missing_file", 400, "no `encrypted_file`, or an empty one"),
            Self::InvalidField => ("invalid_field", 400, "a form field that is not text, too long, or not a boolean where one is expected"),
            Self::InvalidMultipart => ("invalid_multipart", 400, "a multipart body that cannot be read"),
            Self::InvalidJson => ("invalid_json", 400, "a JSON body that is malformed or of the wrong shape"),
            Self::InvalidPacket => ("invalid_packet", 400, "not a capture packet: bad magic, version or header; nothing stored"),
            Self::UnknownKey => ("unknown_key", 400, "sealed to a key id this service never issued, or one retired past its grace period"),
            Self::InvalidOrigins => ("invalid_origins", 400, "an origin that cannot be allowed (not `https://host[:port]`, or `http` off loopback)"),
            Self::InvalidHosts => ("invalid_hosts", 400, "allowed hosts that are not up to 64 bare host names"),
            Self::InvalidHeader => ("invalid_header", 400, "a malformed request header (`Idempotency-Key`)"),
            Self::InvalidQuery => ("invalid_query", 400, "a malformed query string"),
            Self::InvalidCredentialsBody => ("invalid_credentials_body", 400, "a token request without `client_id` and `client_secret`"),
            Self::Unauthorized => ("unauthorized", 401, "no token, a bad one, or unknown client credentials"),
            Self::TokenExpired => ("token_expired", 401, "the token has expired (or its key was retired): request a new one"),
            Self::InsufficientScope => ("insufficient_scope", 403, "a capture token on a route for the tenant's own token, or setting `webhook_url`"),
            Self::OriginNotAllowed => ("origin_not_allowed", 403, "a web origin the tenant does not allow (CORS)"),
            Self::NotFound => ("not_found", 404, "no such resource for this client"),
            Self::NoSelfie => ("no_selfie", 404, "the capture has no selfie (its packet did not open)"),
            Self::RequestTimeout => ("request_timeout", 408, "the request, its upload included, took longer than allowed"),
            Self::EndpointExists => ("endpoint_exists", 409, "this webhook endpoint is already registered"),
            Self::EndpointDisabled => ("endpoint_disabled", 409, "the message's endpoint is disabled"),
            Self::NotFinished => ("not_finished", 409, "the capture is still being judged"),
            Self::CaptureAlreadySubmitted => ("capture_already_submitted", 409, "a capture token's session already has its capture"),
            Self::CapturePurged => ("capture_purged", 410, "the capture was deleted (retention or on request)"),
            Self::PayloadTooLarge => ("payload_too_large", 413, "a body over `MAX_BODY_BYTES`"),
            Self::UnsupportedMediaType => ("unsupported_media_type", 415, "a body of another content type than the route takes"),
            Self::IdempotencyKeyReused => ("idempotency_key_reused", 422, "an `Idempotency-Key` used before for a different request"),
            Self::WebhookUrlRefused => ("webhook_url_refused", 422, "a webhook URL that is malformed or points at a refused address"),
            Self::WebhookHostNotAllowed => ("webhook_host_not_allowed", 422, "a per-request `webhook_url` whose host the tenant has not allowed"),
            Self::WebhookNotConfigured => ("webhook_not_configured", 422, "a per-request `webhook_url` while the tenant has no enabled endpoint (whose secret signs)"),
            Self::RateLimited => ("rate_limited", 429, "over the client's rate; retry after `Retry-After` seconds"),
            Self::InternalError => ("internal_error", 500, "a fault of the service; it is logged"),
            Self::ServiceUnavailable => ("service_unavailable", 503, "a dependency is down: nothing was stored; retry after `Retry-After` seconds"),
            Self::Overloaded => ("overloaded", 503, "this instance is at capacity; retry after `Retry-After` seconds"),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every request error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorCode,
    /// For a person reading logs; clients match on `error`.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_and_serializes_as_its_name() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }
}
