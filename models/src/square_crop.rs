//! The "square-reflect" crop of models trained with the facenox reference code: a square of
//! `scale` x max(w, h) about the face box, the part outside the image filled by reflect-101,
//! resized to the model's side with area averaging (shrinking) or Lanczos-4 (enlarging) and
//! reflect-padded when the resize falls a pixel short.
//!
//! Each step follows the reference's integer arithmetic (truncated box, truncated square) and
//! OpenCV's INTER_AREA and INTER_LANCZOS4 weights; the whole chain is one separable weighted
//! sum in f64 over source pixels, rounded to 8 bits once at the end as cv2 does on the
//! reference's uint8 image (without that, P(real) of a small, upscaled face moved by 0.017).
//! scripts/py/ortref.py implements the same specification independently; the parity test
//! holds the two within 1e-4.

use crate::face::BoundingBox;
use image::RgbImage;

/// The square in source pixel coordinates; it may extend past any edge of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Square {
    pub x0: i64,
    pub y0: i64,
    pub size: u32,
}

pub fn square(face: &BoundingBox, scale: f32) -> Square {
    let (ix, iy) = (face.x.trunc() as f64, face.y.trunc() as f64);
    let (iw, ih) = (face.width.trunc() as f64, face.height.trunc() as f64);
    let max_dim = iw.max(ih).max(1.0);
    let half = max_dim * scale as f64 / 2.0;
    Square {
        x0: (ix + iw / 2.0 - half).trunc() as i64,
        y0: (iy + ih / 2.0 - half).trunc() as i64,
        size: ((max_dim * scale as f64).trunc() as u32).max(1),
    }
}

/// OpenCV's BORDER_REFLECT_101 index into `0..n`, for offsets any distance outside.
pub fn reflect101(mut i: i64, n: i64) -> i64 {
    if n == 1 {
        return 0;
    }
    loop {
        if i < 0 {
            i = -i;
        } else if i >= n {
            i = 2 * n - 2 - i;
        } else {
            return i;
        }
    }
}

/// Source pixels and weights that make each of `side` outputs along one axis, composing the
/// reflect into the image, the resize and the final padding.
fn axis_taps(start: i64, size: u32, image_len: u32, side: u32) -> Vec<Vec<(u32, f64)>> {
    // The reference reflects about the part of the square inside the image.
    let a = start.clamp(0, image_len as i64 - 1);
    let b = (start + size as i64).clamp(a + 1, image_len as i64);
    let source = |k: i64| (a + reflect101(start + k - a, b - a)) as u32;

    let ratio = side as f64 / size as f64;
    let scaled = ((size as f64 * ratio).trunc() as u32).clamp(1, side);
    let resize = if ratio > 1.0 {
        lanczos4_weights(size, scaled)
    } else {
        area_weights(size, scaled)
    };
    let before = ((side - scaled) / 2) as i64;
    (0..side as i64)
        .map(|o| {
            let s = reflect101(o - before, scaled as i64) as usize;
            resize[s]
                .iter()
                .map(|&(k, w)| (source(k as i64), w))
                .collect()
        })
        .collect()
}

/// OpenCV INTER_AREA's general-scale weights (shrinking): each output averages the source
/// cells it covers, partial cells by their covered fraction.
pub fn area_weights(src: u32, dst: u32) -> Vec<Vec<(u32, f64)>> {
    let scale = src as f64 / dst as f64;
    let n = src as f64;
    (0..dst)
        .map(|d| {
            let f1 = d as f64 * scale;
            let f2 = f1 + scale;
            let cell = scale.min(n - f1);
            let s2 = f2.floor().min(n - 1.0);
            let s1 = f1.ceil().min(s2);
            let mut taps = Vec::new();
            if s1 - f1 > 1e-3 {
                taps.push(((s1 - 1.0) as u32, (s1 - f1) / cell));
            }
            let mut s = s1;
            while s < s2 {
                taps.push((s as u32, 1.0 / cell));
                s += 1.0;
            }
            if f2 - s2 > 1e-3 {
                taps.push((s2 as u32, (f2 - s2).min(1.0).min(cell) / cell));
            }
            taps
        })
        .collect()
}

