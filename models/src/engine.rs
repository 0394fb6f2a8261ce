//! The engine: decode -> image gates -> detect -> face gates -> both PAD models in parallel ->
//! verdict. One `Engine` holds every model, loaded and optimised once, and a rayon pool on which
//! all inference runs, so callers on async runtimes never block their own threads.

use crate::config::EngineConfig;
use crate::decode::decode_rgb;
use crate::detect::Detector;
use crate::face::Face;
use crate::gates::{face_gates, first_failure, image_gates, primary_face, Bound, GateResult};
use crate::pad::{PadModel, PadScores};
use crate::quality::frame_luma;
use crate::EngineError;
use image::RgbImage;
use liveness_contract::RejectionCode;
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the three model files are; `in_dir` uses the names from models/manifest.toml.
#[derive(Debug, Clone)]
pub struct ModelPaths {
    pub detector: PathBuf,
    pub minifasnet_v2: PathBuf,
    pub minifasnet_v1se: PathBuf,
}

impl ModelPaths {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            detector: dir.join("yunet_s_dynamic.onnx"),
            minifasnet_v2: dir.join("MiniFASNetV2.onnx"),
            minifasnet_v1se: dir.join("MiniFASNetV1SE.onnx"),
        }
    }
}

/// Wall-clock milliseconds per stage. The two PAD models run concurrently, so `total` can be
/// less than the sum of the stages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub decode: f64,
    pub detect: f64,
    pub gates: f64,
    pub crop: f64,
    pub minifasnet_v2: f64,
    pub minifasnet_v1se: f64,
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
    v2: PadModel,
    v1se: PadModel,
    config: EngineConfig,
    pool: rayon::ThreadPool,
}

impl Engine {
    pub fn load(paths: &ModelPaths, config: EngineConfig) -> Result<Self, EngineError> {
        let detector = Detector::load(&paths.detector, config.detector_input_side)?;
        let v2 = PadModel::load(&paths.minifasnet_v2, "MiniFASNetV2", 2.7)?;
        let v1se = PadModel::load(&paths.minifasnet_v1se, "MiniFASNetV1SE", 4.0)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .thread_name(|i| format!("inference-{i}"))
            .build()
            .map_err(|e| EngineError::Config(format!("cannot start the inference pool: {e}")))?;
        Ok(Self {
            detector,
            v2,
            v1se,
            config,
            pool,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    pub fn pad_models(&self) -> (&PadModel, &PadModel) {
        (&self.v2, &self.v1se)
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
        self.pool
            .install(|| inputs.par_iter().map(|b| self.analyze_here(b)).collect())
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
        images: &[Result<RgbImage, crate::decode::DecodeError>],
    ) -> Vec<Analysis> {
        self.pool.install(|| {
            images
                .par_iter()
                .map(|image| match image {
                    Ok(image) => self.analyze_image(image),
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
        let mut analysis = self.analyze_image(&image);
        analysis.timings.decode = decode;
        analysis.timings.total = ms(start);
        analysis
    }

    pub fn analyze_image(&self, image: &RgbImage) -> Analysis {
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
                let roll = match self.detector.measure_roll(image, &faces[primary]) {
                    Ok(roll) => roll.map(f64::from),
                    Err(e) => return self.failed(e, timings, start),
                };
                gates.extend(face_gates(&cfg.gates, image, &faces, primary, roll));
                timings.gates = ms(t);
                match self.liveness(image, &faces[primary], &mut timings) {
                    Ok(scores) => liveness = Some(scores),
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
                .filter(|s| s.probability < cfg.liveness_threshold)
                .map(|s| Rejection {
                    code: RejectionCode::AttackDetected,
                    reason: "face_liveness".into(),
                    detail: format!(
                        "For a positive result you must get at least {}, value achieved: {:.4}.",
                        cfg.liveness_threshold, s.probability
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

    /// Runs both PAD models at once: they are independent and each is too small to keep more
    /// than one core busy.
    fn liveness(
        &self,
        image: &RgbImage,
        face: &Face,
        timings: &mut Timings,
    ) -> Result<PadScores, EngineError> {
        let run = |model: &PadModel| -> Result<([f32; 3], f64, f64), EngineError> {
            let t = Instant::now();
            let (input, _) = model.preprocess(image, &face.bbox);
            let crop = ms(t);
            let t = Instant::now();
            let logits = model.logits(input)?;
            Ok((logits, crop, ms(t)))
        };
        let (a, b) = rayon::join(|| run(&self.v2), || run(&self.v1se));
        let (v2, crop_a, infer_a) = a?;
        let (v1se, crop_b, infer_b) = b?;
        timings.crop = crop_a + crop_b;
        timings.minifasnet_v2 = infer_a;
        timings.minifasnet_v1se = infer_b;
        Ok(PadScores::fuse(v2, v1se))
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
