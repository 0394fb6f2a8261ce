//! Combining the capture assessment and the per-frame face analyses into one verdict.
//!
//! Every frame is judged on its own: the face probability is the *lowest* over the frames in
//! which a face was found, so one frame of someone or something else cannot hide behind live
//! ones. Valid only if the capture probability is 1 and that minimum reaches the tenant's
//! threshold. Otherwise, in this order: the first quality rejection of any frame (700-714,
//! frames in capture order), then a capture attack (715, naming the failed signal), then a
//! face attack (715).

use liveness_capture::Assessment;
use liveness_contract::RejectionCode;
use liveness_models::Analysis;
use liveness_pipeline::verdict::Verdict;
use serde_json::{json, Value};

pub fn decide(
    assessment: &Assessment,
    frames: &[Analysis],
    face_threshold: f64,
    model_versions: &Value,
) -> Verdict {
    let capture_probability = assessment.probability();
    let face_probability = frames
        .iter()
        .filter_map(|a| a.liveness.as_ref().map(|l| l.probability as f64))
        .reduce(f64::min);
    let quality = frames
        .iter()
        .filter_map(|a| a.rejection.as_ref())
        .find(|r| r.code != RejectionCode::AttackDetected);
    let failed_signal = assessment
        .first_failure()
        .map(|s| s.name.as_str().to_string());

    let (error_code, error_details) = if let Some(r) = quality {
        (
            Some(r.code),
            Some(json!({ "reason": r.reason, "detail": r.detail })),
        )
    } else if capture_probability < 1.0 {
        let details = json!({
            "capture_liveness": format!("For a positive result you must get 1, value achieved: {capture_probability:.1}."),
            "capture_signal": failed_signal,
        });
        (Some(RejectionCode::AttackDetected), Some(details))
    } else {
        match face_probability {
            Some(p) if p >= face_threshold => (None, None),
            Some(p) => (
                Some(RejectionCode::AttackDetected),
                Some(
                    json!({ "face_liveness": format!("For a positive result you must get at least {face_threshold}, value achieved: {p:.4}.") }),
                ),
            ),
            None => (
                Some(RejectionCode::FaceNotFound),
                Some(json!({ "reason": "faces_found", "detail": "no frame shows a face" })),
            ),
        }
    };
    let frames_json: Vec<Value> = frames
        .iter()
        .map(|a| {
            json!({
                "valid": a.valid(),
                "error_code": a.rejection.as_ref().map(|r| r.code.code()),
                "reason": a.rejection.as_ref().map(|r| r.reason.clone()),
                "width": a.width,
                "height": a.height,
                "faces": a.faces.len(),
                "face_probability": a.liveness.as_ref().map(|l| l.probability),
                "models": a.liveness.as_ref().map(|l| &l.models),
                "failed_gates": a.gates.iter().filter(|g| !g.passed).collect::<Vec<_>>(),
                "timings_ms": a.timings,
            })
        })
        .collect();
    Verdict {
        valid: error_code.is_none(),
        error_code,
        error_details,
        face_probability,
        capture_score: Some(assessment.score()),
        capture_probability: Some(capture_probability),
        failed_signal,
        capture_signals: json!(assessment.signals),
        frames: Value::Array(frames_json),
        model_versions: model_versions.clone(),
        timings_ms: json!({}),
        service_failure: false,
    }
}

/// A verdict for a capture the service could not judge (status `failed`).
pub fn service_failure(code: RejectionCode, reason: &str, model_versions: &Value) -> Verdict {
    Verdict {
        valid: false,
        error_code: Some(code),
        error_details: Some(json!({ "reason": reason })),
        face_probability: None,
        capture_score: None,
        capture_probability: None,
        failed_signal: None,
        capture_signals: json!([]),
        frames: json!([]),
        model_versions: model_versions.clone(),
        timings_ms: json!({}),
        service_failure: true,
    }
}
