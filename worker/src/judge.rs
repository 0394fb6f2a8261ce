//! Judging an opened capture: decode its admitted frames once, analyse them with a model set,
//! run the capture's frame checks on the same pixels, and decide. The worker's jobs and
//! `liveness evaluate` share it, so an evaluation measures the verdict the service would give.

use crate::decide::decide;
use crate::faces::subject_faces;
use image::RgbImage;
use liveness_capture::{admit_frames, Assessment, Payload, Policy};
use liveness_contract::RejectionCode;
use liveness_models::decode::DecodeError;
use liveness_models::{Analysis, Engine, ModelSet};
use liveness_pipeline::verdict::Verdict;
use serde_json::Value;

/// The frames' bytes to decode: those whose header matches the declared size, within the
/// job's pixel budget. The rest stay empty (an empty input fails to decode and counts as
/// unreadable), so indices still match the packet's frames.
pub fn admitted_frames(payload: Option<&Payload>, max_job_pixels: u64) -> Vec<Vec<u8>> {
    let Some(payload) = payload else {
        return Vec::new();
    };
    admit_frames(payload, max_job_pixels)
        .into_iter()
        .zip(&payload.frames)
        .enumerate()
        .map(|(i, (admitted, frame))| match admitted {
            Ok(()) => frame.jpeg.clone(),
            Err(refusal) => {
                tracing::warn!(frame = i, %refusal, "frame not decoded");
                Vec::new()
            }
        })
        .collect()
}

pub struct Judged {
    pub decoded: Vec<Result<RgbImage, DecodeError>>,
    pub analyses: Vec<Analysis>,
}

/// Every frame decoded once, on the inference pool: the pixels serve the capture's frame
/// checks and the face models alike. CPU-bound: call it off async threads.
pub fn analyze_frames(engine: &Engine, set: &ModelSet, frames: &[Vec<u8>]) -> Judged {
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let decoded = engine.decode_many(&refs);
    let analyses = engine.analyze_decoded(set, &decoded);
    Judged { decoded, analyses }
}

impl Judged {
    pub fn views(&self) -> Vec<Option<&RgbImage>> {
        self.decoded.iter().map(|d| d.as_ref().ok()).collect()
    }

    /// Runs the capture's frame checks, then decides. `Err` carries the engine's failure on
    /// a frame: such a capture cannot be judged.
    pub fn verdict(
        &self,
        assessment: &mut Assessment,
        policy: &Policy,
        face_threshold: f64,
        model_versions: &Value,
    ) -> Result<Verdict, String> {
        let views = self.views();
        assessment.check_frames(&views, policy);
        assessment.check_same_face(&subject_faces(&self.analyses, &views), policy);
        if let Some(failure) = self
            .analyses
            .iter()
            .filter_map(|a| a.rejection.as_ref())
            .find(|r| r.code == RejectionCode::ProcessingError)
        {
            return Err(failure.detail.clone());
        }
        Ok(decide(
            assessment,
            &self.analyses,
            face_threshold,
            model_versions,
        ))
    }
}
