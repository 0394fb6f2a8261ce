//! Loading an ONNX file into an optimised tract plan with a concrete input shape. Concrete
//! shapes let tract pick its fastest kernels and plan memory once, at load time.

use crate::EngineError;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;

pub struct OnnxModel {
    plan: Arc<TypedSimplePlan>,
    name: String,
}

pub fn load_model(
    path: &Path,
    input_shape: [usize; 4],
    ignore_declared_shapes: bool,
) -> Result<OnnxModel, EngineError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let wrap = |e: TractError| EngineError::Load {
        model: name.clone(),
        reason: format!("{e:#}"),
    };
    if !path.is_file() {
        return Err(EngineError::Load {
            model: name.clone(),
            reason: format!("{} not found (run scripts/fetch-models)", path.display()),
        });
    }
    // The dynamic YuNet export declares symbolic output shapes that conflict with a concrete
    // input; letting tract infer them is what the model's authors intend.
    let onnx = tract_onnx::onnx()
        .with_ignore_output_shapes(ignore_declared_shapes)
        .with_ignore_value_info(ignore_declared_shapes);
    let plan = onnx
        .model_for_path(path)
        .and_then(|m| m.with_input_fact(0, f32::fact(input_shape).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(wrap)?;
    Ok(OnnxModel { plan, name })
}

impl OnnxModel {
    pub fn run(&self, input: Tensor) -> Result<TVec<TValue>, EngineError> {
        self.plan
            .run(tvec!(input.into()))
            .map_err(|e| EngineError::Inference {
                model: self.name.clone(),
                reason: format!("{e:#}"),
            })
    }
}
