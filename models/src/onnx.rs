//! Loading an ONNX file into an optimised tract plan with a concrete input shape. Concrete
//! shapes let tract pick its fastest kernels and plan memory once, at load time.

use crate::kernels::{DepthwiseConv3x3, MaxPool2x2};
use crate::EngineError;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, MaxPool, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::DataFormat;

pub struct OnnxModel {
    plan: Arc<TypedSimplePlan>,
    name: String,
}

pub fn load_model(
    path: &Path,
    input_shape: [usize; 4],
    ignore_declared_shapes: bool,
) -> Result<OnnxModel, EngineError> {
    load(path, input_shape, ignore_declared_shapes, true)
}

/// The same model run entirely by tract's own operators, without this module's rewrites: what
/// the tests compare the rewritten plans against.
pub fn load_model_unrewritten(
    path: &Path,
    input_shape: [usize; 4],
    ignore_declared_shapes: bool,
) -> Result<OnnxModel, EngineError> {
    load(path, input_shape, ignore_declared_shapes, false)
}

fn load(
    path: &Path,
    input_shape: [usize; 4],
    ignore_declared_shapes: bool,
    rewrite: bool,
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
            if rewrite {
                rewrite_prelu(&mut m)?;
                rewrite_max_pool(&mut m)?;
                rewrite_depthwise(&mut m)?;
            }
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
        reroute(model, OutletId::new(id, 0), max)?;
        rewritten += 1;
    }
    Ok(rewritten)
}

/// Points every consumer (and model output) of `old` at `new` instead.
fn reroute(model: &mut TypedModel, old: OutletId, new: OutletId) -> TractResult<()> {
    for inlet in model.outlet_successors(old).to_vec() {
        model.add_edge(new, inlet)?;
    }
    let outputs: Vec<OutletId> = model
        .output_outlets()?
        .iter()
        .map(|&o| if o == old { new } else { o })
        .collect();
    model.select_output_outlets(&outputs)
}

/// Whether a pooling geometry is `size` x `size`, stride `stride`, no dilation, padded by
/// `pad` on every side, channel-first (NCHW, or CHW once tract drops a batch of 1).
fn plain_geometry(spec: &PoolSpec, size: usize, stride: usize, pad: usize) -> bool {
    let all =
        |v: &Option<TVec<usize>>, x: usize| v.as_ref().is_none_or(|v| v.iter().all(|&d| d == x));
    let padded = match &spec.padding {
        PaddingSpec::Valid => pad == 0,
        PaddingSpec::Explicit(before, after) | PaddingSpec::ExplicitOnnxPool(before, after, _) => {
            before.iter().chain(after).all(|&p| p == pad)
        }
        _ => false,
    };
    matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && *spec.kernel_shape == [size, size]
        && spec
            .strides
            .as_ref()
            .is_some_and(|s| s.iter().all(|&d| d == stride))
        && all(&spec.dilations, 1)
        && padded
}

fn concrete_shape(model: &TypedModel, outlet: OutletId) -> TractResult<Option<Vec<usize>>> {
    Ok(model
        .outlet_fact(outlet)?
        .shape
        .as_concrete()
        .map(<[usize]>::to_vec))
}

/// tract's generic pooling kernel walks a patch per output value: YuNet's four 2x2, stride-2
/// max-pools took a fifth of its time (`bench profile`). They become [`MaxPool2x2`], which
/// computes the same values (max is exact). Returns the number of pools rewritten.
fn rewrite_max_pool(model: &mut TypedModel) -> TractResult<usize> {
    let mut rewritten = 0;
    for id in 0..model.nodes().len() {
        let Some(pool) = model.node(id).op_as::<MaxPool>() else {
            continue;
        };
        let x = model.node(id).inputs[0];
        let even = concrete_shape(model, x)?.is_some_and(|s| {
            (s.len() == 4 || s.len() == 3) && s[s.len() - 2] % 2 == 0 && s[s.len() - 1] % 2 == 0
        });
        if pool.with_index_outputs.is_some() || !plain_geometry(&pool.pool_spec, 2, 2, 0) || !even {
            continue;
        }
        let name = model.node(id).name.clone();
        let pooled = model.wire_node(format!("{name}.2x2"), MaxPool2x2, &[x])?[0];
        reroute(model, OutletId::new(id, 0), pooled)?;
        rewritten += 1;
    }
    Ok(rewritten)
}

