//! Request bodies at the edge: the submission's multipart fields (read with limits) and the
//! token request's credentials. Kept apart from the routes so that they can be fuzzed on
//! their own (fuzz/fuzz_targets/request_bodies.rs).

use crate::error::ApiError;
use axum::extract::multipart::MultipartError;
use axum::extract::Multipart;
use axum::http::StatusCode;
use liveness_contract::ErrorCode;

/// The fields of the seed's request; anything else in the form is ignored.
#[derive(Default)]
pub struct Submission {
    pub encrypted_file: Option<Vec<u8>>,
    pub selfie: Option<Vec<u8>>,
    pub details: bool,
    pub return_id: bool,
    pub respond_async: bool,
    pub citizen_id: Option<String>,
    pub device: Option<String>,
    pub webhook_url: Option<String>,
}

const MAX_TEXT_FIELD: usize = 256;
const MAX_URL_FIELD: usize = 2048;

fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(ApiError::refused(
            ErrorCode::InvalidField,
            format!("{name} must be true or false"),
        )),
    }
}

fn multipart_error(e: MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge { limit }
    } else {
        ApiError::refused(
            ErrorCode::InvalidMultipart,
            format!("the form cannot be read: {e}"),
        )
    }
}

/// Reads the form, enforcing the size limit and field rules; every failure is a 4xx.
pub async fn read_form(mut form: Multipart, limit: usize) -> Result<Submission, ApiError> {
    let mut s = Submission::default();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        let text = || -> Result<String, ApiError> {
            let t = std::str::from_utf8(&bytes).map_err(|_| {
                ApiError::refused(ErrorCode::InvalidField, format!("{name} must be text"))
            })?;
            if t.contains('\0') {
                return Err(ApiError::refused(
                    ErrorCode::InvalidField,
                    format!("{name} must not contain NUL characters"),
                ));
            }
            let limit = if name == "webhook_url" {
                MAX_URL_FIELD
            } else {
                MAX_TEXT_FIELD
            };
            if t.len() > limit {
                return Err(ApiError::refused(
                    ErrorCode::InvalidField,
                    format!("{name} is longer than {limit} bytes"),
                ));
            }
            Ok(t.to_string())
        };
        match name.as_str() {
            "encrypted_file" => s.encrypted_file = Some(bytes.to_vec()),
            "selfie" => s.selfie = Some(bytes.to_vec()).filter(|b| !b.is_empty()),
            "details" => s.details = parse_bool("details", &text()?)?,
            "return_id" => s.return_id = parse_bool("return_id", &text()?)?,
            "async" => s.respond_async = parse_bool("async", &text()?)?,
            "citizen_id" => s.citizen_id = Some(text()?).filter(|t| !t.is_empty()),
            "device" => s.device = Some(text()?).filter(|t| !t.is_empty()),
            "webhook_url" => s.webhook_url = Some(text()?).filter(|t| !t.is_empty()),
            _ => {}
        }
    }
    Ok(s)
}

pub use liveness_contract::api::Credentials;

/// The token request's body, as JSON or as a URL-encoded form.
pub fn credentials(content_type: &str, body: &[u8]) -> Result<Credentials, ApiError> {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(body).map_err(|_| {
            ApiError::refused(
                ErrorCode::InvalidCredentialsBody,
                "client_id and client_secret are required",
            )
        })
    } else {
        serde_json::from_slice(body).map_err(|_| {
            ApiError::refused(
                ErrorCode::InvalidCredentialsBody,
                "send {\"client_id\": ..., \"client_secret\": ...}",
            )
        })
    }
}
