//! The subject's face in each frame, as the capture checks take it (`same_face`).

use image::RgbImage;
use liveness_capture::FaceGeometry;
use liveness_models::Analysis;

/// (frame index, decoded frame, subject's face) for every frame in which the engine chose a
/// subject, in capture order; `views[i]` is frame i decoded (`None`: it did not decode).
pub fn subject_faces<'a>(
    analyses: &[Analysis],
    views: &[Option<&'a RgbImage>],
) -> Vec<(usize, &'a RgbImage, FaceGeometry)> {
    analyses
        .iter()
        .zip(views)
        .enumerate()
        .filter_map(|(i, (analysis, view))| {
            let face = analysis.faces.get(analysis.subject?)?;
            let b = face.bbox;
            let geometry = FaceGeometry {
                bbox: [b.x, b.y, b.width, b.height],
                landmarks: face.landmarks.all().map(|p| [p.x, p.y]),
            };
            Some((i, (*view)?, geometry))
        })
        .collect()
}
