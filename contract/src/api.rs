//! Request and response bodies of the HTTP API other than verdicts: what the handlers take
//! and return, and what the OpenAPI document describes.

use crate::{ApiResponse, ErrorDetails, VerdictBody};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v3/auth/token`, as JSON or as a URL-encoded form.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds.
    pub expires_in: i64,
}

/// A capture public key to seal packets to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicKey {
    pub key_id: String,
    /// X25519, base64url.
    pub public_key: String,
    /// The HPKE suite (docs/capture-packet.md).
    pub suite: String,
}

/// A capture session: the nonce to seal into the packet, the keys, and the capture token a
/// browser gets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub nonce: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The first is the one to use (newest activation).
    pub keys: Vec<PublicKey>,
    /// For the browser: reads the keys and submits this session's one capture, nothing
    /// else; expires with the session.
    pub capture_token: String,
    /// Seconds.
    pub capture_token_expires_in: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Keys {
    /// The first is the one to use (newest activation).
    pub keys: Vec<PublicKey>,
    /// Capture token only: its session's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Capture token only: when its session ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// The multipart form of a submission (described for clients; read field by field).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SubmissionForm {
    /// The capture packet (docs/capture-packet.md).
    #[schema(value_type = String, format = Binary)]
    pub encrypted_file: Vec<u8>,
    /// Optional, for compatibility: must be byte for byte the packet's middle frame
    /// (index floor(n/2)); not stored.
    #[schema(value_type = Option<String>, format = Binary)]
    pub selfie: Option<Vec<u8>>,
    /// Scores in the answer (`api_response`).
    pub details: Option<bool>,
    /// The transaction id in the answer.
    pub return_id: Option<bool>,
    /// Answer 202 at once instead of waiting (as `Prefer: respond-async`).
    #[schema(rename = "async")]
    pub respond_async: Option<bool>,
    #[schema(max_length = 256)]
    pub citizen_id: Option<String>,
    #[schema(max_length = 256)]
    pub device: Option<String>,
    /// Send this transaction's events here instead of the tenant's endpoints (its host must
    /// be allowed).
    #[schema(max_length = 2048)]
    pub webhook_url: Option<String>,
}

/// Where a transaction is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    Queued,
    Processing,
    Done,
    Failed,
}

/// 202: the transaction to look up later (also in `Location`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    pub id: i64,
    #[schema(value_type = TransactionStatus)]
    pub status: String,
}

/// A transaction looked up by id: its state and, once judged, its verdict in full (the
/// fields of [`VerdictBody`], with details).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Lookup {
    pub id: i64,
    #[schema(value_type = TransactionStatus)]
    pub status: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Once judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_response: Option<ApiResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 700, maximum = 715)]
    pub error_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_details: Option<ErrorDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub capture_purged_at: Option<String>,
    /// Why the capture is gone, after a purge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Lookup {
    /// The lookup of a transaction in `status`, with its verdict once there is one.
    pub fn new(id: i64, status: &str, created_at: String, verdict: Option<VerdictBody>) -> Self {
        let (valid, api_response, error_code, message, error_details) = match verdict {
            Some(v) => (
                Some(v.valid),
                v.api_response,
                v.error_code,
                v.message,
                v.error_details,
            ),
            None => Default::default(),
        };
        Self {
            id,
            status: status.to_owned(),
            created_at,
            valid,
            api_response,
            error_code,
            message,
            error_details,
            capture_purged_at: None,
            note: None,
        }
    }
}

/// The answer to deleting a capture.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Purged {
    pub id: i64,
    #[schema(format = DateTime)]
    pub capture_purged_at: Option<String>,
}

/// Web origins whose pages may use the tenant's capture tokens (CORS).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Origins {
    /// `scheme://host[:port]`: https, or http on loopback; at most 32.
    #[schema(max_items = 32)]
    pub origins: Vec<String>,
}

/// Hosts a per-request `webhook_url` may name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Hosts {
    /// Bare host names (no scheme, port or path); at most 64.
    #[schema(max_items = 64)]
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewEndpoint {
    pub url: String,
}

/// A new signing secret; the previous one keeps signing until `previous_expires_at`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RotatedSecret {
    pub id: i64,
    /// `whsec_...`; shown once.
    pub secret: String,
    #[schema(format = DateTime)]
    pub previous_expires_at: String,
}

/// A message scheduled for delivery again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Redelivery {
    /// The webhook-id.
    pub id: String,
    /// Always `pending`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Whether each dependency answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub database: bool,
    pub broker: bool,
    pub storage: bool,
}
