//! The engine: decode -> image gates -> detect -> face gates -> the model set's PAD models in
//! parallel -> verdict. One `Engine` holds every model, loaded and optimised once, and a rayon
//! pool on which all inference runs, so callers on async runtimes never block their own threads.

use crate::config::EngineConfig;
use crate::decode::decode_rgb;
use crate::detect::Detector;
use crate::face::Face;
use crate::gates::{face_gates, first_failure, image_gates, primary_face, Bound, GateResult};
use crate::model_set::{load_sets, ModelSet};
use crate::pad::{PadModel, PadScores};
use crate::quality::frame_luma;
use crate::EngineError;
use image::RgbImage;
use liveness_contract::RejectionCode;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The folder holding the model files, named as in models/manifest.toml.
#[derive(Debug, Clone)]
pub struct ModelPaths {
    pub dir: PathBuf,
}

/// The detector's file in models/manifest.toml.
pub const DETECTOR_FILE: &str = "yunet_s_dynamic.onnx";

impl ModelPaths {
    pub fn in_dir(dir: &Path) -> Self {
        Self { dir: dir.into() }
    }
}

/// Wall-clock milliseconds per stage. The PAD models run concurrently, so `total` can be less
/// than the sum of the stages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub decode: f64,
    pub detect: f64,
    pub gates: f64,
    pub crop: f64,
    /// Inference per PAD model, by manifest id.
    pub pad_models: BTreeMap<String, f64>,
    pub total: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub code: RejectionCode,
    /// The gate or stage that decided, e.g. `face_sharpness`, `decode`, `face_liveness`.
    pub reason: String,
    /// Human-readable explanation with the measured value and the limit.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub faces: Vec<Face>,
    /// Index into `faces` of the face that was judged.
    pub subject: Option<usize>,
    pub gates: Vec<GateResult>,
    /// Present whenever a face was found, even if a gate rejected the image.
    pub liveness: Option<PadScores>,
    pub rejection: Option<Rejection>,
    pub timings: Timings,
}

impl Analysis {
    pub fn valid(&self) -> bool {
        self.rejection.is_none()
    }

