//! Head pose and landmark consistency from the five detector landmarks.
//!
//! Five points cannot give a true 3-D pose; these are first-order estimates from a rigid face
//! model whose nose tip stands NOSE_DEPTH interocular distances in front of the eye line. They
//! are accurate enough to reject a face turned well away from the camera, which is all 707 needs.

use crate::face::{BoundingBox, Landmarks, Point};

/// Nose-tip depth in front of the eyes, in interocular distances (anthropometric average).
const NOSE_DEPTH: f64 = 0.5;
/// Frontal ratio (eye line to nose) / (eye line to mouth), measured on the frontal fixtures.
const FRONTAL_NOSE_RATIO: f64 = 0.5;
/// Landmarks may sit this far outside the box (fraction of its size) and still be consistent.
const BOX_TOLERANCE: f32 = 0.1;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub roll_deg: f64,
    pub yaw_deg: f64,
    pub pitch_deg: f64,
}

/// Points in a frame centred on the eye midpoint with the eye line horizontal.
struct Upright {
    right_eye: (f64, f64),
    left_eye: (f64, f64),
    nose: (f64, f64),
    right_mouth: (f64, f64),
    left_mouth: (f64, f64),
    roll: f64,
    interocular: f64,
}

fn upright(l: &Landmarks) -> Upright {
    let (ex, ey) = (
        (l.left_eye.x - l.right_eye.x) as f64,
        (l.left_eye.y - l.right_eye.y) as f64,
    );
    let roll = ey.atan2(ex);
    let (cx, cy) = (
        (l.left_eye.x + l.right_eye.x) as f64 / 2.0,
        (l.left_eye.y + l.right_eye.y) as f64 / 2.0,
    );
    let (sin, cos) = (-roll).sin_cos();
    let rotate = |p: Point| {
        let (dx, dy) = (p.x as f64 - cx, p.y as f64 - cy);
        (dx * cos - dy * sin, dx * sin + dy * cos)
    };
    Upright {
        right_eye: rotate(l.right_eye),
        left_eye: rotate(l.left_eye),
        nose: rotate(l.nose),
        right_mouth: rotate(l.right_mouth),
        left_mouth: rotate(l.left_mouth),
        roll,
        interocular: ex.hypot(ey),
    }
}

pub fn estimate_pose(l: &Landmarks) -> Pose {
    let u = upright(l);
    let iod = u.interocular.max(1e-6);
    let mouth_y = (u.right_mouth.1 + u.left_mouth.1) / 2.0;
    let yaw = (u.nose.0 / (NOSE_DEPTH * iod)).atan();
    let pitch = ((u.nose.1 - FRONTAL_NOSE_RATIO * mouth_y) / (NOSE_DEPTH * iod)).atan();
    Pose {
        roll_deg: u.roll.to_degrees(),
        yaw_deg: yaw.to_degrees(),
        pitch_deg: pitch.to_degrees(),
    }
}

/// Counts violated rules of an unobstructed face: nose below the eyes, mouth below the nose,
/// mouth corners in the same left-right order as the eyes, and every landmark inside the box.
/// An occluder (hand, phone, mask) makes the detector guess the hidden points, and guesses
/// break these rules.
pub fn landmark_violations(l: &Landmarks, bbox: &BoundingBox) -> u32 {
    let u = upright(l);
    let mouth_y = (u.right_mouth.1 + u.left_mouth.1) / 2.0;
    let mut violations = 0;
    violations += u32::from(u.nose.1 <= 0.0);
    violations += u32::from(mouth_y <= u.nose.1);
    violations += u32::from(u.right_mouth.0 >= u.left_mouth.0);
    violations += u32::from(u.right_eye.0 >= u.left_eye.0);
    let (mx, my) = (bbox.width * BOX_TOLERANCE, bbox.height * BOX_TOLERANCE);
    violations += l
        .all()
        .iter()
        .filter(|p| {
            p.x < bbox.x - mx
                || p.x > bbox.right() + mx
                || p.y < bbox.y - my
                || p.y > bbox.bottom() + my
        })
        .count() as u32;
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    fn frontal() -> Landmarks {
        Landmarks {
            right_eye: p(40.0, 50.0),
            left_eye: p(80.0, 50.0),
            nose: p(60.0, 70.0),
            right_mouth: p(45.0, 90.0),
            left_mouth: p(75.0, 90.0),
        }
    }

    #[test]
    fn frontal_face_is_level() {
        let pose = estimate_pose(&frontal());
        assert!(
            pose.roll_deg.abs() < 1e-9 && pose.yaw_deg.abs() < 1e-9 && pose.pitch_deg.abs() < 1e-9
        );
        let bbox = BoundingBox {
            x: 20.0,
            y: 20.0,
            width: 80.0,
            height: 90.0,
        };
        assert_eq!(landmark_violations(&frontal(), &bbox), 0);
    }

    #[test]
    fn rotating_the_points_gives_roll_not_yaw() {
        let (sin, cos) = 30f32.to_radians().sin_cos();
        let rot = |q: Point| p(q.x * cos - q.y * sin, q.x * sin + q.y * cos);
        let f = frontal();
        let l = Landmarks {
            right_eye: rot(f.right_eye),
            left_eye: rot(f.left_eye),
            nose: rot(f.nose),
            right_mouth: rot(f.right_mouth),
            left_mouth: rot(f.left_mouth),
        };
        let pose = estimate_pose(&l);
        assert!((pose.roll_deg - 30.0).abs() < 1e-3, "{pose:?}");
        assert!(pose.yaw_deg.abs() < 1e-3 && pose.pitch_deg.abs() < 1e-3);
    }

    #[test]
    fn nose_off_centre_is_yaw_and_swapped_mouth_is_a_violation() {
        let mut l = frontal();
        l.nose.x = 78.0;
        assert!(estimate_pose(&l).yaw_deg > 40.0);
        let mut l = frontal();
        std::mem::swap(&mut l.right_mouth, &mut l.left_mouth);
        let bbox = BoundingBox {
            x: 20.0,
            y: 20.0,
            width: 80.0,
            height: 90.0,
        };
        assert_eq!(landmark_violations(&l, &bbox), 1);
    }
}
