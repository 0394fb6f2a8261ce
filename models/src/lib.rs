//! Face-analysis engine: YuNet face detection, quality gates mapped to the contract's rejection
//! codes, and presentation-attack detection by a model set (the MiniFASNet pair by default),
//! all on tract-onnx.

pub mod config;
pub mod decode;
pub mod detect;
mod engine;
pub mod face;
pub mod gates;
pub mod kernels;
pub mod manifest;
pub mod model_set;
pub mod onnx;
pub mod pad;
pub mod pose;
pub mod quality;
pub mod resize;
pub mod square_crop;

pub use config::{EngineConfig, GateConfig};
pub use engine::{Analysis, Engine, ModelPaths, Rejection, Timings, DETECTOR_FILE};
pub use liveness_contract::RejectionCode;
pub use model_set::ModelSet;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid engine configuration: {0}")]
    Config(String),
    #[error("cannot load model {model}: {reason}")]
    Load { model: String, reason: String },
    #[error("model {model} failed: {reason}")]
    Inference { model: String, reason: String },
    #[error("unexpected model output: {0}")]
    Model(String),
}
