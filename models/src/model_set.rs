//! Model sets: the PAD models a tenant's faces are judged by, their fusion weights and the
//! set's threshold, loaded from models/manifest.toml. Each file is checked against the
//! manifest's sha256 before it is loaded, so a verdict's model versions name what really ran.

use crate::manifest::{manifest, SetSpec};
use crate::pad::{PadModel, PadScores};
use crate::EngineError;
use image::RgbImage;
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::face::BoundingBox;

pub struct ModelSet {
    pub name: String,
    pub models: Vec<(Arc<PadModel>, f32)>,
    pub threshold: f32,
    pub restricted: bool,
    versions: Value,
}

/// Per-model wall-clock milliseconds of one face: crop and inference.
#[derive(Debug, Clone, Default)]
pub struct SetTimings {
    pub crop: f64,
    pub models: BTreeMap<String, f64>,
}

/// One model's softmax on one face, with its crop and inference times in ms.
struct ModelRun {
    probabilities: Vec<f32>,
    crop: f64,
    infer: f64,
}

impl ModelSet {
    /// Runs every model of the set at once: they are independent and each is too small to keep
    /// more than one core busy.
    pub fn score(
        &self,
        image: &RgbImage,
        face: &BoundingBox,
    ) -> Result<(PadScores, SetTimings), EngineError> {
        let runs: Vec<Result<ModelRun, EngineError>> = self
            .models
            .par_iter()
            .map(|(model, _)| {
                let t = Instant::now();
                let (input, _) = model.preprocess(image, face);
                let crop = ms(t);
                let t = Instant::now();
                let logits = model.logits(input)?;
                Ok(ModelRun {
                    probabilities: crate::pad::softmax(&logits),
                    crop,
                    infer: ms(t),
                })
            })
            .collect();
        let mut timings = SetTimings::default();
        let mut outputs = Vec::with_capacity(runs.len());
        for ((model, weight), run) in self.models.iter().zip(runs) {
            let run = run?;
            timings.crop += run.crop;
            timings.models.insert(model.id().to_string(), run.infer);
            outputs.push((&model.spec, *weight, run.probabilities));
        }
        Ok((PadScores::fuse(&self.name, &outputs), timings))
    }

    /// What a verdict records: the set, its threshold and weights, and the sha256 of every
    /// model file that judged (the detector's included), e.g.
    /// `{"model_set": "minifasnet", "MiniFASNetV2.onnx": "sha256:4eed…", …}`.
    pub fn model_versions(&self) -> &Value {
        &self.versions
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Checks a model file against the manifest and returns its versioned name.
pub fn verify_file(dir: &Path, name: &str) -> Result<String, EngineError> {
    let entry = manifest().file(name).ok_or_else(|| EngineError::Load {
        model: name.into(),
        reason: "not listed in models/manifest.toml".into(),
    })?;
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| EngineError::Load {
        model: name.into(),
        reason: format!("{}: {e} (run scripts/fetch-models)", path.display()),
    })?;
    let digest = format!("{:x}", Sha256::digest(&bytes));
    if digest != entry.sha256 {
        return Err(EngineError::Load {
            model: name.into(),
            reason: format!(
                "sha256 {digest} differs from models/manifest.toml ({}); run scripts/fetch-models",
                entry.sha256
            ),
        });
    }
    Ok(format!("sha256:{digest}"))
}

/// Loads the default set and the sets named in `extra`, each model once however many sets
/// share it. A set using a restricted model is refused unless `allow_restricted`, and logged
/// when allowed. The default set comes first.
pub fn load_sets(
    dir: &Path,
    detector_file: &str,
    extra: &[String],
    allow_restricted: bool,
) -> Result<Vec<ModelSet>, EngineError> {
    let m = manifest();
    let mut specs: Vec<&SetSpec> = vec![m.default_set()];
    for name in extra {
        let spec = m.set(name)?;
        if !specs.iter().any(|s| s.name == spec.name) {
            specs.push(spec);
        }
    }
    let detector_version = verify_file(dir, detector_file)?;
    let mut loaded: BTreeMap<String, (Arc<PadModel>, String)> = BTreeMap::new();
    let mut sets = Vec::with_capacity(specs.len());
    for spec in specs {
        let restricted = m.set_is_restricted(spec);
        if restricted && !allow_restricted {
            return Err(EngineError::Config(format!(
                "model set {:?} uses a model whose licence restricts its use ({}); set \
                 LIVENESS_ALLOW_RESTRICTED_MODELS=true to load it",
                spec.name,
                restricted_licences(spec).join("; ")
            )));
        }
        if restricted {
            tracing::warn!(
                model_set = %spec.name,
                licences = %restricted_licences(spec).join("; "),
                "loading a model set with a restricted licence: check that your use is allowed"
            );
        }
        let mut versions = Map::new();
        versions.insert("model_set".into(), json!(spec.name));
        versions.insert("threshold".into(), json!(spec.threshold));
        versions.insert("weights".into(), json!(spec.weights));
        versions.insert(detector_file.into(), json!(detector_version));
        let mut models = Vec::with_capacity(spec.models.len());
        for (id, weight) in spec.models.iter().zip(&spec.weights) {
            let pad = m
                .pad_model(id)
                .expect("checked when the manifest was parsed");
            if !loaded.contains_key(id) {
                let version = verify_file(dir, &pad.file)?;
                loaded.insert(id.clone(), (Arc::new(PadModel::load(dir, pad)?), version));
            }
            let (model, version) = &loaded[id];
            versions.insert(pad.file.clone(), json!(version));
            models.push((model.clone(), *weight as f32));
        }
        sets.push(ModelSet {
            name: spec.name.clone(),
            models,
            threshold: spec.threshold as f32,
            restricted,
            versions: Value::Object(versions),
        });
    }
    Ok(sets)
}

fn restricted_licences(spec: &SetSpec) -> Vec<String> {
    let m = manifest();
    spec.models
        .iter()
        .filter_map(|id| m.pad_model(id).and_then(|p| m.file(&p.file)))
        .filter(|f| f.restricted)
        .map(|f| format!("{}: {}", f.name, f.license))
        .collect()
}
