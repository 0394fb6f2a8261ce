//! One person through the burst. Frames about 100 ms apart cannot change identity, so a burst
//! whose frames show different people was assembled, not captured. Two kinds of evidence,
//! compared between each pair of consecutive frames in which a face was found:
//!
//! - **geometry**: the face moves by a fraction of its box's width and keeps its scale, and
//!   the five landmarks keep their shape (what is left after removing the best similarity
//!   transform between the two sets, relative to the interocular distance). Movement and
//!   scale are read from the landmarks, not from the box edges, which jitter several times
//!   more from frame to frame;
//! - **appearance**: each face is aligned by its landmarks onto a fixed template (a similarity
//!   transform, so shift, scale and roll drop out), and the two aligned grey crops are compared
//!   by zero-mean normalised cross-correlation, which ignores brightness and contrast changes
//!   (auto exposure) but not a different face. The best of small offsets (±3 px of the
//!   48-pixel template) counts, so a landmark a pixel or two off does not pass for another
//!   face.
//!
//! What this proves and what it does not is in docs/capture-packet.md (`same_face`).

use image::RgbImage;

/// Where the face detector found the subject in one frame, in that frame's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceGeometry {
    /// x, y, width, height.
    pub bbox: [f32; 4],
    /// Eye, eye, nose tip, mouth corner, mouth corner, the image's left one first in each pair
    /// (the detector's order).
    pub landmarks: [[f32; 2]; 5],
}

/// How two consecutive faces of a burst compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Distance between the landmarks' centroids / the first face box's width.
    pub shift: f64,
    /// |ln(scale)| of the best similarity transform between the two landmark sets: 0.05 is
    /// about a 5 % change either way.
    pub scale_change: f64,
    /// RMS landmark residual after the best similarity fit / the interocular distance.
    pub landmark_deviation: f64,
    /// Normalised cross-correlation of the aligned grey crops, -1 to 1.
    pub similarity: f64,
}

/// Side of the aligned face in pixels. Small on purpose: identity lives in the face's
/// layout and shading, while per-pixel sensor noise and tiny misalignments are averaged away.
pub const ALIGNED_SIDE: usize = 48;
/// How far (aligned pixels) the second face may be offset against the first when comparing;
/// the crop carries this margin on every side.
const SEARCH: usize = 3;
const CROP_SIDE: usize = ALIGNED_SIDE + 2 * SEARCH;

/// Where the five landmarks go in the aligned crop: the widely used 112-pixel face-alignment
/// template (ArcFace's), scaled to [`ALIGNED_SIDE`].
const TEMPLATE_112: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

pub fn compare(
    first: (&RgbImage, &FaceGeometry),
    second: (&RgbImage, &FaceGeometry),
) -> Comparison {
    let (a, b) = (first.1, second.1);
    let ((ax, ay), (bx, by)) = (centroid(&a.landmarks), centroid(&b.landmarks));
    let fit = Similarity::fit(&a.landmarks, &b.landmarks);
    Comparison {
        shift: (bx - ax).hypot(by - ay) / (a.bbox[2] as f64).max(1.0),
        scale_change: fit.a.hypot(fit.b).max(f64::EPSILON).ln().abs(),
        landmark_deviation: landmark_deviation(&a.landmarks, &b.landmarks),
        similarity: best_offset_ncc(&aligned_face(first.0, a), &aligned_face(second.0, b)),
    }
}

fn centroid(points: &[[f32; 2]; 5]) -> (f64, f64) {
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p[0] as f64, y + p[1] as f64));
    (sx / 5.0, sy / 5.0)
}

/// The first crop's central [`ALIGNED_SIDE`]² window against the second's windows offset by
/// up to [`SEARCH`] pixels each way: the highest correlation.
fn best_offset_ncc(first: &[f32], second: &[f32]) -> f64 {
    let window = |crop: &[f32], dx: usize, dy: usize| -> Vec<f32> {
        (0..ALIGNED_SIDE)
            .flat_map(|y| {
                let start = (y + dy) * CROP_SIDE + dx;
                crop[start..start + ALIGNED_SIDE].iter().copied()
            })
            .collect()
    };
    let centre = window(first, SEARCH, SEARCH);
    (0..=2 * SEARCH)
        .flat_map(|dy| (0..=2 * SEARCH).map(move |dx| (dx, dy)))
        .map(|(dx, dy)| ncc(&centre, &window(second, dx, dy)))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// A similarity transform `p -> (a·x - b·y + tx, b·x + a·y + ty)`.
#[derive(Debug, Clone, Copy)]
struct Similarity {
    a: f64,
    b: f64,
    tx: f64,
    ty: f64,
}

impl Similarity {
    /// The least-squares similarity taking `from` onto `to` (Umeyama's method in 2-D, where
    /// rotation and scale together are one complex factor).
    fn fit(from: &[[f32; 2]; 5], to: &[[f32; 2]; 5]) -> Self {
        let ((fx, fy), (tx, ty)) = (centroid(from), centroid(to));
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (p, q) in from.iter().zip(to) {
            let (px, py) = (p[0] as f64 - fx, p[1] as f64 - fy);
            let (qx, qy) = (q[0] as f64 - tx, q[1] as f64 - ty);
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
            norm += px * px + py * py;
        }
        let norm = norm.max(f64::EPSILON);
        let (a, b) = (dot / norm, cross / norm);
        Self {
            a,
            b,
            tx: tx - (a * fx - b * fy),
            ty: ty - (b * fx + a * fy),
        }
    }

    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        )
    }

    fn inverse(&self) -> Self {
        let d = (self.a * self.a + self.b * self.b).max(f64::EPSILON);
        let (a, b) = (self.a / d, -self.b / d);
        Self {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        }
    }
}

