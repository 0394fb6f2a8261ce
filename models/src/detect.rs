//! YuNet face detection: letterbox into a fixed square, run, decode the 12 stride outputs,
//! non-maximum suppression, map back to original pixels.

use crate::face::{BoundingBox, Face, Landmarks, Point};
use crate::onnx::{load_model, OnnxModel};
use crate::resize::{resize_into_bgr_planes, sample_rotated_into_bgr_planes, Region};
use crate::EngineError;
use image::RgbImage;
use std::path::Path;
use tract_onnx::prelude::*;

const STRIDES: [usize; 3] = [8, 16, 32];
/// Candidates kept for NMS, as OpenCV's top-k; bounds the quadratic NMS on adversarial input.
const MAX_CANDIDATES: usize = 1000;

/// Side of the rotated face views used to measure roll: the face fills about 70% of it.
const PROBE_SIDE: usize = 96;
/// Rotations of the face views; the detector scores an upright face highest.
const PROBE_ANGLES: [f32; 3] = [-35.0, 0.0, 35.0];
/// How much better a rotated view must score than the upright one to count as the face's pose.
const PROBE_MARGIN: f32 = 0.04;
/// Lower than the detection threshold: a rotated face scores low in the wrong views.
const PROBE_MIN_SCORE: f32 = 0.3;
/// Context around the face box in a probe view, as a multiple of the box's longer side.
const PROBE_CONTEXT: f32 = 1.4;

/// An upright detection this confident, with a box no squarer than this and landmarks in
/// their upright order, comes from a face the rotated views would find upright too: they are
/// skipped. Calibrated on the samples rotated every 10 degrees from -60 to +60
/// (models/tests/roll_views.rs): every view the probes judge rotated past the roll limit
/// scored at most 0.905 upright; upright faces score 0.916-0.941
/// with boxes of 0.72-0.85.
const UPRIGHT_MIN_SCORE: f32 = 0.915;
const UPRIGHT_MAX_ASPECT: f32 = 0.88;
/// The landmarks' own roll and yaw (degrees) must be modest too: they under-read rotation,
/// but never read a large value on an upright face.
const UPRIGHT_MAX_LANDMARK_ROLL: f64 = 10.0;
const UPRIGHT_MAX_LANDMARK_YAW: f64 = 35.0;

pub struct Detector {
    model: OnnxModel,
    /// The same network on one small rotated face view (see `measure_roll`). Three batch-1 runs
    /// take half the time of one batch-3 run in tract.
    probe: OnnxModel,
    side: usize,
}

/// The letterboxed input and how to map detector pixels back to the original image.
pub struct DetectorInput {
    pub tensor: Tensor,
    pub scale_x: f32,
    pub scale_y: f32,
}

impl Detector {
    pub fn load(path: &Path, side: u32) -> Result<Self, EngineError> {
        if side == 0 || !side.is_multiple_of(32) {
            return Err(EngineError::Config(format!(
                "detector_input_side must be a positive multiple of 32, got {side}"
            )));
        }
        let side = side as usize;
        let model = load_model(path, [1, 3, side, side], true)?;
        let probe = load_model(path, [1, 3, PROBE_SIDE, PROBE_SIDE], true)?;
        Ok(Self { model, probe, side })
    }

    pub fn input_side(&self) -> usize {
        self.side
    }

    /// Resizes the image (aspect kept) into the top-left of a zero-padded square.
    pub fn preprocess(&self, image: &RgbImage) -> DetectorInput {
        let (w, h) = (image.width() as f64, image.height() as f64);
        let scale = self.side as f64 / w.max(h);
        let new_w = ((w * scale).round() as u32).clamp(1, self.side as u32);
        let new_h = ((h * scale).round() as u32).clamp(1, self.side as u32);
        let mut data = vec![0f32; 3 * self.side * self.side];
        resize_into_bgr_planes(
            image,
            Region::whole(image),
            new_w,
            new_h,
            &mut data,
            self.side,
            self.side,
        );
        // The buffer becomes the tensor as it is: a copy of it cost a tenth of a millisecond.
        let tensor = tract_ndarray::Array4::from_shape_vec((1, 3, self.side, self.side), data)
            .expect("buffer matches the shape by construction")
            .into_tensor();
        DetectorInput {
            tensor,
            scale_x: (w / new_w as f64) as f32,
            scale_y: (h / new_h as f64) as f32,
        }
    }

