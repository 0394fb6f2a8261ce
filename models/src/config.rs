//! Engine settings. Every threshold a quality gate uses lives here with its default and the
//! reason for it; README.md's rejection table is generated from the same numbers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Side of the square the detector sees (the image is letterboxed into it). A multiple of
    /// 32. 256 finds every fixture face (and the 706 test's 50-pixel face) at 2/3 of the cost of
    /// 320 and 1/6 of 640 (docs/benchmarks.md).
    pub detector_input_side: u32,
    /// Minimum YuNet score, sqrt(cls * obj), for a detection to count as a face.
    pub detection_score_threshold: f32,
    /// Overlap above which the weaker of two detections is dropped.
    pub nms_iou_threshold: f32,
    /// Threads of the inference pool; 0 means one per core.
    pub threads: usize,
    /// Model sets to load besides the default (models/manifest.toml). Each set carries its
    /// own fusion weights and P(real) threshold (715 below it; 0.5 for the default set).
    pub model_sets: Vec<String>,
    /// Loading a set with a model whose licence is marked restricted needs this.
    pub allow_restricted_models: bool,
    pub gates: GateConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            detector_input_side: 256,
            detection_score_threshold: 0.6,
            nms_iou_threshold: 0.3,
            threads: 0,
            model_sets: Vec::new(),
            allow_restricted_models: false,
            gates: GateConfig::default(),
        }
    }
}

/// Limits of the quality gates, in the order they are evaluated (see `gates.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateConfig {
    /// 714: shorter image side in pixels. Below this the crops the PAD models need are upscaled.
    pub min_image_side: f64,
    /// 714: longer side / shorter side. Panoramas and strips are not selfies.
    pub max_aspect_ratio: f64,
    /// 713 (whole frame): mean luma (0-255) below this is a dark or black frame.
    pub min_frame_brightness: f64,
    /// 713 (whole frame): mean luma above this is a blown-out frame.
    pub max_frame_brightness: f64,
    /// 713 (whole frame): luma standard deviation below this is a flat, featureless frame.
    pub min_frame_contrast: f64,
    /// 705: a second face counts when its score is at least this ...
    pub second_face_min_score: f64,
    /// 705: ... and its box is at least this fraction of the main face's width.
    pub second_face_min_relative_width: f64,
    /// 702: fraction of the face lying outside the frame. The face is the union of the
    /// detector's box and the extent the landmarks imply (`Landmarks::implied_face`), because
    /// YuNet shrinks its box to the visible part of a face the frame cuts.
    pub max_face_outside_fraction: f64,
    /// 700: face box width / image width or box height / image height.
    pub max_face_fraction: f64,
    /// 701: gap between the face box and the nearest frame edge, as a fraction of the box's size
    /// along that axis. Closer than this the face is whole but its context, which the 2.7x and
    /// 4x crops of the liveness models need, is missing on one side.
    pub min_edge_margin: f64,
    /// 706: distance between the eye centres in original-image pixels.
    pub min_interocular_px: f64,
    /// 703: landmark consistency rules that may fail (eyes above nose above mouth, nose between
    /// the eyes, every landmark inside the box).
    pub max_landmark_violations: f64,
    /// 707: head roll, yaw and pitch limits in degrees, estimated from the five landmarks.
    pub max_roll_deg: f64,
    pub max_yaw_deg: f64,
    pub max_pitch_deg: f64,
    /// 713 (face): variance of the Laplacian of the face, normalised to 128 px. Lower is blurrier.
    pub min_face_sharpness: f64,
    /// 713 (face): mean luma of the face region.
    pub min_face_brightness: f64,
    pub max_face_brightness: f64,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            min_image_side: 240.0,
            max_aspect_ratio: 2.5,
            min_frame_brightness: 16.0,
            max_frame_brightness: 245.0,
            min_frame_contrast: 6.0,
            second_face_min_score: 0.6,
            second_face_min_relative_width: 0.4,
            max_face_outside_fraction: 0.05,
            max_face_fraction: 0.7,
            min_edge_margin: 0.05,
            min_interocular_px: 32.0,
            max_landmark_violations: 0.0,
            max_roll_deg: 25.0,
            max_yaw_deg: 45.0,
            max_pitch_deg: 30.0,
            min_face_sharpness: 20.0,
            min_face_brightness: 40.0,
            max_face_brightness: 225.0,
        }
    }
}
