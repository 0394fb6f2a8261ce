use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `api_response` of the contract: what a client sees when it asks for details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ApiResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_liveness: Option<FaceLiveness>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_liveness: Option<CaptureLiveness>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceLiveness {
    /// P(real) in [0, 1].
    pub probability: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CaptureLiveness {
    /// Unbounded; higher is more live. For calibration only.
    pub score: f64,
    /// 1 for a live capture, 0 for an attack.
    pub probability: f64,
}

/// A verdict as a client receives it: the synchronous answer, and the verdict part of a
/// lookup or a webhook event. Absent fields are left out, never `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictBody {
    pub valid: bool,
    /// Only when `details` was asked for, and only on a pass (a rejection carries it in
    /// `error_details`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_response: Option<ApiResponse>,
    /// 700-715, on a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
/// scores when `details` was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ErrorDetails {
    #[serde(flatten)]
    pub reasons: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_response: Option<ApiResponse>,
}
