use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// `api_response` of the contract: what a client sees when it asks for details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, ToSchema)]
pub struct ApiResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_liveness: Option<FaceLiveness>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_liveness: Option<CaptureLiveness>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FaceLiveness {
    /// P(real) in [0, 1].
    #[schema(minimum = 0, maximum = 1)]
    pub probability: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaptureLiveness {
    /// Unbounded; higher is more live. For calibration only.
    pub score: f64,
    /// 1 for a live capture, 0 for an attack.
    #[schema(minimum = 0, maximum = 1)]
    pub probability: f64,
}

/// A verdict as a client receives it: the synchronous answer, and the verdict part of a
/// lookup or a webhook event. Absent fields are left out, never `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VerdictBody {
    pub valid: bool,
    /// Only when `details` was asked for, and only on a pass (a rejection carries it in
    /// `error_details`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_response: Option<ApiResponse>,
    /// 700-715, on a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 700, maximum = 715)]
    pub error_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_details: Option<ErrorDetails>,
    /// Only when `return_id` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

/// Why a verdict is a rejection: one sentence per failed check, keyed by the check
/// (`face_liveness`, `capture_liveness`, `capture_signal`, `face_quality`, ...), and the
/// scores when `details` was asked for. A capture token's verdict holds only `problem`
/// (`face_quality`, `attack` or `service`) and `advice` for the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, ToSchema)]
pub struct ErrorDetails {
    #[serde(flatten)]
    #[schema(ignore)]
    pub reasons: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_response: Option<ApiResponse>,
}
