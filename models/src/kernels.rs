//! Operators written for shapes our models use most, where tract 0.23's generic kernels are
//! slow on this CPU (`bench profile`): 2x2 stride-2 max pooling and 3x3 depthwise convolution
//! with a one-pixel zero border. `onnx.rs` swaps them in for the tract nodes they match when a
//! model loads. They work on contiguous NCHW (or CHW) f32 tensors.

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

/// The shared body of both operators' `eval`: the single NCHW (or CHW) f32 input, and an
/// output of the same rank, `out_side` mapping each input side, that `fill` writes in place
/// (an ndarray turned into a tensor would be copied once more).
fn eval_planes(
    inputs: TVec<TValue>,
    out_side: impl Fn(usize) -> usize,
    fill: impl FnOnce([usize; 4], &[f32], &mut [f32]) -> TractResult<()>,
) -> TractResult<TVec<TValue>> {
    let input = args_1!(inputs);
    let [n, c, h, w] = nchw(input.shape())?;
    let x = input.try_as_plain_ram()?.as_slice::<f32>()?;
    let (oh, ow) = (out_side(h), out_side(w));
    let shape: &[usize] = if input.rank() == 3 {
        &[c, oh, ow]
    } else {
        &[n, c, oh, ow]
    };
    let mut output = Tensor::zero::<f32>(shape)?;
    fill(
        [n, c, h, w],
        x,
        output.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
    )?;
    Ok(tvec!(output.into_tvalue()))
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
        eval_planes(
            inputs,
            |side| side / 2,
            |[_, _, h, w], x, out| {
                let pairs = x
                    .chunks_exact(h * w)
                    .flat_map(|plane| plane.chunks_exact(2 * w));
                for (pair, out_row) in pairs.zip(out.chunks_exact_mut(w / 2)) {
                    let (top, bottom) = pair.split_at(w);
                    let blocks = top.chunks_exact(2).zip(bottom.chunks_exact(2));
                    for (o, (t, b)) in out_row.iter_mut().zip(blocks) {
                        *o = t[0].max(t[1]).max(b[0].max(b[1]));
                    }
                }
                Ok(())
            },
        )
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

/// Each channel convolved with its own 3x3 kernel, plus its bias, over a one-pixel zero border.
#[derive(Debug, Clone)]
pub struct DepthwiseConv3x3 {
    /// `[channel][ky * 3 + kx]`.
    pub kernels: Arc<Vec<[f32; 9]>>,
    pub bias: Arc<Vec<f32>>,
    pub stride: usize,
    /// Followed by ReLU, `max(x, 0)`, applied to each row while it is in cache.
    pub relu: bool,
}

/// tract compares ops to merge identical nodes: weights compare by their bits.
impl PartialEq for DepthwiseConv3x3 {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        self.stride == other.stride
            && self.relu == other.relu
            && bits(self.kernels.as_flattened()) == bits(other.kernels.as_flattened())
            && bits(&self.bias) == bits(&other.bias)
    }
}

impl Eq for DepthwiseConv3x3 {}

impl DepthwiseConv3x3 {
    fn check_channels(&self, channels: usize) -> TractResult<()> {
        ensure!(
            channels == self.kernels.len(),
            "{channels} channels for {} kernels",
            self.kernels.len()
        );
        Ok(())
    }

    fn output_side(&self, side: usize) -> usize {
        (side + 2 - 3) / self.stride + 1
    }

