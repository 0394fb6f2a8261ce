//! The operator rewrites of `onnx.rs` against tract's own operators, on the real models and the
//! real samples' inputs: the detector's outputs must be bit-identical (max pooling is exact).

mod support;

use liveness_models::onnx::{load_model, load_model_unrewritten};
use support::*;
use tract_onnx::prelude::*;

#[test]
fn detector_outputs_are_bit_identical_without_the_rewrites() {
    let path = assets_dir().join(liveness_models::DETECTOR_FILE);
    let detector = engine().detector();
    let side = detector.input_side();
    let ours = load_model(&path, [1, 3, side, side], true).unwrap();
    let theirs = load_model_unrewritten(&path, [1, 3, side, side], true).unwrap();
    let pools = |m: &liveness_models::onnx::OnnxModel| {
        let plan = m.plan();
        plan.model()
            .nodes()
            .iter()
            .filter(|n| n.op().name() == "MaxPool2x2")
            .count()
    };
    // YuNet's four max-pools are rewritten, and only in the plan that asks for it.
    assert_eq!((pools(&ours), pools(&theirs)), (4, 0));
    let mut compared = 0;
    for name in [
        "silentface_image_T1.jpg",
        "silentface_image_F1.jpg",
        "silentface_image_F2.jpg",
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
    ] {
        let input = detector.preprocess(&rgb(name)).tensor;
        let a = ours.run(input.clone()).unwrap();
        let b = theirs.run(input).unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            let bits = |t: &TValue| -> Vec<u32> {
                let values = t.try_as_plain_ram().unwrap();
                values
                    .as_slice::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            assert_eq!(x.shape(), y.shape(), "{name}");
            assert!(bits(x) == bits(y), "{name}: outputs differ");
            compared += x.len();
        }
    }
    assert!(compared > 0);
}
