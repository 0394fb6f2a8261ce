//! An operator written for a shape our detector uses, where tract 0.23's generic kernel is slow
//! on this CPU (`bench profile`): 2x2 stride-2 max pooling. `onnx.rs` swaps it in for the tract
//! nodes it matches when a model loads. It works on contiguous NCHW (or CHW) f32 tensors.

use tract_onnx::tract_core::internal::*;

/// `[n, c, h, w]` of an NCHW tensor, or of a CHW one (tract drops a batch axis of 1).
fn nchw(shape: &[usize]) -> TractResult<[usize; 4]> {
    match *shape {
        [n, c, h, w] => Ok([n, c, h, w]),
        [c, h, w] => Ok([1, c, h, w]),
        _ => bail!("expected an NCHW or CHW tensor, got shape {shape:?}"),
    }
}

fn concrete_nchw(fact: &TypedFact) -> TractResult<[usize; 4]> {
    let Some(shape) = fact.shape.as_concrete() else {
        bail!("expected a concrete shape, got {:?}", fact.shape)
    };
    nchw(shape)
}

/// The output tensor: `[n, c, h, w]`, or `[c, h, w]` when the input had no batch axis.
fn output(rank: usize, [n, c, h, w]: [usize; 4], values: Vec<f32>) -> TractResult<TValue> {
    let shape: &[usize] = if rank == 3 { &[c, h, w] } else { &[n, c, h, w] };
    Ok(
        tract_onnx::tract_core::ndarray::ArrayD::from_shape_vec(shape, values)?
            .into_tensor()
            .into_tvalue(),
    )
}

fn output_fact(rank: usize, [n, c, h, w]: [usize; 4]) -> TypedFact {
    if rank == 3 {
        f32::fact([c, h, w])
    } else {
        f32::fact([n, c, h, w])
    }
}

/// Max over each 2x2 block; height and width must be even (checked when the op is wired).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPool2x2;

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let [n, c, h, w] = nchw(input.shape())?;
        let x = input.try_as_plain_ram()?.as_slice::<f32>()?;
        let (oh, ow) = (h / 2, w / 2);
        // Every output is written below: no need to zero the buffer first.
        let mut out = Vec::with_capacity(n * c * oh * ow);
        for plane in x.chunks_exact(h * w) {
            for pair in plane.chunks_exact(2 * w) {
                let (top, bottom) = pair.split_at(w);
                out.extend(
                    top.chunks_exact(2)
                        .zip(bottom.chunks_exact(2))
                        .map(|(t, b)| t[0].max(t[1]).max(b[0].max(b[1]))),
                );
            }
        }
        Ok(tvec!(output(input.rank(), [n, c, oh, ow], out)?))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let [n, c, h, w] = concrete_nchw(inputs[0])?;
        ensure!(
            h % 2 == 0 && w % 2 == 0,
            "MaxPool2x2 needs even sides, got {h}x{w}"
        );
        Ok(tvec!(output_fact(inputs[0].rank(), [n, c, h / 2, w / 2])))
    }

    as_op!();
}