    /// Raw outputs in the model's order: cls_8/16/32, obj_8/16/32, bbox_8/16/32, kps_8/16/32.
    pub fn infer(&self, input: Tensor) -> Result<TVec<TValue>, EngineError> {
        self.model.run(input)
    }

    pub fn detect(
        &self,
        image: &RgbImage,
        score_threshold: f32,
        nms_iou: f32,
    ) -> Result<Vec<Face>, EngineError> {
        let input = self.preprocess(image);
        let outputs = self.infer(input.tensor)?;
        let mut faces = decode(&outputs, self.side, score_threshold)?;
        faces = non_max_suppression(faces, nms_iou);
        for face in &mut faces {
            scale_face(face, input.scale_x, input.scale_y);
        }
        Ok(faces)
    }

    /// Whether the rotated views could change the roll gate's answer for this detection:
    /// false for a confident, upright-looking face, whose roll the landmarks give well enough.
    pub fn roll_views_needed(&self, face: &Face) -> bool {
        let pose = crate::pose::estimate_pose(&face.landmarks);
        let upright = face.score >= UPRIGHT_MIN_SCORE
            && face.bbox.width / face.bbox.height.max(1.0) <= UPRIGHT_MAX_ASPECT
            && crate::pose::landmark_violations(&face.landmarks, &face.bbox) == 0
            && pose.roll_deg.abs() <= UPRIGHT_MAX_LANDMARK_ROLL
            && pose.yaw_deg.abs() <= UPRIGHT_MAX_LANDMARK_YAW;
        !upright
    }

    /// In-plane rotation of a face in degrees (positive: counter-clockwise on screen).
    ///
    /// YuNet's landmarks follow in-plane rotation only weakly (a face turned 40 degrees reads as
    /// about 9 from the eye line), so the face is re-detected in views rotated by each of
    /// PROBE_ANGLES. The detector scores the most upright view highest; that view's rotation
    /// plus the eye-line angle measured inside it is the roll. The estimate is coarse (views 35
    /// degrees apart): it tells an upright face from one rotated by about 35 degrees or more.
    /// `None` when no view finds the face.
    pub fn measure_roll(&self, image: &RgbImage, face: &Face) -> Result<Option<f32>, EngineError> {
        let b = face.bbox;
        let centre = (b.x + b.width / 2.0, b.y + b.height / 2.0);
        let extent = b.width.max(b.height) * PROBE_CONTEXT;
        let mut data = vec![0f32; 3 * PROBE_SIDE * PROBE_SIDE];
        // (view rotation, score, roll) of each view that found the face.
        let mut views = Vec::with_capacity(PROBE_ANGLES.len());
        for angle in PROBE_ANGLES {
            sample_rotated_into_bgr_planes(image, centre, extent, angle, PROBE_SIDE, &mut data);
            let input = Tensor::from_shape(&[1, 3, PROBE_SIDE, PROBE_SIDE], &data)
                .expect("buffer matches the shape by construction");
            let outputs = self.probe.run(input)?;
            // The view is centred on the face of interest: take its strongest detection.
            let found = decode(&outputs, PROBE_SIDE, PROBE_MIN_SCORE)?;
            if let Some(f) = found.iter().max_by(|a, b| a.score.total_cmp(&b.score)) {
                let l = &f.landmarks;
                let inner = (l.left_eye.y - l.right_eye.y).atan2(l.left_eye.x - l.right_eye.x);
                // Screen y points down: a counter-clockwise tilt has a negative eye slope.
                views.push((angle, f.score, angle - inner.to_degrees()));
            }
        }
        let upright = views.iter().find(|v| v.0 == 0.0).copied();
        let best = views.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
        Ok(match (best, upright) {
            // Near upright, neighbouring views score alike: only a clear win of a rotated view
            // means the face is rotated.
            (Some(best), Some(up)) if best.1 - up.1 < PROBE_MARGIN => Some(up.2),
            (best, _) => best.map(|v| v.2),
        })
    }
}