    /// One channel; `zeros` is a row of `w` zeros standing for the rows outside the image.
    fn plane(&self, k: &[f32; 9], bias: f32, x: &[f32], zeros: &[f32], w: usize, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above. It only widens the vectors:
            // without FMA every product is rounded before it is added, as on the portable path,
            // so both give the same bits.
            return unsafe { self.plane_avx2(k, bias, x, zeros, w, out) };
        }
        self.plane_portable(k, bias, x, zeros, w, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn plane_avx2(
        &self,
        k: &[f32; 9],
        bias: f32,
        x: &[f32],
        zeros: &[f32],
        w: usize,
        out: &mut [f32],
    ) {
        self.plane_portable(k, bias, x, zeros, w, out)
    }

    #[inline(always)]
    fn plane_portable(
        &self,
        k: &[f32; 9],
        bias: f32,
        x: &[f32],
        zeros: &[f32],
        w: usize,
        out: &mut [f32],
    ) {
        let h = x.len() / w;
        let row = |iy: Option<usize>| match iy.filter(|&iy| iy < h) {
            Some(iy) => &x[iy * w..(iy + 1) * w],
            None => zeros,
        };
        for (y, out_row) in out.chunks_exact_mut(self.output_side(w)).enumerate() {
            let centre = y * self.stride;
            let rows = [
                row(centre.checked_sub(1)),
                row(Some(centre)),
                row(Some(centre + 1)),
            ];
            if self.stride == 1 && w >= 3 {
                row_stride1(k, bias, rows, out_row);
            } else {
                for (ox, o) in out_row.iter_mut().enumerate() {
                    *o = pixel(k, bias, rows, ox * self.stride);
                }
            }
            if self.relu {
                for o in out_row.iter_mut() {
                    *o = o.max(0.0);
                }
            }
        }
    }
}

/// One output pixel centred on input column `ix`; columns outside the image read as zero.
#[inline(always)]
fn pixel(k: &[f32; 9], bias: f32, rows: [&[f32]; 3], ix: usize) -> f32 {
    let mut sum = bias;
    for (r, taps) in rows.iter().zip(k.chunks_exact(3)) {
        if ix > 0 {
            sum += taps[0] * r[ix - 1];
        }
        sum += taps[1] * r[ix];
        if ix + 1 < r.len() {
            sum += taps[2] * r[ix + 1];
        }
    }
    sum
}

/// One stride-1 output row from its three input rows in a single pass: the interior as nine
/// slices of one length, which the compiler vectorises without bounds checks, then the edges.
#[inline(always)]
fn row_stride1(k: &[f32; 9], bias: f32, rows: [&[f32]; 3], out: &mut [f32]) {
    let w = out.len();
    let n = w - 2;
    let [a, b, c] = rows;
    let (a0, a1, a2) = (&a[..n], &a[1..n + 1], &a[2..n + 2]);
    let (b0, b1, b2) = (&b[..n], &b[1..n + 1], &b[2..n + 2]);
    let (c0, c1, c2) = (&c[..n], &c[1..n + 1], &c[2..n + 2]);
    let interior = &mut out[1..n + 1];
    for i in 0..n {
        let mut sum = bias;
        sum += k[0] * a0[i];
        sum += k[1] * a1[i];
        sum += k[2] * a2[i];
        sum += k[3] * b0[i];
        sum += k[4] * b1[i];
        sum += k[5] * b2[i];
        sum += k[6] * c0[i];
        sum += k[7] * c1[i];
        sum += k[8] * c2[i];
        interior[i] = sum;
    }
    out[0] = pixel(k, bias, rows, 0);
    out[w - 1] = pixel(k, bias, rows, w - 1);
}

impl Op for DepthwiseConv3x3 {
    fn name(&self) -> StaticName {
        "DepthwiseConv3x3".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "channels: {} stride: {} relu: {}",
            self.kernels.len(),
            self.stride,
            self.relu
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwiseConv3x3 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        eval_planes(
            inputs,
            |side| self.output_side(side),
            |[n, c, h, w], x, out| {
                self.check_channels(c)?;
                let planes = x
                    .chunks_exact(h * w)
                    .zip(out.chunks_exact_mut(self.output_side(h) * self.output_side(w)));
                let channels = (0..n).flat_map(|_| self.kernels.iter().zip(self.bias.iter()));
                let zeros = vec![0f32; w];
                for ((plane, out_plane), (k, &b)) in planes.zip(channels) {
                    self.plane(k, b, plane, &zeros, w, out_plane);
                }
                Ok(())
            },
        )
    }
}

impl TypedOp for DepthwiseConv3x3 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let [n, c, h, w] = concrete_nchw(inputs[0])?;
        self.check_channels(c)?;
        let (oh, ow) = (self.output_side(h), self.output_side(w));
        Ok(tvec!(output_fact(inputs[0].rank(), [n, c, oh, ow])))
    }

    as_op!();
}