/// OpenCV INTER_LANCZOS4's 8-tap weights (enlarging), source indices clamped to the edge.
pub fn lanczos4_weights(src: u32, dst: u32) -> Vec<Vec<(u32, f64)>> {
    const S45: f64 = std::f64::consts::FRAC_1_SQRT_2;
    const CS: [(f64, f64); 8] = [
        (1.0, 0.0),
        (-S45, -S45),
        (0.0, 1.0),
        (S45, -S45),
        (-1.0, 0.0),
        (S45, S45),
        (0.0, -1.0),
        (-S45, S45),
    ];
    let scale = src as f64 / dst as f64;
    let last = src as i64 - 1;
    (0..dst)
        .map(|d| {
            let f = (d as f64 + 0.5) * scale - 0.5;
            let s = f.floor();
            let t = f - s;
            let mut coeffs = [0f64; 8];
            if t < f32::EPSILON as f64 {
                coeffs[3] = 1.0;
            } else {
                let y0 = -(t + 3.0) * std::f64::consts::FRAC_PI_4;
                let (s0, c0) = y0.sin_cos();
                for (k, (a, b)) in CS.iter().enumerate() {
                    let y = -(t + 3.0 - k as f64) * std::f64::consts::FRAC_PI_4;
                    coeffs[k] = (a * s0 + b * c0) / (y * y);
                }
                let sum: f64 = coeffs.iter().sum();
                coeffs.iter_mut().for_each(|c| *c /= sum);
            }
            coeffs
                .iter()
                .enumerate()
                .map(|(k, &w)| ((s as i64 - 3 + k as i64).clamp(0, last) as u32, w))
                .collect()
        })
        .collect()
}

/// Writes the crop, resized to `side` x `side`, as 0-255 floats into a planar
/// `[3, side, side]` buffer in `order` (indices into R, G, B).
pub fn write_planes(
    image: &RgbImage,
    square: Square,
    side: u32,
    order: [usize; 3],
    planes: &mut [f32],
) {
    let cols = axis_taps(square.x0, square.size, image.width(), side);
    let rows = axis_taps(square.y0, square.size, image.height(), side);
    let side = side as usize;
    // Horizontal pass once per source row any output row needs.
    let mut horizontal: Vec<Option<Vec<[f64; 3]>>> = vec![None; image.height() as usize];
    for (oy, row_taps) in rows.iter().enumerate() {
        let mut acc = vec![[0f64; 3]; side];
        for &(sy, wy) in row_taps {
            let h = horizontal[sy as usize].get_or_insert_with(|| {
                cols.iter()
                    .map(|taps| {
                        let mut px = [0f64; 3];
                        for &(sx, wx) in taps {
                            let p = image.get_pixel(sx, sy).0;
                            for c in 0..3 {
                                px[c] += wx * p[c] as f64;
                            }
                        }
                        px
                    })
                    .collect()
            });
            for (a, p) in acc.iter_mut().zip(h.iter()) {
                for c in 0..3 {
                    a[c] += wy * p[c];
                }
            }
        }
        for (ox, px) in acc.iter().enumerate() {
            for (plane, &channel) in order.iter().enumerate() {
                // The reference resizes a uint8 image: its output is rounded (half to even,
                // as OpenCV's saturate_cast) and clamped, which Lanczos' negative lobes need.
                planes[plane * side * side + oy * side + ox] =
                    px[channel].round_ties_even().clamp(0.0, 255.0) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect101_mirrors_without_repeating_the_edge() {
        let got: Vec<i64> = (-3..8).map(|i| reflect101(i, 5)).collect();
        assert_eq!(got, [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]);
        assert_eq!(reflect101(-7, 3), 1);
        assert_eq!(reflect101(5, 1), 0);
    }

    #[test]
    fn the_square_truncates_like_the_reference() {
        let face = BoundingBox {
            x: 10.9,
            y: 20.2,
            width: 50.7,
            height: 41.0,
        };
        // ix 10, iw 50, max 50, cx 35, half 37.5: x0 = trunc(-2.5) = -2; cy 40.5 -> y0 3.
        assert_eq!(
            square(&face, 1.5),
            Square {
                x0: -2,
                y0: 3,
                size: 75
            }
        );
    }

    #[test]
    fn weights_sum_to_one() {
        for (src, dst) in [(300, 128), (257, 128), (128, 128), (256, 128)] {
            for taps in area_weights(src, dst) {
                let sum: f64 = taps.iter().map(|t| t.1).sum();
                assert!((sum - 1.0).abs() < 1e-9, "area {src}->{dst}: {sum}");
            }
        }
        for taps in lanczos4_weights(70, 128) {
            let sum: f64 = taps.iter().map(|t| t.1).sum();
            assert!((sum - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn an_integer_shrink_averages_whole_cells() {
        let taps = area_weights(4, 2);
        assert_eq!(taps[0], [(0, 0.5), (1, 0.5)]);
        assert_eq!(taps[1], [(2, 0.5), (3, 0.5)]);
    }

    #[test]
    fn a_flat_image_stays_flat_through_reflection_and_resize() {
        let image = RgbImage::from_pixel(40, 30, image::Rgb([10, 20, 30]));
        let mut planes = vec![0f32; 3 * 16 * 16];
        let sq = Square {
            x0: -10,
            y0: -5,
            size: 50,
        };
        write_planes(&image, sq, 16, [2, 1, 0], &mut planes);
        assert!(planes[..256].iter().all(|v| (v - 30.0).abs() < 1e-4));
        assert!(planes[512..].iter().all(|v| (v - 10.0).abs() < 1e-4));
    }
}
