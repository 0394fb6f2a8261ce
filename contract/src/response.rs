use serde::{Deserialize, Serialize};

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
