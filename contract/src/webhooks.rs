//! The webhook management API's shapes: endpoints, messages and their delivery attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An endpoint as listed: never its secrets, which are shown once, when made.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// While set and in the future, the secret before the last rotation still signs.
    pub previous_expires_at: Option<DateTime<Utc>>,
}

/// An endpoint as created: the only answer that holds its signing secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_...`; shown once.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EndpointList {
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    /// The `webhook-id` header.
    pub id: String,
    pub transaction_id: i64,
    pub endpoint_id: i64,
    pub url: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub attempted_at: DateTime<Utc>,
    pub url: String,
    pub status_code: Option<i16>,
    pub latency_ms: f64,
    pub error: Option<String>,
    /// `delivered`, `retry`, `failed` or `endpoint_disabled`.
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageList {
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptList {
    /// The webhook-id.
    pub id: String,
    pub attempts: Vec<AttemptView>,
}