    fn rejected(code: RejectionCode, reason: &str, detail: String, timings: Timings) -> Self {
        Self {
            width: None,
            height: None,
            faces: Vec::new(),
            subject: None,
            gates: Vec::new(),
            liveness: None,
            rejection: Some(Rejection {
                code,
                reason: reason.into(),
                detail,
            }),
            timings,
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

pub struct Engine {
    detector: Detector,
    /// The default set first, then the sets the configuration names.
    sets: Vec<ModelSet>,
    config: EngineConfig,
    pool: rayon::ThreadPool,
}

impl Engine {
    /// Loads the detector, the default model set and `config.model_sets`, each file checked
    /// against models/manifest.toml.
    pub fn load(paths: &ModelPaths, config: EngineConfig) -> Result<Self, EngineError> {
        let sets = load_sets(
            &paths.dir,
            DETECTOR_FILE,
            &config.model_sets,
            config.allow_restricted_models,
        )?;
        let detector = Detector::load(&paths.dir.join(DETECTOR_FILE), config.detector_input_side)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .thread_name(|i| format!("inference-{i}"))
            .build()
            .map_err(|e| EngineError::Config(format!("cannot start the inference pool: {e}")))?;
        Ok(Self {
            detector,
            sets,
            config,
            pool,
        })
    }

    /// The default set.
    pub fn default_set(&self) -> &ModelSet {
        &self.sets[0]
    }

    /// A loaded set by name; `None` is the default set.
    pub fn model_set(&self, name: Option<&str>) -> Result<&ModelSet, EngineError> {
        let Some(name) = name else {
            return Ok(self.default_set());
        };
        self.sets.iter().find(|s| s.name == name).ok_or_else(|| {
            EngineError::Config(format!(
                "model set {name:?} is not loaded by this engine (loaded: {}; see LIVENESS_MODEL_SETS)",
                self.sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    pub fn model_sets(&self) -> &[ModelSet] {
        &self.sets
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// A loaded PAD model by manifest id, e.g. `minifasnet_v2`.
    pub fn pad_model(&self, id: &str) -> Option<&PadModel> {
        self.sets
            .iter()
            .flat_map(|s| &s.models)
            .map(|(m, _)| m.as_ref())
            .find(|m| m.id() == id)
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Analyses one encoded image on the engine's pool.
    pub fn analyze(&self, bytes: &[u8]) -> Analysis {
        self.pool.install(|| self.analyze_here(bytes))
    }

    /// Analyses several encoded images concurrently on the pool; results keep the input order.
    pub fn analyze_many(&self, inputs: &[&[u8]]) -> Vec<Analysis> {
        self.analyze_many_with(self.default_set(), inputs)
    }

    pub fn analyze_many_with(&self, set: &ModelSet, inputs: &[&[u8]]) -> Vec<Analysis> {
        self.pool.install(|| {
            inputs
                .par_iter()
                .map(|b| self.analyze_here_with(set, b))
                .collect()
        })
    }

    /// Decodes several encoded images concurrently on the pool, for callers that need the
    /// pixels too (the worker's capture checks) and then call [`Engine::analyze_decoded`].
    pub fn decode_many(
        &self,
        inputs: &[&[u8]],
    ) -> Vec<Result<RgbImage, crate::decode::DecodeError>> {
        self.pool
            .install(|| inputs.par_iter().map(|b| decode_rgb(b)).collect())
    }

    /// Analyses decoded images concurrently; a decode error becomes its 708 verdict.
    pub fn analyze_decoded(
        &self,
        set: &ModelSet,
        images: &[Result<RgbImage, crate::decode::DecodeError>],
    ) -> Vec<Analysis> {
        self.pool.install(|| {
            images
                .par_iter()
                .map(|image| match image {
                    Ok(image) => self.analyze_image_with(set, image),
                    Err(e) => Analysis::rejected(
                        RejectionCode::ImageUnreadable,
                        "decode",
                        e.to_string(),
                        Timings::default(),
                    ),
                })
                .collect()
        })
    }

    /// Analyses on the calling thread (nested PAD parallelism still uses the current pool).
    pub fn analyze_here(&self, bytes: &[u8]) -> Analysis {
        self.analyze_here_with(self.default_set(), bytes)
    }

    pub fn analyze_here_with(&self, set: &ModelSet, bytes: &[u8]) -> Analysis {
        let start = Instant::now();
        let image = match decode_rgb(bytes) {
            Ok(image) => image,
            Err(e) => {
                let timings = Timings {
                    decode: ms(start),
                    total: ms(start),
                    ..Default::default()
                };
                return Analysis::rejected(
                    RejectionCode::ImageUnreadable,
                    "decode",
                    e.to_string(),
                    timings,
                );
            }
        };
        let decode = ms(start);
        let mut analysis = self.analyze_image_with(set, &image);
        analysis.timings.decode = decode;
        analysis.timings.total = ms(start);
        analysis
    }

    pub fn analyze_image(&self, image: &RgbImage) -> Analysis {
        self.analyze_image_with(self.default_set(), image)
    }

    pub fn analyze_image_with(&self, set: &ModelSet, image: &RgbImage) -> Analysis {
        let start = Instant::now();
        let mut timings = Timings::default();
        let cfg = &self.config;
        let mut gates = image_gates(&cfg.gates, image.width(), image.height(), frame_luma(image));
        let image_ok = gates.iter().all(|g| g.passed);

        let mut faces = Vec::new();
        let mut subject = None;
        let mut liveness = None;
        if image_ok {
            let t = Instant::now();
            match self
                .detector
                .detect(image, cfg.detection_score_threshold, cfg.nms_iou_threshold)
            {
                Ok(found) => faces = found,
                Err(e) => return self.failed(e, timings, start),
            }
            timings.detect = ms(t);
            gates.push(GateResult {
                code: RejectionCode::FaceNotFound,
                gate: "faces_found",
                measured: faces.len() as f64,
                limit: 1.0,
                bound: Bound::Min,
                passed: !faces.is_empty(),
            });
            subject = primary_face(&faces);
            if let Some(primary) = subject {
                let t = Instant::now();
                // Without the rotated views the gate reads the roll from the landmarks.
                let roll = if self.detector.roll_views_needed(&faces[primary]) {
                    match self.detector.measure_roll(image, &faces[primary]) {
                        Ok(roll) => roll.map(f64::from),
                        Err(e) => return self.failed(e, timings, start),
                    }
                } else {
                    None
                };
                gates.extend(face_gates(&cfg.gates, image, &faces, primary, roll));
                timings.gates = ms(t);
                match set.score(image, &faces[primary].bbox) {
                    Ok((scores, pad)) => {
                        liveness = Some(scores);
                        timings.crop = pad.crop;
                        timings.pad_models = pad.models;
                    }
                    Err(e) => return self.failed(e, timings, start),
                }
            }
        }

        let rejection = match first_failure(&gates) {
            Some(g) => Some(Rejection {
                code: g.code,
                reason: g.gate.to_string(),
                detail: describe_gate(g),
            }),
            None => liveness
                .as_ref()
                .filter(|s| s.probability < set.threshold)
                .map(|s| Rejection {
                    code: RejectionCode::AttackDetected,
                    reason: "face_liveness".into(),
                    detail: format!(
                        "For a positive result you must get at least {}, value achieved: {:.4}.",
                        set.threshold, s.probability
                    ),
                }),
        };
        timings.total = ms(start);
        Analysis {
            width: Some(image.width()),
            height: Some(image.height()),
            faces,
            subject,
            gates,
            liveness,
            rejection,
            timings,
        }
    }

    fn failed(&self, error: EngineError, mut timings: Timings, start: Instant) -> Analysis {
        tracing::error!(%error, "inference failed");
        timings.total = ms(start);
        Analysis::rejected(
            RejectionCode::ProcessingError,
            "inference",
            error.to_string(),
            timings,
        )
    }
}

fn describe_gate(g: &GateResult) -> String {
    let relation = match g.bound {
        Bound::Min => "at least",
        Bound::Max => "at most",
        Bound::Below => "below",
    };
    format!(
        "{}: measured {:.4}, must be {relation} {}",
        g.gate, g.measured, g.limit
    )
}
