//! Image-quality measurements: whole-frame exposure and, on the face, sharpness and brightness.

use crate::face::BoundingBox;
use crate::resize::{resize_into_bgr_planes, Region};
use image::RgbImage;

/// Side of the square the face is resampled to before measuring, so that sharpness does not
/// depend on how many pixels the face happens to cover.
const FACE_PATCH: usize = 128;
/// Sampling budget for whole-frame statistics: enough for a stable mean on any image size.
const FRAME_SAMPLES: u64 = 65_536;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LumaStats {
    pub mean: f64,
    pub std_dev: f64,
}

fn luma(r: f64, g: f64, b: f64) -> f64 {
    0.299 * r + 0.587 * g + 0.114 * b
}

fn stats(values: impl Iterator<Item = f64>) -> LumaStats {
    let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
    for v in values {
        n += 1.0;
        sum += v;
        sq += v * v;
    }
    let mean = if n > 0.0 { sum / n } else { 0.0 };
    let var = if n > 0.0 {
        (sq / n - mean * mean).max(0.0)
    } else {
        0.0
    };
    LumaStats {
        mean,
        std_dev: var.sqrt(),
    }
}

pub fn frame_luma(image: &RgbImage) -> LumaStats {
    let pixels = image.width() as u64 * image.height() as u64;
    let step = (pixels / FRAME_SAMPLES).max(1) as usize;
    stats(
        image
            .as_raw()
            .chunks_exact(3)
            .step_by(step)
            .map(|p| luma(p[0] as f64, p[1] as f64, p[2] as f64)),
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceQuality {
    /// Variance of the 4-neighbour Laplacian on the normalised face patch.
    pub sharpness: f64,
    pub brightness: f64,
}

/// Measures the part of the face box inside the image; `None` when nothing of it is inside.
pub fn face_quality(image: &RgbImage, face: &BoundingBox) -> Option<FaceQuality> {
    let x0 = face.x.max(0.0).floor() as u32;
    let y0 = face.y.max(0.0).floor() as u32;
    let x1 = (face.right().min(image.width() as f32).ceil() as u32).min(image.width());
    let y1 = (face.bottom().min(image.height() as f32).ceil() as u32).min(image.height());
    if x1 <= x0 + 1 || y1 <= y0 + 1 {
        return None;
    }
    let region = Region {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    };
    let n = FACE_PATCH;
    let mut planes = vec![0f32; 3 * n * n];
    resize_into_bgr_planes(image, region, n as u32, n as u32, &mut planes, n, n);
    let (b, rest) = planes.split_at(n * n);
    let (g, r) = rest.split_at(n * n);
    let gray: Vec<f64> = (0..n * n)
        .map(|i| luma(r[i] as f64, g[i] as f64, b[i] as f64))
        .collect();
    let brightness = stats(gray.iter().copied()).mean;
    let laplacian = (1..n - 1)
        .flat_map(|y| (1..n - 1).map(move |x| (x, y)))
        .map(|(x, y)| {
            let at = |x: usize, y: usize| gray[y * n + x];
            at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y)
        });
    let sharpness = stats(laplacian).std_dev.powi(2);
    Some(FaceQuality {
        sharpness,
        brightness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_frame_has_no_contrast_and_no_sharpness() {
        let img = RgbImage::from_pixel(200, 100, image::Rgb([50, 50, 50]));
        let s = frame_luma(&img);
        assert!((s.mean - 50.0).abs() < 1e-9 && s.std_dev < 1e-9);
        let face = BoundingBox {
            x: 10.0,
            y: 10.0,
            width: 80.0,
            height: 80.0,
        };
        let q = face_quality(&img, &face).unwrap();
        assert!(q.sharpness < 1e-9);
    }

    #[test]
    fn checkerboard_is_sharp() {
        let img = RgbImage::from_fn(128, 128, |x, y| {
            if (x / 4 + y / 4) % 2 == 0 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        let face = BoundingBox {
            x: 0.0,
            y: 0.0,
            width: 128.0,
            height: 128.0,
        };
        assert!(face_quality(&img, &face).unwrap().sharpness > 1000.0);
    }

    #[test]
    fn face_fully_outside_is_not_measured() {
        let img = RgbImage::new(100, 100);
        let face = BoundingBox {
            x: 150.0,
            y: 10.0,
            width: 30.0,
            height: 30.0,
        };
        assert!(face_quality(&img, &face).is_none());
    }
}