fn is_const_zero(model: &TypedModel, outlet: OutletId) -> bool {
    f32_values(model, outlet).is_some_and(|v| v.iter().all(|&z| z == 0.0))
}

/// The node that applies ReLU (`max(x, 0)`) to `x` when it is `x`'s only consumer.
fn sole_relu(model: &TypedModel, x: OutletId) -> Option<usize> {
    let &[inlet] = model.outlet_successors(x) else {
        return None;
    };
    let node = model.node(inlet.node);
    let other = node.inputs.iter().find(|&&i| i != x)?;
    (node.op().name() == "Max" && node.inputs.len() == 2 && is_const_zero(model, *other))
        .then_some(node.id)
}

fn f32_values(model: &TypedModel, outlet: OutletId) -> Option<Vec<f32>> {
    let konst = model.node(outlet.node).op_as::<Const>()?;
    let values = konst.val().try_as_plain_ram().ok()?;
    values.as_slice::<f32>().ok().map(<[f32]>::to_vec)
}

/// tract runs depthwise convolutions through a generic kernel, a third of YuNet's time and a
/// quarter of MiniFASNet's (`bench profile`). Every 3x3 one with a one-pixel zero border,
/// channel-first, becomes [`DepthwiseConv3x3`], with the ReLU that alone follows it folded in.
/// It adds the same products in the same order as tract: the outputs are bit-identical
/// (models/tests/kernels.rs). Returns the number rewritten.
fn rewrite_depthwise(model: &mut TypedModel) -> TractResult<usize> {
    let mut rewritten = 0;
    for id in 0..model.nodes().len() {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else {
            continue;
        };
        let channels = conv.input_channels();
        let Some(stride) = [1, 2]
            .into_iter()
            .find(|&s| plain_geometry(&conv.pool_spec, 3, s, 1))
        else {
            continue;
        };
        let depthwise = conv.group == channels
            && conv.output_channels() == channels
            && conv.q_params.is_none()
            && conv.kernel_fmt == KernelFormat::OIHW
            && node.inputs.len() == 3;
        if !depthwise {
            continue;
        }
        let x = node.inputs[0];
        let (Some(kernel), Some(bias)) = (
            f32_values(model, node.inputs[1]),
            f32_values(model, node.inputs[2]),
        ) else {
            continue;
        };
        let rank_ok = concrete_shape(model, x)?
            .is_some_and(|s| (s.len() == 3 || s.len() == 4) && s[s.len() - 3] == channels);
        if kernel.len() != channels * 9 || !(bias.len() == channels || bias.len() == 1) || !rank_ok
        {
            continue;
        }
        let bias = if bias.len() == 1 {
            vec![bias[0]; channels]
        } else {
            bias
        };
        // A ReLU right after the convolution is applied in the same pass over each row.
        let conv_out = OutletId::new(id, 0);
        let is_output = model.output_outlets()?.contains(&conv_out);
        let relu = sole_relu(model, conv_out).filter(|_| !is_output);
        let op = DepthwiseConv3x3 {
            relu: relu.is_some(),
            kernels: Arc::new(
                kernel
                    .chunks_exact(9)
                    .map(|k| k.try_into().expect("chunks of 9"))
                    .collect(),
            ),
            bias: Arc::new(bias),
            stride,
        };
        let name = model.node(id).name.clone();
        let out = model.wire_node(format!("{name}.depthwise3x3"), op, &[x])?[0];
        let replaced = relu.map_or(conv_out, |relu| OutletId::new(relu, 0));
        reroute(model, replaced, out)?;
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
    let is_zero = |o: OutletId| is_const_zero(model, o);
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
