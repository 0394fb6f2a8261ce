//! Quality gates: each turns one measurement into pass/fail against a limit from
//! [`GateConfig`]. They run in a fixed order and the first failure decides the rejection code,
//! but every gate that could be measured is reported so a client can see all problems at once.
//!
//! Order (and why): the image itself (714), then whole-frame exposure (713; a black frame has
//! no face to find), whether there is exactly one face (704, 705), where the face sits in the
//! frame (702 cut off by the frame, 700 too close, 701 at the edge), its resolution (706), its pose (707),
//! landmark consistency (703, after pose, since a turned head legitimately hides points), and
//! last the face's own sharpness and exposure (713).

use crate::config::GateConfig;
use crate::face::Face;
use crate::pose::{estimate_pose, landmark_violations};
use crate::quality::{face_quality, LumaStats};
use liveness_contract::RejectionCode;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Passes when measured >= limit.
    Min,
    /// Passes when measured <= limit.
    Max,
    /// Passes when measured < limit.
    Below,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub code: RejectionCode,
    pub gate: &'static str,
    pub measured: f64,
    pub limit: f64,
    pub bound: Bound,
    pub passed: bool,
}

impl GateResult {
    fn new(
        code: RejectionCode,
        gate: &'static str,
        measured: f64,
        bound: Bound,
        limit: f64,
    ) -> Self {
        let passed = match bound {
            Bound::Min => measured >= limit,
            Bound::Max => measured <= limit,
            Bound::Below => measured < limit,
        };
        Self {
            code,
            gate,
            measured,
            limit,
            bound,
            passed,
        }
    }
}

/// Gates on the image before any face is looked for.
pub fn image_gates(cfg: &GateConfig, width: u32, height: u32, luma: LumaStats) -> Vec<GateResult> {
    use RejectionCode::*;
    let (short, long) = (width.min(height) as f64, width.max(height) as f64);
    vec![
        GateResult::new(
            ImageConditionsUnmet,
            "image_min_side",
            short,
            Bound::Min,
            cfg.min_image_side,
        ),
        GateResult::new(
            ImageConditionsUnmet,
            "image_aspect_ratio",
            long / short.max(1.0),
            Bound::Max,
            cfg.max_aspect_ratio,
        ),
        GateResult::new(
            QualityUnacceptable,
            "frame_brightness_min",
            luma.mean,
            Bound::Min,
            cfg.min_frame_brightness,
        ),
        GateResult::new(
            QualityUnacceptable,
            "frame_brightness_max",
            luma.mean,
            Bound::Max,
            cfg.max_frame_brightness,
        ),
        GateResult::new(
            QualityUnacceptable,
            "frame_contrast",
            luma.std_dev,
            Bound::Min,
            cfg.min_frame_contrast,
        ),
    ]
}

/// Picks the subject: the largest face, since the person taking a selfie is nearest the camera.
pub fn primary_face(faces: &[Face]) -> Option<usize> {
    faces
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.bbox.area().total_cmp(&b.1.bbox.area()))
        .map(|(i, _)| i)
}

