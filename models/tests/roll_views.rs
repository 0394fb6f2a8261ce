//! Roll views only when they can change the answer: on the samples rotated every 10 degrees
//! from -60 to +60, the engine (which skips the three rotated views for a confident upright
//! detection) decides the roll gate as the rotated views always running would.

mod support;

use liveness_models::pose::estimate_pose;
use support::*;

const SAMPLES: [&str; 4] = [
    "silentface_image_T1.jpg",
    "silentface_image_F1.jpg",
    "silentface_image_F2.jpg",
    "astronaut.png",
];

#[test]
fn the_roll_gate_decides_as_with_every_view_at_every_angle() {
    let detector = engine().detector();
    let max_roll = engine().config().gates.max_roll_deg;
    let (mut skipped, mut judged) = (0, 0);
    for name in SAMPLES {
        let image = rgb(name);
        let b = face_box(&image);
        let centre = (b.x + b.width / 2.0, b.y + b.height / 2.0);
        for degrees in (-6..=6).map(|k| k as f32 * 10.0) {
            let rotated = rotate(&image, degrees, centre.0, centre.1);
            let analysis = analyze(&rotated);
            let Some(subject) = analysis.subject else {
                continue; // no face: no roll gate either way
            };
            judged += 1;
            let face = &analysis.faces[subject];
            // Always probing: the rotated views' roll, or the landmarks' when no view finds it.
            let always = detector
                .measure_roll(&rotated, face)
                .unwrap()
                .map(f64::from)
                .unwrap_or_else(|| estimate_pose(&face.landmarks).roll_deg);
            let gate = analysis
                .gates
                .iter()
                .find(|g| g.gate == "roll_deg")
                .expect("a face has a roll gate");
            assert_eq!(
                gate.passed,
                always.abs() <= max_roll,
                "{name} at {degrees}: gated roll {}, every view {always}",
                gate.measured
            );
            skipped += usize::from(!detector.roll_views_needed(face));
        }
        // Every sample, upright, is judged without the rotated views: that is the saving.
        let upright = analyze(&image);
        assert!(
            !detector.roll_views_needed(&upright.faces[upright.subject.unwrap()]),
            "{name} upright still runs the rotated views"
        );
    }
    eprintln!("{skipped} of {judged} rotated detections skipped the rotated views");
}
