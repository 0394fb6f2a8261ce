//! Loading an ONNX file into an optimised tract plan with a concrete input shape. Concrete
//! shapes let tract pick its fastest kernels and plan memory once, at load time.

use crate::EngineError;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::math;

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
        .and_then(|m| m.into_typed())
        .and_then(|m| m.into_decluttered())
        .and_then(|mut m| {
            rewrite_prelu(&mut m)?;
            m.into_optimized()
        })
        .and_then(|m| m.into_runnable())
        .map_err(wrap)?;
    Ok(OnnxModel { plan, name })
}

impl OnnxModel {
    /// The optimised plan, for profiling.
    pub fn plan(&self) -> &Arc<TypedSimplePlan> {
        &self.plan
    }

    pub fn run(&self, input: Tensor) -> Result<TVec<TValue>, EngineError> {
        self.plan
            .run(tvec!(input.into()))
            .map_err(|e| EngineError::Inference {
                model: self.name.clone(),
                reason: format!("{e:#}"),
            })
    }
}

/// tract expands ONNX `PRelu` into `Iff(x < 0, x * slope, x)` and runs the per-channel `Mul`
/// as one small kernel call per channel, which made PReLU two thirds of MiniFASNet's time
/// (`bench profile`). With every slope <= 1, `max(x, slope * x)` is the same function, and with
/// the slope broadcast to the activation's full (concrete) shape the `Mul` is one elementwise
/// pass. Outputs are bit-identical; each MiniFASNet model runs about 2.5x faster.
/// Returns the number of PReLU nodes rewritten.
fn rewrite_prelu(model: &mut TypedModel) -> TractResult<usize> {
    let mut rewritten = 0;
    for id in 0..model.nodes().len() {
        let Some((x, slope)) = prelu_operands(model, id)? else {
            continue;
        };
        let Some(shape) = model
            .outlet_fact(x)?
            .shape
            .as_concrete()
            .map(<[usize]>::to_vec)
        else {
            continue;
        };
        let name = model.node(id).name.clone();
        let full = model.add_const(format!("{name}.slope"), slope.broadcast_to_shape(&shape)?)?;
        let scaled = model.wire_node(format!("{name}.scaled"), math::mul(), &[x, full])?[0];
        let max = model.wire_node(format!("{name}.max"), math::max(), &[x, scaled])?[0];
        let old = OutletId::new(id, 0);
        for inlet in model.node(id).outputs[0].successors.clone() {
            model.add_edge(max, inlet)?;
        }
        let outputs: Vec<OutletId> = model
            .output_outlets()?
            .iter()
            .map(|&o| if o == old { max } else { o })
            .collect();
        model.select_output_outlets(&outputs)?;
        rewritten += 1;
    }
    Ok(rewritten)
}

/// `(x, slope)` when node `id` is `Iff(0 > x, x * slope, x)` or `Iff(x > 0, x, x * slope)` with
/// a constant f32 slope no greater than 1.
fn prelu_operands(model: &TypedModel, id: usize) -> TractResult<Option<(OutletId, Tensor)>> {
    let node = model.node(id);
    if node.op().name() != "Iff" || node.inputs.len() != 3 {
        return Ok(None);
    }
    let is_zero = |o: OutletId| {
        model.node(o.node).op_as::<Const>().is_some_and(|k| {
            k.val()
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>().map(|s| s.iter().all(|&z| z == 0.0)))
                .unwrap_or(false)
        })
    };
    let cond = model.node(node.inputs[0].node);
    if cond.op().name() != "GT" || cond.inputs.len() != 2 {
        return Ok(None);
    }
    // 0 > x selects the scaled branch first; x > 0 selects x first.
    let (x, scaled) = match (is_zero(cond.inputs[0]), is_zero(cond.inputs[1])) {
        (true, false) => (cond.inputs[1], node.inputs[1]),
        (false, true) => (cond.inputs[0], node.inputs[2]),
        _ => return Ok(None),
    };
    let other_branch = if scaled == node.inputs[1] {
        node.inputs[2]
    } else {
        node.inputs[1]
    };
    let mul = model.node(scaled.node);
    if other_branch != x || mul.op().name() != "Mul" || !mul.inputs.contains(&x) {
        return Ok(None);
    }
    let Some(slope_outlet) = mul.inputs.iter().find(|&&i| i != x) else {
        return Ok(None);
    };
    let Some(slope) = model
        .node(slope_outlet.node)
        .op_as::<Const>()
        .map(|k| k.val().clone())
    else {
        return Ok(None);
    };
    if slope.datum_type() != f32::datum_type()
        || slope
            .try_as_plain_ram()?
            .as_slice::<f32>()?
            .iter()
            .any(|&s| s > 1.0)
    {
        return Ok(None);
    }
    Ok(Some((x, slope.into_tensor())))
}
