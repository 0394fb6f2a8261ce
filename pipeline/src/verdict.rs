//! A verdict as the worker decides it, as the database stores it, and as clients see it in
//! the contract's shapes.

use chrono::{DateTime, Utc};
use liveness_contract::api::Lookup;
use liveness_contract::{
    ApiResponse, CaptureLiveness, ErrorDetails, FaceLiveness, RejectionCode, VerdictBody,
};
use serde_json::{json, Map, Value};

/// What the worker writes. `error_details` holds the client-facing reason; the capture
/// signals and per-frame results are server-side only.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub valid: bool,
    pub error_code: Option<RejectionCode>,
    pub error_details: Option<Value>,
    pub face_probability: Option<f64>,
    pub capture_score: Option<f64>,
    pub capture_probability: Option<f64>,
    pub failed_signal: Option<String>,
    pub capture_signals: Value,
    pub frames: Value,
    pub model_versions: Value,
    pub timings_ms: Value,
    /// The service could not judge the capture (709/711/712): status `failed`, not `done`.
    pub service_failure: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VerdictRow {
    pub valid: bool,
    pub error_code: Option<i16>,
    pub error_details: Option<Value>,
    pub face_probability: Option<f64>,
    pub capture_score: Option<f64>,
    pub capture_probability: Option<f64>,
}

/// Decimal places of scores and probabilities in responses and webhook events, as in the
/// Liveness Plus examples (`0.9859461`); the database keeps full precision.
pub const RESPONSE_DECIMALS: i32 = 7;

/// `value` rounded to [`RESPONSE_DECIMALS`], so that a client sees `1.2`, never
/// `1.2000000000000002`.
pub fn for_response(value: f64) -> f64 {
    let scale = 10f64.powi(RESPONSE_DECIMALS);
    (value * scale).round() / scale
}

/// The seed's shapes: `valid`; `api_response` only with `details`; `id` only with
/// `return_id`; on rejection `error_code`, `message` and `error_details`, the latter carrying
/// `api_response` when details were asked for.
pub fn verdict_body(row: &VerdictRow, id: i64, details: bool, return_id: bool) -> VerdictBody {
    let api = ApiResponse {
        face_liveness: row.face_probability.map(|p| FaceLiveness {
            probability: for_response(p),
        }),
        capture_liveness: row.capture_score.zip(row.capture_probability).map(
            |(score, probability)| CaptureLiveness {
                score: for_response(score),
                probability: for_response(probability),
            },
        ),
    };
    let code = row
        .error_code
        .and_then(|c| RejectionCode::try_from(c as u16).ok());
    let mut body = VerdictBody {
        valid: row.valid,
        api_response: None,
        error_code: None,
        message: None,
        error_details: None,
        id: return_id.then_some(id),
    };
    match code {
        None => body.api_response = details.then_some(api),
        Some(code) => {
            body.error_code = Some(code.code());
            body.message = Some(code.message().to_string());
            body.error_details = Some(ErrorDetails {
                reasons: match &row.error_details {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                },
                api_response: details.then_some(api),
            });
        }
    }
    body
}

/// The verdict as a browser holding a capture token sees it: the same shape, but the person
/// (or attacker) in front of the camera learns *whether*, never *by how much* or *which
/// check*: scores become the outcome (1 reached the bar, 0 did not) and `error_details` says
/// only the kind of problem, in words for the user. The tenant's lookup and webhooks keep
/// the full breakdown.
pub fn render_for_browser(
    row: &VerdictRow,
    id: i64,
    details: bool,
    return_id: bool,
    face_threshold: f64,
) -> VerdictBody {
    let outcome = |passed: bool| if passed { 1.0 } else { 0.0 };
    let coarse = VerdictRow {
        valid: row.valid,
        error_code: row.error_code,
        error_details: None,
        face_probability: row.face_probability.map(|p| outcome(p >= face_threshold)),
        capture_score: row.capture_probability.map(|p| outcome(p >= 1.0)),
        capture_probability: row.capture_probability.map(|p| outcome(p >= 1.0)),
    };
    let mut body = verdict_body(&coarse, id, details, return_id);
    if let (Some(details), Some(code)) = (
        body.error_details.as_mut(),
        row.error_code
            .and_then(|c| RejectionCode::try_from(c as u16).ok()),
    ) {
        details
            .reasons
            .insert("problem".into(), json!(code.problem()));
        details
            .reasons
            .insert("advice".into(), json!(code.advice()));
    }
    body
}

impl From<&Verdict> for VerdictRow {
    fn from(v: &Verdict) -> Self {
        Self {
            valid: v.valid,
            error_code: v.error_code.map(|c| c.code() as i16),
            error_details: v.error_details.clone(),
            face_probability: v.face_probability,
            capture_score: v.capture_score,
            capture_probability: v.capture_probability,
        }
    }
}

