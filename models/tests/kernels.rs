//! The operator rewrites of `onnx.rs` (max-pool, depthwise convolution) against tract's own
//! operators, on the real models and the real samples' inputs: every output must be
//! bit-identical, so no detection, score or verdict can change.

mod support;

use liveness_models::onnx::{load_model, load_model_unrewritten, OnnxModel};
use support::*;
use tract_onnx::prelude::*;

const SAMPLES: [&str; 6] = [
    "silentface_image_T1.jpg",
    "silentface_image_F1.jpg",
    "silentface_image_F2.jpg",
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
];

fn nodes(model: &OnnxModel, op: &str) -> usize {
    let plan = model.plan();
    plan.model()
        .nodes()
        .iter()
        .filter(|n| n.op().name() == op)
        .count()
}

fn bits(outputs: &[TValue]) -> Vec<Vec<u32>> {
    outputs
        .iter()
        .map(|t| {
            let values = t.try_as_plain_ram().unwrap();
            let values = values.as_slice::<f32>().unwrap();
            values.iter().map(|v| v.to_bits()).collect()
        })
        .collect()
}

/// Runs both plans on `input`; returns how many values were compared.
fn assert_identical(ours: &OnnxModel, theirs: &OnnxModel, input: Tensor, what: &str) -> usize {
    let a = ours.run(input.clone()).unwrap();
    let b = theirs.run(input).unwrap();
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.shape(), y.shape(), "{what}");
    }
    assert!(bits(&a) == bits(&b), "{what}: outputs differ");
    a.iter().map(|t| t.len()).sum()
}

#[test]
fn detector_outputs_are_bit_identical_without_the_rewrites() {
    let path = assets_dir().join(liveness_models::DETECTOR_FILE);
    let detector = engine().detector();
    let side = detector.input_side();
    let ours = load_model(&path, [1, 3, side, side], true).unwrap();
    let theirs = load_model_unrewritten(&path, [1, 3, side, side], true).unwrap();
    // YuNet's four max-pools and its depthwise convolutions in channel-first layout (tract
    // turns the six in the output heads channel-last; those stay tract's), only where asked.
    assert_eq!(
        (nodes(&ours, "MaxPool2x2"), nodes(&theirs, "MaxPool2x2")),
        (4, 0)
    );
    assert_eq!(
        (
            nodes(&ours, "DepthwiseConv3x3"),
            nodes(&theirs, "DepthwiseConv3x3")
        ),
        (14, 0)
    );
    let mut compared = 0;
    for name in SAMPLES {
        let input = detector.preprocess(&rgb(name)).tensor;
        compared += assert_identical(&ours, &theirs, input, name);
    }
    assert!(compared > 0);
}

#[test]
fn anti_spoofing_outputs_are_bit_identical_without_the_rewrites() {
    for id in ["minifasnet_v2", "minifasnet_v1se"] {
        let model = engine().pad_model(id).unwrap();
        let side = model.spec.input_side;
        let path = assets_dir().join(&model.spec.file);
        let ours = load_model(&path, [1, 3, side, side], false).unwrap();
        let theirs = load_model_unrewritten(&path, [1, 3, side, side], false).unwrap();
        // 13 stride-1 and 3 stride-2 depthwise convolutions; the final 5x5 one stays tract's.
        assert_eq!(nodes(&ours, "DepthwiseConv3x3"), 16, "{id}");
        assert_eq!(nodes(&theirs, "DepthwiseConv3x3"), 0, "{id}");
        for name in &SAMPLES[..4] {
            let image = rgb(name);
            let (input, _) = model.preprocess(&image, &face_box(&image));
            assert_identical(&ours, &theirs, input, &format!("{id} on {name}"));
        }
    }
}
