//! Parity with an independent implementation: scripts/parity-reference ran the same ONNX files
//! in onnxruntime on numpy preprocessing written from the documented algorithm. Inputs and
//! logits must agree within 1e-4.

mod support;

use liveness_models::face::BoundingBox;
use liveness_models::pad::crop_region;
use serde_json::Value;
use std::path::PathBuf;
use support::*;
use tract_onnx::prelude::Tensor;

const TOLERANCE: f32 = 1e-4;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/parity")
}

fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(data_dir().join("reference.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

/// The input tensor onnxruntime was given, stored beside reference.json as little-endian f32.
fn reference_input(reference: &Value) -> Vec<f32> {
    let raw = std::fs::read(data_dir().join(reference["input_file"].as_str().unwrap())).unwrap();
    raw.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn detector_input_and_detections_match_onnxruntime() {
    let r = reference();
    let image = rgb(r["image"].as_str().unwrap());
    let detector = engine().detector();
    assert_eq!(
        detector.input_side() as u64,
        r["detector_input_side"].as_u64().unwrap()
    );

    let input = values(&detector.preprocess(&image).tensor);
    let sum: f64 = input.iter().map(|&v| v as f64).sum();
    let ref_sum = r["detector_input"]["sum"].as_f64().unwrap();
    assert!(
        (sum - ref_sum).abs() / ref_sum < 1e-6,
        "sum {sum} vs {ref_sum}"
    );
    let stride = r["detector_input"]["sample_stride"].as_u64().unwrap() as usize;
    let sampled: Vec<f32> = input.iter().step_by(stride).copied().collect();
    let diff = max_abs_diff(&sampled, &floats(&r["detector_input"]["samples"]));
    assert!(diff <= TOLERANCE, "detector input differs by {diff}");

    let cfg = engine().config();
    let faces = detector
        .detect(&image, cfg.detection_score_threshold, cfg.nms_iou_threshold)
        .unwrap();
    let ref_faces = r["faces"].as_array().unwrap();
    assert_eq!(faces.len(), ref_faces.len());
    for (face, rf) in faces.iter().zip(ref_faces) {
        assert!((face.score - rf["score"].as_f64().unwrap() as f32).abs() <= TOLERANCE);
        let b = face.bbox;
        // Coordinates are logits scaled by stride and letterbox factor: 1e-4 becomes ~1e-2 px.
        let diff = max_abs_diff(&[b.x, b.y, b.width, b.height], &floats(&rf["box"]));
        assert!(diff <= 1e-2, "box differs by {diff} px");
        let ours: Vec<f32> = face
            .landmarks
            .all()
            .iter()
            .flat_map(|p| [p.x, p.y])
            .collect();
        let theirs: Vec<f32> = rf["landmarks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(floats)
            .collect();
        let diff = max_abs_diff(&ours, &theirs);
        assert!(diff <= 1e-2, "landmarks differ by {diff} px");
    }
}

#[test]
fn pad_inputs_and_logits_match_onnxruntime() {
    let r = reference();
    let image = rgb(r["image"].as_str().unwrap());
    let b = floats(&r["faces"][0]["box"]);
    let face = BoundingBox {
        x: b[0],
        y: b[1],
        width: b[2],
        height: b[3],
    };
    for (id, name) in [
        ("minifasnet_v2", "MiniFASNetV2"),
        ("minifasnet_v1se", "MiniFASNetV1SE"),
    ] {
        let model = engine().pad_model(id).unwrap();
        let reference = &r["pad"][name];
        let crop = crop_region(image.width(), image.height(), &face, model.spec.crop_scale);
        let ref_crop: Vec<u32> = reference["crop"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            [
                crop.x,
                crop.y,
                crop.x + crop.width - 1,
                crop.y + crop.height - 1
            ]
            .as_slice(),
            ref_crop.as_slice(),
            "{name} crop"
        );

        let (tensor, _) = model.preprocess(&image, &face);
        let ours = values(&tensor);
        let theirs = reference_input(reference);
        let diff = max_abs_diff(&ours, &theirs);
        assert!(diff <= TOLERANCE, "{name} input differs by {diff}");

        let logits = model.logits(tensor).unwrap();
        let diff = max_abs_diff(&logits, &floats(&reference["logits"]));
        eprintln!(
            "{name}: input max abs diff {:e}, logits max abs diff {diff:e}",
            max_abs_diff(&ours, &theirs)
        );
        assert!(diff <= TOLERANCE, "{name} logits differ by {diff}");
    }
}

#[test]
fn fused_probability_matches_onnxruntime() {
    let r = reference();
    let a = engine().analyze(&asset(r["image"].as_str().unwrap()));
    let ours = a.liveness.unwrap().probability;
    let theirs = r["face_liveness_probability"].as_f64().unwrap() as f32;
    assert!((ours - theirs).abs() <= TOLERANCE, "{ours} vs {theirs}");
}

/// The facenox model of the opt-in set on three faces: a large one (area shrink), the same
/// image at a quarter of the size (Lanczos enlarge) and a box whose square crosses the image's
/// top-left corner (reflect-101 padding).
#[test]
fn facenox_inputs_and_logits_match_onnxruntime() {
    use liveness_models::pad::Crop;
    use liveness_models::square_crop::Square;
    use liveness_models::{Engine, EngineConfig, ModelPaths};

    let config = EngineConfig {
        model_sets: vec!["minifasnet-facenox".into()],
        allow_restricted_models: true,
        ..EngineConfig::default()
    };
    let engine = Engine::load(&ModelPaths::in_dir(&assets_dir()), config).unwrap();
    let model = engine.pad_model("facenox_v2se").unwrap();
    let r = reference();
    for key in [
        "facenox_minifasnetv2se",
        "facenox_minifasnetv2se_enlarge",
        "facenox_minifasnetv2se_border",
    ] {
        let reference = &r["pad"][key];
        let name = reference["image"].as_str().unwrap();
        let local = data_dir().join(name);
        let image = if local.is_file() {
            liveness_models::decode::decode_rgb(&std::fs::read(local).unwrap()).unwrap()
        } else {
            rgb(name)
        };
        let b = floats(&reference["box"]);
        let face = BoundingBox {
            x: b[0],
            y: b[1],
            width: b[2],
            height: b[3],
        };
        let (tensor, crop) = model.preprocess(&image, &face);
        let c: Vec<i64> = reference["crop"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(
            crop,
            Crop::Square(Square {
                x0: c[0],
                y0: c[1],
                size: c[2] as u32
            }),
            "{key} crop"
        );
        let ours = values(&tensor);
        let theirs = reference_input(reference);
        let input_diff = max_abs_diff(&ours, &theirs);
        assert!(
            input_diff <= TOLERANCE,
            "{key} input differs by {input_diff}"
        );
        let logits = model.logits(tensor).unwrap();
        let diff = max_abs_diff(&logits, &floats(&reference["logits"]));
        eprintln!("{key}: input max abs diff {input_diff:e}, logits max abs diff {diff:e}");
        assert!(diff <= TOLERANCE, "{key} logits differ by {diff}");
        let p_real = liveness_models::pad::softmax(&logits)[0];
        let expected = reference["p_real"].as_f64().unwrap() as f32;
        assert!(
            (p_real - expected).abs() <= TOLERANCE,
            "{key}: {p_real} vs {expected}"
        );
    }
}