/// Anchor-free decoding, as OpenCV's FaceDetectorYN does for this model: every cell of
/// every stride predicts a centre offset, log-size and five landmark offsets.
pub fn decode(outputs: &[TValue], side: usize, threshold: f32) -> Result<Vec<Face>, EngineError> {
    if outputs.len() != 12 {
        return Err(EngineError::Model(format!(
            "YuNet returned {} outputs, expected 12",
            outputs.len()
        )));
    }
    let mut faces = Vec::new();
    for (i, &stride) in STRIDES.iter().enumerate() {
        let cols = side / stride;
        let cells = cols * cols;
        let view = |k: usize, width: usize| -> Result<&[f32], EngineError> {
            let len = cells * width;
            let slice = outputs[k]
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>())
                .map_err(|e| EngineError::Model(format!("{e:#}")))?;
            if slice.len() != len {
                return Err(EngineError::Model(format!(
                    "YuNet output {k} has {} values, expected {len}",
                    slice.len()
                )));
            }
            Ok(slice)
        };
        let cls = view(i, 1)?;
        let obj = view(3 + i, 1)?;
        let bbox = view(6 + i, 4)?;
        let kps = view(9 + i, 10)?;
        let s = stride as f32;
        for idx in 0..cells {
            let score = (cls[idx].clamp(0.0, 1.0) * obj[idx].clamp(0.0, 1.0)).sqrt();
            if score < threshold {
                continue;
            }
            let (row, col) = ((idx / cols) as f32, (idx % cols) as f32);
            let b = &bbox[idx * 4..idx * 4 + 4];
            let (cx, cy) = ((col + b[0]) * s, (row + b[1]) * s);
            let (w, h) = (b[2].exp() * s, b[3].exp() * s);
            let k = &kps[idx * 10..idx * 10 + 10];
            let point = |n: usize| Point {
                x: (col + k[2 * n]) * s,
                y: (row + k[2 * n + 1]) * s,
            };
            faces.push(Face {
                score,
                bbox: BoundingBox {
                    x: cx - w / 2.0,
                    y: cy - h / 2.0,
                    width: w,
                    height: h,
                },
                landmarks: Landmarks {
                    right_eye: point(0),
                    left_eye: point(1),
                    nose: point(2),
                    right_mouth: point(3),
                    left_mouth: point(4),
                },
            });
        }
    }
    Ok(faces)
}

fn scale_face(face: &mut Face, sx: f32, sy: f32) {
    let b = &mut face.bbox;
    b.x *= sx;
    b.y *= sy;
    b.width *= sx;
    b.height *= sy;
    let l = &mut face.landmarks;
    for p in [
        &mut l.right_eye,
        &mut l.left_eye,
        &mut l.nose,
        &mut l.right_mouth,
        &mut l.left_mouth,
    ] {
        p.x *= sx;
        p.y *= sy;
    }
}

/// Greedy NMS by descending score.
pub fn non_max_suppression(mut faces: Vec<Face>, iou: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    faces.truncate(MAX_CANDIDATES);
    let mut kept: Vec<Face> = Vec::new();
    for face in faces {
        if kept.iter().all(|k| k.bbox.iou(&face.bbox) <= iou) {
            kept.push(face);
        }
    }
    kept
}
