//! The engine on real images with the real models: the samples' verdicts, and images derived
//! from them that must each produce exactly one rejection code.

mod support;

use image::{imageops, Rgb, RgbImage};
use support::*;

fn assert_code(analysis: &liveness_models::Analysis, expected: u16) {
    assert_eq!(
        code(analysis),
        Some(expected),
        "expected {expected}, got {:?}; failed gates: {:?}",
        analysis.rejection,
        analysis
            .gates
            .iter()
            .filter(|g| !g.passed)
            .collect::<Vec<_>>()
    );
}

#[test]
fn live_sample_t1_is_live() {
    let a = engine().analyze(&asset("silentface_image_T1.jpg"));
    assert!(a.valid(), "{:?}", a.rejection);
    assert_eq!(a.faces.len(), 1);
    let p = a.liveness.unwrap().probability;
    assert!(p >= 0.9, "P(real) {p}");
}

#[test]
fn printed_photo_f1_is_an_attack() {
    let a = engine().analyze(&asset("silentface_image_F1.jpg"));
    assert_code(&a, 715);
    assert!(a.liveness.unwrap().probability < 0.5);
}

#[test]
fn screen_replay_f2_is_an_attack() {
    let a = engine().analyze(&asset("silentface_image_F2.jpg"));
    assert_code(&a, 715);
    assert!(a.liveness.unwrap().probability < 0.5);
}

#[test]
fn astronaut_portrait_has_one_live_face() {
    let a = engine().analyze(&asset("astronaut.png"));
    assert_eq!(a.faces.len(), 1);
    assert!(a.valid(), "{:?}", a.rejection);
}

#[test]
fn cat_and_coffee_have_no_face() {
    for name in ["chelsea.png", "coffee.png"] {
        let a = engine().analyze(&asset(name));
        assert_code(&a, 704);
        assert!(a.faces.is_empty() && a.liveness.is_none(), "{name}");
    }
}

#[test]
fn truncated_corrupt_and_non_images_are_unreadable() {
    let jpeg = asset("silentface_image_T1.jpg");
    let truncated = &jpeg[..jpeg.len() * 9 / 10];
    let mut corrupt = jpeg.clone();
    for byte in corrupt.iter_mut().skip(600).step_by(7) {
        *byte = 0xFF;
    }
    let png = asset("coffee.png");
    let inputs: [&[u8]; 5] = [
        truncated,
        &corrupt,
        b"%PDF-1.7 definitely not a selfie",
        &[],
        &png[..png.len() / 2],
    ];
    for (i, input) in inputs.iter().enumerate() {
        let a = engine().analyze(input);
        assert_code(&a, 708);
        assert!(a.faces.is_empty(), "input {i}");
    }
}

#[test]
fn face_filling_the_frame_is_too_close_700() {
    let t1 = rgb("silentface_image_T1.jpg");
    let b = face_box(&t1);
    let m = 0.12;
    let tight = crop(
        &t1,
        b.x - m * b.width,
        b.y - m * b.height,
        b.right() + m * b.width,
        b.bottom() + m * b.height,
    );
    // Upscaled so the image itself stays above the minimum resolution (714).
    let tight = imageops::resize(
        &tight,
        tight.width() * 2,
        tight.height() * 2,
        imageops::FilterType::Triangle,
    );
    assert_code(&analyze(&tight), 700);
}

#[test]
fn face_near_the_border_is_701() {
    let t1 = rgb("silentface_image_T1.jpg");
    let b = face_box(&t1);
    let near = crop(&t1, b.x - 0.03 * b.width, 0.0, f32::MAX, f32::MAX);
    assert_code(&analyze(&near), 701);
}

#[test]
fn face_cut_by_the_frame_is_incomplete_702() {
    let t1 = rgb("silentface_image_T1.jpg");
    let b = face_box(&t1);
    let cut = crop(&t1, b.x + 0.3 * b.width, 0.0, f32::MAX, f32::MAX);
    assert_code(&analyze(&cut), 702);
}

#[test]
fn two_faces_side_by_side_are_705() {
    let t1 = rgb("silentface_image_T1.jpg");
    let a = analyze(&side_by_side(&t1, &t1));
    assert_code(&a, 705);
    assert_eq!(a.faces.len(), 2);
}

#[test]
fn small_face_in_a_large_frame_is_706() {
    let t1 = rgb("silentface_image_T1.jpg");
    let (w, h) = (t1.width() * 3 / 10, t1.height() * 3 / 10);
    let small = imageops::resize(&t1, w, h, imageops::FilterType::Triangle);
    let mut canvas = RgbImage::from_pixel(t1.width(), t1.height(), Rgb([128, 128, 128]));
    imageops::replace(&mut canvas, &small, 170, 220);
    assert_code(&analyze(&canvas), 706);
}

#[test]
fn rotated_face_is_707() {
    let t1 = rgb("silentface_image_T1.jpg");
    let b = face_box(&t1);
    let centre = (b.x + b.width / 2.0, b.y + b.height / 2.0);
    for degrees in [45.0, -45.0] {
        let a = analyze(&rotate(&t1, degrees, centre.0, centre.1));
        assert_code(&a, 707);
        assert_eq!(a.rejection.unwrap().reason, "roll_deg", "{degrees}");
    }
}

#[test]
fn blurred_face_and_black_frame_are_713() {
    let t1 = rgb("silentface_image_T1.jpg");
    let blurred = analyze(&imageops::blur(&t1, 5.0));
    assert_code(&blurred, 713);
    assert_eq!(blurred.rejection.unwrap().reason, "face_sharpness");
    let black = analyze(&RgbImage::new(640, 480));
    assert_code(&black, 713);
}

#[test]
fn tiny_or_panoramic_images_are_714() {
    let t1 = rgb("silentface_image_T1.jpg");
    let tiny = imageops::resize(&t1, 150, 200, imageops::FilterType::Triangle);
    assert_code(&analyze(&tiny), 714);
    let strip = RgbImage::from_fn(1800, 400, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    assert_code(&analyze(&strip), 714);
}

#[test]
fn probability_is_reported_even_when_a_gate_rejects() {
    let t1 = rgb("silentface_image_T1.jpg");
    let a = analyze(&side_by_side(&t1, &t1));
    assert_code(&a, 705);
    assert!(a.liveness.is_some());
}

#[test]
fn exif_orientation_is_applied() {
    // T1 is stored as landscape pixels with an orientation tag; upright it is portrait.
    let t1 = rgb("silentface_image_T1.jpg");
    assert!(t1.height() > t1.width());
}

#[test]
fn batch_analysis_keeps_input_order_and_matches_single_runs() {
    let names = [
        "silentface_image_F2.jpg",
        "coffee.png",
        "silentface_image_T1.jpg",
    ];
    let bytes: Vec<Vec<u8>> = names.iter().map(|n| asset(n)).collect();
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    let batch = engine().analyze_many(&refs);
    for (input, result) in refs.iter().zip(&batch) {
        let single = engine().analyze(input);
        assert_eq!(code(result), code(&single));
        assert_eq!(
            result.liveness.as_ref().map(|l| l.probability),
            single.liveness.as_ref().map(|l| l.probability)
        );
    }
    assert_eq!(code(&batch[1]), Some(704));
}
