//! models/manifest.toml, compiled in: the files with their checksums and licences, how each
//! presentation-attack model wants its input, and the model sets that fuse them. One file is
//! the source of truth for scripts/fetch-models, the engine and `liveness evaluate`.

use crate::EngineError;
use serde::Deserialize;
use std::sync::OnceLock;

const MANIFEST: &str = include_str!("../manifest.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub file: Vec<FileEntry>,
    pub pad_model: Vec<PadSpec>,
    pub model_set: Vec<SetSpec>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub kind: String,
    pub sha256: String,
    pub license: String,
    /// The licence limits what the model's users may do (e.g. commercial use of derived
    /// data): the engine loads it only when the operator allows restricted models.
    #[serde(default)]
    pub restricted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CropMode {
    ShiftInside,
    SquareReflect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PadSpec {
    pub id: String,
    pub file: String,
    pub input_side: usize,
    pub crop: CropMode,
    pub crop_scale: f32,
    pub colour: Colour,
    pub value_scale: f32,
    #[serde(default)]
    pub mean: [f32; 3],
    #[serde(default = "unit_std")]
    pub std: [f32; 3],
    pub classes: usize,
    pub live_class: usize,
    #[serde(default)]
    pub symbolic_batch: bool,
}

fn unit_std() -> [f32; 3] {
    [1.0; 3]
}

impl PadSpec {
    /// True when the input is the raw 0-255 pixel values, which lets preprocessing skip a
    /// pass (and keeps the default set's tensors bit-identical to before sets existed).
    pub fn raw_pixels(&self) -> bool {
        self.value_scale == 1.0 && self.mean == [0.0; 3] && self.std == [1.0; 3]
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SetSpec {
    pub name: String,
    #[serde(default)]
    pub default: bool,
    pub models: Vec<String>,
    pub weights: Vec<f64>,
    pub threshold: f64,
    pub about: String,
}

/// The compiled-in manifest, parsed and checked once.
pub fn manifest() -> &'static Manifest {
    static PARSED: OnceLock<Manifest> = OnceLock::new();
    PARSED.get_or_init(|| {
        let manifest: Manifest =
            toml::from_str(MANIFEST).expect("models/manifest.toml parses (checked by tests)");
        manifest
            .check()
            .expect("models/manifest.toml is consistent (checked by tests)");
        manifest
    })
}

impl Manifest {
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.file.iter().find(|f| f.name == name)
    }

    pub fn pad_model(&self, id: &str) -> Option<&PadSpec> {
        self.pad_model.iter().find(|m| m.id == id)
    }

    pub fn set(&self, name: &str) -> Result<&SetSpec, EngineError> {
        self.model_set
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                EngineError::Config(format!(
                    "no model set is named {name:?} (known: {})",
                    self.set_names().join(", ")
                ))
            })
    }

    pub fn default_set(&self) -> &SetSpec {
        self.model_set
            .iter()
            .find(|s| s.default)
            .expect("checked: exactly one default set")
    }

    pub fn set_names(&self) -> Vec<&str> {
        self.model_set.iter().map(|s| s.name.as_str()).collect()
    }

    /// A set is restricted when any of its models' files is.
    pub fn set_is_restricted(&self, set: &SetSpec) -> bool {
        set.models.iter().any(|id| {
            self.pad_model(id)
                .and_then(|m| self.file(&m.file))
                .is_some_and(|f| f.restricted)
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.model_set.iter().filter(|s| s.default).count() != 1 {
            return Err("exactly one model set must be the default".into());
        }
        for model in &self.pad_model {
            let file = self
                .file(&model.file)
                .ok_or_else(|| format!("{}: no [[file]] named {}", model.id, model.file))?;
            if file.kind != "model" || model.live_class >= model.classes {
                return Err(format!("{}: not a usable model entry", model.id));
            }
        }
        for set in &self.model_set {
            if set.models.is_empty() || set.models.len() != set.weights.len() {
                return Err(format!("{}: one weight per model", set.name));
            }
            if let Some(id) = set.models.iter().find(|id| self.pad_model(id).is_none()) {
                return Err(format!("{}: no [[pad_model]] {id}", set.name));
            }
            if set.weights.iter().any(|w| *w < 0.0) || set.weights.iter().sum::<f64>() <= 0.0 {
                return Err(format!(
                    "{}: weights must be >= 0 with a positive sum",
                    set.name
                ));
            }
            if !(0.0..=1.0).contains(&set.threshold) {
                return Err(format!("{}: threshold outside 0-1", set.name));
            }
        }
        if self.file.iter().any(|f| f.restricted) && self.default_set_is_restricted() {
            return Err("the default set must not use a restricted model".into());
        }
        Ok(())
    }

    fn default_set_is_restricted(&self) -> bool {
        self.model_set
            .iter()
            .filter(|s| s.default)
            .any(|s| self.set_is_restricted(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_parses_and_its_default_set_is_the_apache_pair() {
        let m = manifest();
        let default = m.default_set();
        assert_eq!(default.models, ["minifasnet_v2", "minifasnet_v1se"]);
        assert_eq!(default.weights, [0.5, 0.5]);
        assert_eq!(default.threshold, 0.5);
        assert!(!m.set_is_restricted(default));
        let opt_in = m.set("minifasnet-facenox").unwrap();
        assert!(m.set_is_restricted(opt_in));
        assert!(m.set("nope").is_err());
    }
}