/// Gates on the detected faces; `faces[primary]` is the subject.
pub fn face_gates(
    cfg: &GateConfig,
    image: &image::RgbImage,
    faces: &[Face],
    primary: usize,
    measured_roll_deg: Option<f64>,
) -> Vec<GateResult> {
    use RejectionCode::*;
    let face = &faces[primary];
    let b = face.bbox;
    let (w, h) = (image.width() as f32, image.height() as f32);

    let second_face_width = faces
        .iter()
        .enumerate()
        .filter(|(i, f)| *i != primary && f.score as f64 >= cfg.second_face_min_score)
        .map(|(_, f)| (f.bbox.width / b.width.max(1.0)) as f64)
        .fold(0.0, f64::max);
    let whole = b.union(&face.landmarks.implied_face());
    let outside = 1.0 - (whole.area_inside(w, h) / whole.area().max(1.0)) as f64;
    let fraction = (b.width / w).max(b.height / h) as f64;
    let margin = [
        b.x / b.width,
        (w - b.right()) / b.width,
        b.y / b.height,
        (h - b.bottom()) / b.height,
    ]
    .into_iter()
    .fold(f32::INFINITY, f32::min) as f64;
    let pose = estimate_pose(&face.landmarks);
    let roll = measured_roll_deg.unwrap_or(pose.roll_deg);

    let mut gates = vec![
        GateResult::new(
            TooManyFaces,
            "second_face_relative_width",
            second_face_width,
            Bound::Below,
            cfg.second_face_min_relative_width,
        ),
        GateResult::new(
            FaceCropped,
            "face_outside_fraction",
            outside,
            Bound::Max,
            cfg.max_face_outside_fraction,
        ),
        GateResult::new(
            FaceTooClose,
            "face_frame_fraction",
            fraction,
            Bound::Max,
            cfg.max_face_fraction,
        ),
        GateResult::new(
            FaceCloseToBorder,
            "face_edge_margin",
            margin,
            Bound::Min,
            cfg.min_edge_margin,
        ),
        GateResult::new(
            FaceTooSmall,
            "interocular_px",
            face.landmarks.interocular_distance() as f64,
            Bound::Min,
            cfg.min_interocular_px,
        ),
        GateResult::new(
            FaceAngleTooLarge,
            "roll_deg",
            roll.abs(),
            Bound::Max,
            cfg.max_roll_deg,
        ),
        GateResult::new(
            FaceAngleTooLarge,
            "yaw_deg",
            pose.yaw_deg.abs(),
            Bound::Max,
            cfg.max_yaw_deg,
        ),
        GateResult::new(
            FaceAngleTooLarge,
            "pitch_deg",
            pose.pitch_deg.abs(),
            Bound::Max,
            cfg.max_pitch_deg,
        ),
        GateResult::new(
            FaceOccluded,
            "landmark_violations",
            landmark_violations(&face.landmarks, &b) as f64,
            Bound::Max,
            cfg.max_landmark_violations,
        ),
    ];
    if let Some(q) = face_quality(image, &b) {
        gates.extend([
            GateResult::new(
                QualityUnacceptable,
                "face_sharpness",
                q.sharpness,
                Bound::Min,
                cfg.min_face_sharpness,
            ),
            GateResult::new(
                QualityUnacceptable,
                "face_brightness_min",
                q.brightness,
                Bound::Min,
                cfg.min_face_brightness,
            ),
            GateResult::new(
                QualityUnacceptable,
                "face_brightness_max",
                q.brightness,
                Bound::Max,
                cfg.max_face_brightness,
            ),
        ]);
    }
    gates
}

/// The gate that decides the verdict: the first failure in evaluation order.
pub fn first_failure(gates: &[GateResult]) -> Option<&GateResult> {
    gates.iter().find(|g| !g.passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_compare_as_documented() {
        let c = RejectionCode::FaceTooSmall;
        assert!(GateResult::new(c, "g", 5.0, Bound::Min, 5.0).passed);
        assert!(!GateResult::new(c, "g", 4.9, Bound::Min, 5.0).passed);
        assert!(GateResult::new(c, "g", 5.0, Bound::Max, 5.0).passed);
        assert!(!GateResult::new(c, "g", 5.0, Bound::Below, 5.0).passed);
    }

    #[test]
    fn small_or_panoramic_images_fail_714_first() {
        let cfg = GateConfig::default();
        let luma = LumaStats {
            mean: 120.0,
            std_dev: 40.0,
        };
        let gates = image_gates(&cfg, 100, 100, luma);
        assert_eq!(first_failure(&gates).unwrap().gate, "image_min_side");
        let gates = image_gates(&cfg, 2000, 400, luma);
        assert_eq!(first_failure(&gates).unwrap().gate, "image_aspect_ratio");
        let dark = LumaStats {
            mean: 3.0,
            std_dev: 1.0,
        };
        let gates = image_gates(&cfg, 640, 480, dark);
        assert_eq!(
            first_failure(&gates).unwrap().code,
            RejectionCode::QualityUnacceptable
        );
    }
}