/// What a lookup by id answers (and what a webhook event carries as `data`): the verdict in
/// full shape when there is one, plus status, submission time and, after a purge, when the
/// capture was deleted.
pub fn lookup_body(
    verdict: Option<&VerdictRow>,
    id: i64,
    status: &str,
    created_at: DateTime<Utc>,
    purged_at: Option<DateTime<Utc>>,
) -> Lookup {
    let mut lookup = Lookup::new(
        id,
        status,
        created_at.to_rfc3339(),
        verdict.map(|v| verdict_body(v, id, true, false)),
    );
    if let Some(at) = purged_at {
        lookup.capture_purged_at = Some(at.to_rfc3339());
        lookup.note =
            Some("the capture was deleted (retention or on request); the verdict is kept".into());
    }
    lookup
}

/// A webhook event body (Standard Webhooks' recommended `type`/`timestamp`/`data` shape).
pub fn event_body(event_type: &str, data: impl serde::Serialize) -> String {
    json!({
        "type": event_type,
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(row: &VerdictRow, id: i64, details: bool, return_id: bool) -> Value {
        serde_json::to_value(verdict_body(row, id, details, return_id)).unwrap()
    }

    fn for_browser(row: &VerdictRow, details: bool, return_id: bool, threshold: f64) -> Value {
        serde_json::to_value(render_for_browser(row, 9, details, return_id, threshold)).unwrap()
    }

    fn row(valid: bool, code: Option<i16>) -> VerdictRow {
        VerdictRow {
            valid,
            error_code: code,
            error_details: code.map(|_| json!({ "capture_liveness": "For a positive result you must get 1, value achieved: 0.0." })),
            face_probability: Some(0.98),
            capture_score: Some(1.1),
            capture_probability: Some(if valid { 1.0 } else { 0.0 }),
        }
    }

    #[test]
    fn shapes_follow_the_contract() {
        assert_eq!(
            render(&row(true, None), 284, false, false),
            json!({ "valid": true })
        );
        assert_eq!(
            render(&row(true, None), 284, true, true),
            json!({ "valid": true, "api_response": { "face_liveness": { "probability": 0.98 },
                    "capture_liveness": { "score": 1.1, "probability": 1.0 } }, "id": 284 })
        );
        let rejected = render(&row(false, Some(715)), 287, true, true);
        assert_eq!(rejected["error_code"], 715);
        assert_eq!(rejected["message"], "Attack detected in the sent image.");
        assert_eq!(
            rejected["error_details"]["api_response"]["capture_liveness"]["probability"],
            0.0
        );
        assert!(rejected.get("api_response").is_none());
        assert_eq!(rejected["id"], 287);
        let plain = render(&row(false, Some(715)), 287, false, false);
        assert!(plain["error_details"].get("api_response").is_none() && plain.get("id").is_none());
    }

    #[test]
    fn numbers_are_rounded_for_clients_only() {
        let mut stored = row(true, None);
        stored.capture_score = Some(1.2000000000000002);
        stored.face_probability = Some(0.9999286532402039);
        let body = render(&stored, 1, true, false);
        assert_eq!(
            body["api_response"]["capture_liveness"]["score"].to_string(),
            "1.2"
        );
        assert_eq!(
            body["api_response"]["face_liveness"]["probability"].to_string(),
            "0.9999287"
        );
        assert_eq!(stored.capture_score, Some(1.2000000000000002));
        assert_eq!(for_response(1e-9), 0.0);
    }

    #[test]
    fn a_browser_sees_outcomes_and_the_kind_of_problem_only() {
        let mut rejected = row(false, Some(715));
        rejected.error_details = Some(
            json!({ "capture_liveness": "For a positive result you must get 1, value achieved: 0.0.", "capture_signal": "nonce_fresh" }),
        );
        rejected.face_probability = Some(0.73);
        let body = for_browser(&rejected, true, true, 0.5);
        assert_eq!(
            body,
            json!({ "valid": false, "error_code": 715, "message": "Attack detected in the sent image.",
                    "error_details": { "problem": "attack", "advice": RejectionCode::AttackDetected.advice(),
                        "api_response": { "face_liveness": { "probability": 1.0 },
                                          "capture_liveness": { "score": 0.0, "probability": 0.0 } } },
                    "id": 9 })
        );
        let valid = for_browser(&row(true, None), true, false, 0.99);
        assert_eq!(valid["api_response"]["face_liveness"]["probability"], 0.0);
        assert_eq!(valid["api_response"]["capture_liveness"]["score"], 1.0);
    }
}