fn landmark_deviation(a: &[[f32; 2]; 5], b: &[[f32; 2]; 5]) -> f64 {
    let fit = Similarity::fit(a, b);
    let squared: f64 = a
        .iter()
        .zip(b)
        .map(|(p, q)| {
            let (x, y) = fit.apply(p[0] as f64, p[1] as f64);
            (x - q[0] as f64).powi(2) + (y - q[1] as f64).powi(2)
        })
        .sum();
    let interocular = ((b[1][0] - b[0][0]) as f64).hypot((b[1][1] - b[0][1]) as f64);
    (squared / 5.0).sqrt() / interocular.max(1.0)
}

/// The face aligned onto the template, with a [`SEARCH`]-pixel margin on every side, as
/// grey levels row by row. Each output pixel averages 2×2 bilinear samples, so a large face
/// is not point-sampled.
pub fn aligned_face(image: &RgbImage, face: &FaceGeometry) -> Vec<f32> {
    let scale = ALIGNED_SIDE as f32 / 112.0;
    let margin = SEARCH as f32;
    let template = TEMPLATE_112.map(|[x, y]| [x * scale + margin, y * scale + margin]);
    let to_image = Similarity::fit(&face.landmarks, &template).inverse();
    let mut out = Vec::with_capacity(CROP_SIDE * CROP_SIDE);
    for v in 0..CROP_SIDE {
        for u in 0..CROP_SIDE {
            let mut sum = 0.0;
            for (du, dv) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (x, y) = to_image.apply(u as f64 + du, v as f64 + dv);
                sum += luma_at(image, x - 0.5, y - 0.5);
            }
            out.push(sum / 4.0);
        }
    }
    out
}

/// Bilinear grey level at a sub-pixel position; outside the frame, the nearest edge pixel.
fn luma_at(image: &RgbImage, x: f64, y: f64) -> f32 {
    let [r, g, b] = bilinear(image, x, y);
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Bilinear RGB at a sub-pixel position (pixel centres at integer coordinates); outside the
/// frame, the nearest edge pixel.
pub(crate) fn bilinear(image: &RgbImage, x: f64, y: f64) -> [f32; 3] {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let px =
        |xi: i64, yi: i64| image.get_pixel(xi.clamp(0, w - 1) as u32, yi.clamp(0, h - 1) as u32);
    let (p00, p10, p01, p11) = (
        px(x0, y0),
        px(x0 + 1, y0),
        px(x0, y0 + 1),
        px(x0 + 1, y0 + 1),
    );
    std::array::from_fn(|c| {
        let top = p00[c] as f32 * (1.0 - fx) + p10[c] as f32 * fx;
        let bottom = p01[c] as f32 * (1.0 - fx) + p11[c] as f32 * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// Zero-mean normalised cross-correlation; 0 when either side is flat.
pub fn ncc(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= f64::EPSILON || bb <= f64::EPSILON {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_fit_recovers_a_known_transform() {
        let truth = Similarity {
            a: 1.1 * 0.2f64.cos(),
            b: 1.1 * 0.2f64.sin(),
            tx: 12.0,
            ty: -7.0,
        };
        let from = TEMPLATE_112;
        let to = from.map(|[x, y]| {
            let (x, y) = truth.apply(x as f64, y as f64);
            [x as f32, y as f32]
        });
        let fit = Similarity::fit(&from, &to);
        for (got, want) in [fit.a, fit.b, fit.tx, fit.ty]
            .iter()
            .zip([truth.a, truth.b, truth.tx, truth.ty])
        {
            assert!((got - want).abs() < 1e-3, "{got} vs {want}");
        }
        let back = fit.inverse();
        let (x, y) = back.apply(to[2][0] as f64, to[2][1] as f64);
        assert!((x - from[2][0] as f64).abs() < 1e-3 && (y - from[2][1] as f64).abs() < 1e-3);
        assert!(landmark_deviation(&from, &to) < 1e-4);
    }

    #[test]
    fn moved_landmarks_deviate() {
        let mut other = TEMPLATE_112;
        other[2][1] += 10.0; // a nose 10 px lower: another face shape
        let d = landmark_deviation(&TEMPLATE_112, &other);
        assert!(d > 0.05, "{d}");
    }

    #[test]
    fn ncc_ignores_gain_and_offset_but_not_structure() {
        let a: Vec<f32> = (0..100).map(|i| (i % 10) as f32 * 3.0).collect();
        let brighter: Vec<f32> = a.iter().map(|x| x * 1.5 + 20.0).collect();
        assert!((ncc(&a, &brighter) - 1.0).abs() < 1e-9);
        let other: Vec<f32> = (0..100).map(|i| (i / 10) as f32 * 3.0).collect();
        assert!(ncc(&a, &other).abs() < 0.1);
        assert_eq!(ncc(&a, &[5.0; 100]), 0.0);
    }
}
