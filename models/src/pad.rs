//! Presentation-attack detection with the two Silent-Face MiniFASNet models.
//!
//! Each model sees the face at its own context scale (2.7x and 4.0x the face box), cropped the
//! way the reference implementation crops: grow the box about its centre, then shift it back
//! inside the image rather than padding, because the models were trained on such crops.

use crate::face::BoundingBox;
use crate::onnx::{load_model, OnnxModel};
use crate::resize::{resize_into_bgr_planes, Region};
use crate::EngineError;
use image::RgbImage;
use serde::Serialize;
use std::path::Path;
use tract_onnx::prelude::*;

pub const PAD_INPUT_SIDE: usize = 80;
/// Index of the "real face" class in the 3-class output; 0 and 2 are attack classes.
const REAL_CLASS: usize = 1;

pub struct PadModel {
    model: OnnxModel,
    pub crop_scale: f32,
    pub name: &'static str,
}

impl PadModel {
    pub fn load(path: &Path, name: &'static str, crop_scale: f32) -> Result<Self, EngineError> {
        let model = load_model(path, [1, 3, PAD_INPUT_SIDE, PAD_INPUT_SIDE], false)?;
        Ok(Self {
            model,
            crop_scale,
            name,
        })
    }

    pub fn preprocess(&self, image: &RgbImage, face: &BoundingBox) -> (Tensor, Region) {
        let region = crop_region(image.width(), image.height(), face, self.crop_scale);
        let side = PAD_INPUT_SIDE;
        let mut data = vec![0f32; 3 * side * side];
        resize_into_bgr_planes(
            image,
            region,
            side as u32,
            side as u32,
            &mut data,
            side,
            side,
        );
        let tensor = Tensor::from_shape(&[1, 3, side, side], &data)
            .expect("buffer matches the shape by construction");
        (tensor, region)
    }

    pub fn logits(&self, input: Tensor) -> Result<[f32; 3], EngineError> {
        let out = self.model.run(input)?;
        let values = out
            .first()
            .and_then(|v| v.try_as_plain_ram().and_then(|p| p.as_slice::<f32>()).ok())
            .filter(|s| s.len() == 3)
            .ok_or_else(|| EngineError::Model(format!("{} did not return 3 logits", self.name)))?;
        Ok([values[0], values[1], values[2]])
    }
}

/// Both models' class probabilities and their fusion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PadScores {
    /// Mean of the two softmaxes' real-class probability.
    pub probability: f32,
    pub minifasnet_v2: [f32; 3],
    pub minifasnet_v1se: [f32; 3],
}

impl PadScores {
    pub fn fuse(v2_logits: [f32; 3], v1se_logits: [f32; 3]) -> Self {
        let minifasnet_v2 = softmax(v2_logits);
        let minifasnet_v1se = softmax(v1se_logits);
        let probability = (minifasnet_v2[REAL_CLASS] + minifasnet_v1se[REAL_CLASS]) / 2.0;
        Self {
            probability,
            minifasnet_v2,
            minifasnet_v1se,
        }
    }
}

pub fn softmax(z: [f32; 3]) -> [f32; 3] {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e = z.map(|v| (v - max).exp());
    let sum: f32 = e.iter().sum();
    e.map(|v| v / sum)
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
        let p = softmax([1.0, 2.0, -3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[0] && p[0] > p[2]);
    }
}
