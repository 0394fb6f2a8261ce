//! The checks on the frames' pixels: stored sizes against the metadata, motion between
//! frames above sensor noise, and one face throughout.

use super::{Assessment, Policy, SignalName};
use crate::continuity::{compare, Comparison, FaceGeometry};
use image::RgbImage;

impl Assessment {
    /// The pixel checks, given each frame decoded (`None`: it does not decode as JPEG), in
    /// payload order: stored sizes must match the metadata, and consecutive frames must
    /// differ by at least sensor noise.
    pub fn check_frames(&mut self, decoded: &[Option<&RgbImage>], policy: &Policy) {
        let Some(payload) = &self.payload else { return };
        let mut problem = None;
        for (i, (frame, image)) in payload.frames.iter().zip(decoded).enumerate() {
            let stored = image::ImageReader::with_format(
                std::io::Cursor::new(&frame.jpeg),
                image::ImageFormat::Jpeg,
            )
            .into_dimensions();
            match (stored, image) {
                (Ok((w, h)), _) if (w, h) != (frame.width, frame.height) => {
                    problem.get_or_insert(format!(
                        "frame {i} is {w}x{h}, metadata says {}x{}",
                        frame.width, frame.height
                    ));
                }
                (Ok(_), Some(_)) => {}
                (Ok(_), None) => {
                    problem.get_or_insert(format!(
                        "frame {i} was not decoded: unreadable, or past the job's pixel budget"
                    ));
                }
                (Err(_), _) => {
                    problem.get_or_insert(format!("frame {i} is not a decodable JPEG"));
                }
            }
        }
        let problem_free = problem.is_none();
        self.push(
            SignalName::FrameSizesMatch,
            problem_free,
            problem.unwrap_or_default(),
        );
        let images: Vec<&RgbImage> = decoded.iter().flatten().copied().collect();
        if images.len() >= 2 {
            let min = images
                .windows(2)
                .map(|w| sampled_difference(w[0], w[1]))
                .fold(f64::INFINITY, f64::min);
            self.push(
                SignalName::FramesDiffer,
                min >= policy.min_frame_difference,
                format!("smallest mean difference between consecutive frames {min:.3}"),
            );
        }
    }

    /// `same_face`, given the subject's face in each frame where one was found, as (frame
    /// index, decoded frame, geometry) in capture order. Added only when at least two frames
    /// show a face: a single face has nothing to be compared with.
    pub fn check_same_face(&mut self, faces: &[(usize, &RgbImage, FaceGeometry)], policy: &Policy) {
        if faces.len() < 2 {
            return;
        }
        let mut failed = None;
        let mut least_alike: Option<(usize, usize, Comparison)> = None;
        for pair in faces.windows(2) {
            let ((i, image_a, face_a), (j, image_b, face_b)) = (&pair[0], &pair[1]);
            let c = compare((image_a, face_a), (image_b, face_b));
            let mut broken = Vec::new();
            if c.shift > policy.max_face_shift {
                broken.push(format!(
                    "moved {:.3} face widths (at most {})",
                    c.shift, policy.max_face_shift
                ));
            }
            if c.scale_change > policy.max_face_scale_change {
                broken.push(format!(
                    "scale changed by {:.3} (at most {})",
                    c.scale_change, policy.max_face_scale_change
                ));
            }
            if c.landmark_deviation > policy.max_landmark_deviation {
                broken.push(format!(
                    "landmark shape deviates {:.3} (at most {})",
                    c.landmark_deviation, policy.max_landmark_deviation
                ));
            }
            if c.similarity < policy.min_face_similarity {
                broken.push(format!(
                    "aligned faces correlate {:.3} (at least {})",
                    c.similarity, policy.min_face_similarity
                ));
            }
            if !broken.is_empty() && failed.is_none() {
                failed = Some(format!("frames {i} and {j}: {}", broken.join("; ")));
            }
            if least_alike.is_none_or(|(_, _, worst)| c.similarity < worst.similarity) {
                least_alike = Some((*i, *j, c));
            }
        }
        let passed = failed.is_none();
        let detail = failed.unwrap_or_else(|| {
            let (i, j, c) = least_alike.expect("at least one pair");
            format!(
                "least alike, frames {i} and {j}: moved {:.3}, scale {:.3}, landmarks {:.3}, correlation {:.3}",
                c.shift, c.scale_change, c.landmark_deviation, c.similarity
            )
        });
        self.push(SignalName::SameFace, passed, detail);
    }
}

/// Mean absolute luma difference over a grid of single pixels (not averaged blocks, which
/// would smooth away exactly the sensor noise this looks for). Different sizes count as
/// different.
fn sampled_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    if a.dimensions() != b.dimensions() {
        return f64::INFINITY;
    }
    let luma =
        |p: &image::Rgb<u8>| (299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32) / 1000;
    let (w, h) = a.dimensions();
    let step = (w / 160).max(1) as usize;
    let (mut sum, mut n) = (0u64, 0u64);
    for y in (0..h).step_by(step) {
        for x in (0..w).step_by(step) {
            sum += luma(a.get_pixel(x, y)).abs_diff(luma(b.get_pixel(x, y))) as u64;
            n += 1;
        }
    }
    sum as f64 / n.max(1) as f64
}
