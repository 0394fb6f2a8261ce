//! Presentation-attack detection: one `PadModel` per [[pad_model]] of models/manifest.toml,
//! each fed the crop it was trained on, and their fusion into one P(real) by a model set.
//!
//! The Silent-Face MiniFASNet crop ("shift-inside") grows the box about its centre, then shifts
//! it back inside the image rather than padding, because the models were trained on such crops.
//! The facenox crop ("square-reflect") is in `square_crop`.

use crate::face::BoundingBox;
use crate::manifest::{Colour, CropMode, PadSpec};
use crate::onnx::{load_model, OnnxModel};
use crate::resize::{resize_into_bgr_planes, Region};
use crate::square_crop::{self, Square};
use crate::EngineError;
use image::RgbImage;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use tract_onnx::prelude::*;

/// Where a model's crop came from, in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crop {
    Inside(Region),
    Square(Square),
}

pub struct PadModel {
    model: OnnxModel,
    pub spec: PadSpec,
}

impl PadModel {
    pub fn load(dir: &Path, spec: &PadSpec) -> Result<Self, EngineError> {
        let side = spec.input_side;
        let model = load_model(
            &dir.join(&spec.file),
            [1, 3, side, side],
            spec.symbolic_batch,
        )?;
        Ok(Self {
            model,
            spec: spec.clone(),
        })
    }

    /// The manifest id, e.g. `minifasnet_v2`.
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The optimised plan, for profiling.
    pub fn onnx(&self) -> &OnnxModel {
        &self.model
    }

    pub fn preprocess(&self, image: &RgbImage, face: &BoundingBox) -> (Tensor, Crop) {
        let spec = &self.spec;
        let side = spec.input_side;
        let mut data = vec![0f32; 3 * side * side];
        let crop = match spec.crop {
            CropMode::ShiftInside => {
                let region = crop_region(image.width(), image.height(), face, spec.crop_scale);
                resize_into_bgr_planes(
                    image,
                    region,
                    side as u32,
                    side as u32,
                    &mut data,
                    side,
                    side,
                );
                if spec.colour == Colour::Rgb {
                    let (blue, rest) = data.split_at_mut(side * side);
                    blue.swap_with_slice(&mut rest[side * side..]);
                }
                Crop::Inside(region)
            }
            CropMode::SquareReflect => {
                let square = square_crop::square(face, spec.crop_scale);
                let order = match spec.colour {
                    Colour::Rgb => [0, 1, 2],
                    Colour::Bgr => [2, 1, 0],
                };
                square_crop::write_planes(image, square, side as u32, order, &mut data);
                Crop::Square(square)
            }
        };
        if !spec.raw_pixels() {
            for (plane, values) in data.chunks_exact_mut(side * side).enumerate() {
                let (mean, std) = (spec.mean[plane], spec.std[plane]);
                for v in values {
                    *v = (*v * spec.value_scale - mean) / std;
                }
            }
        }
        let tensor = Tensor::from_shape(&[1, 3, side, side], &data)
            .expect("buffer matches the shape by construction");
        (tensor, crop)
    }

    pub fn logits(&self, input: Tensor) -> Result<Vec<f32>, EngineError> {
        let out = self.model.run(input)?;
        out.first()
            .and_then(|v| v.try_as_plain_ram().and_then(|p| p.as_slice::<f32>()).ok())
            .filter(|s| s.len() == self.spec.classes)
            .map(<[f32]>::to_vec)
            .ok_or_else(|| {
                EngineError::Model(format!(
                    "{} did not return {} logits",
                    self.spec.id, self.spec.classes
                ))
            })
    }
}

/// Every model's class probabilities and the set's fused P(real).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PadScores {
    /// The model set that judged.
    pub model_set: String,
    /// Weighted mean of the models' real-class probabilities.
    pub probability: f32,
    /// Softmax per model, by manifest id.
    pub models: BTreeMap<String, Vec<f32>>,
}

impl PadScores {
    /// `outputs` holds each model's spec and softmax, in the set's order, with its weight.
    pub fn fuse(model_set: &str, outputs: &[(&PadSpec, f32, Vec<f32>)]) -> Self {
        let weight_sum: f32 = outputs.iter().map(|(_, w, _)| w).sum();
        // Summed in the set's order: for the default pair, 0.5 a + 0.5 b is (a + b) / 2 to
        // the bit, the fusion the engine had before sets existed.
        let weighted: f32 = outputs
            .iter()
            .map(|(spec, w, p)| w * p[spec.live_class])
            .sum();
        Self {
            model_set: model_set.to_string(),
            probability: weighted / weight_sum,
            models: outputs
                .iter()
                .map(|(spec, _, p)| (spec.id.clone(), p.clone()))
                .collect(),
        }
    }
}

pub fn softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// Silent-Face's crop box: the face box scaled about its centre (the scale capped so the crop
/// fits the image), shifted inside the image, integer corners truncated, inclusive.
pub fn crop_region(img_w: u32, img_h: u32, face: &BoundingBox, scale: f32) -> Region {
    let (w, h) = (img_w as f64, img_h as f64);
    let (bx, by) = (face.x as f64, face.y as f64);
    let (bw, bh) = ((face.width as f64).max(1.0), (face.height as f64).max(1.0));
    let scale = (scale as f64).min((h - 1.0) / bh).min((w - 1.0) / bw);
    let (nw, nh) = (bw * scale, bh * scale);
    let (cx, cy) = (bx + bw / 2.0, by + bh / 2.0);
    let (mut l, mut t, mut r, mut b) = (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if l < 0.0 {
        r -= l;
        l = 0.0;
    }
    if t < 0.0 {
        b -= t;
        t = 0.0;
    }
    if r > w - 1.0 {
        l -= r - w + 1.0;
        r = w - 1.0;
    }
    if b > h - 1.0 {
        t -= b - h + 1.0;
        b = h - 1.0;
    }
    // Truncation toward zero as Python's int(); clamp guards boxes far outside the frame.
    let clamp = |v: f64, max: f64| (v.trunc().clamp(0.0, max)) as u32;
    let (l, t) = (clamp(l, w - 1.0), clamp(t, h - 1.0));
    let (r, b) = (clamp(r, w - 1.0).max(l), clamp(b, h - 1.0).max(t));
    Region {
        x: l,
        y: t,
        width: r - l + 1,
        height: b - t + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_is_shifted_inside_not_padded() {
        let face = BoundingBox {
            x: 10.0,
            y: 10.0,
            width: 50.0,
            height: 60.0,
        };
        let r = crop_region(640, 480, &face, 2.7);
        assert_eq!((r.x, r.y), (0, 0));
        assert_eq!((r.width, r.height), (136, 163));
    }

    #[test]
    fn crop_scale_is_capped_to_fit_the_image() {
        let face = BoundingBox {
            x: 100.0,
            y: 100.0,
            width: 200.0,
            height: 200.0,
        };
        let r = crop_region(400, 300, &face, 4.0);
        assert!(r.x + r.width <= 400 && r.y + r.height <= 300);
        assert_eq!(r.height, 300);
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, -3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[0] && p[0] > p[2]);
    }
}
