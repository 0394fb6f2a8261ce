//! Model sets from models/manifest.toml: the default pair's fusion is the pair's mean to the
//! bit, the restricted opt-in set needs the operator's setting, and every file must match its
//! manifest checksum before it is loaded.

mod support;

use liveness_models::{Engine, EngineConfig, EngineError, ModelPaths};
use std::sync::OnceLock;
use support::*;

const OPT_IN: &str = "minifasnet-facenox";

fn opt_in_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let config = EngineConfig {
            model_sets: vec![OPT_IN.into()],
            allow_restricted_models: true,
            threads: 2,
            ..EngineConfig::default()
        };
        Engine::load(&ModelPaths::in_dir(&assets_dir()), config).expect("the opt-in set loads")
    })
}

#[test]
fn the_default_fusion_is_the_mean_of_the_pair_to_the_bit() {
    for name in [
        "silentface_image_T1.jpg",
        "silentface_image_F1.jpg",
        "astronaut.png",
    ] {
        let scores = engine().analyze(&asset(name)).liveness.unwrap();
        assert_eq!(scores.model_set, "minifasnet");
        let (v2, v1se) = (
            &scores.models["minifasnet_v2"],
            &scores.models["minifasnet_v1se"],
        );
        assert_eq!(
            scores.probability.to_bits(),
            ((v2[1] + v1se[1]) / 2.0).to_bits(),
            "{name}"
        );
    }
}

#[test]
fn a_restricted_set_is_refused_without_the_operator_setting() {
    let config = EngineConfig {
        model_sets: vec![OPT_IN.into()],
        ..EngineConfig::default()
    };
    let Err(EngineError::Config(message)) =
        Engine::load(&ModelPaths::in_dir(&assets_dir()), config)
    else {
        panic!("a restricted set loaded without LIVENESS_ALLOW_RESTRICTED_MODELS");
    };
    assert!(
        message.contains("LIVENESS_ALLOW_RESTRICTED_MODELS"),
        "{message}"
    );
    assert!(message.contains("CelebA-Spoof"), "{message}");
}

#[test]
fn an_unknown_set_is_an_error_naming_the_known_ones() {
    let config = EngineConfig {
        model_sets: vec!["no-such-set".into()],
        ..EngineConfig::default()
    };
    let Err(e) = Engine::load(&ModelPaths::in_dir(&assets_dir()), config) else {
        panic!("an unknown set loaded");
    };
    assert!(e.to_string().contains("minifasnet-facenox"), "{e}");
}

#[test]
fn a_model_file_that_differs_from_the_manifest_is_refused() {
    let dir = std::env::temp_dir().join(format!("liveness-sets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "yunet_s_dynamic.onnx",
        "MiniFASNetV2.onnx",
        "MiniFASNetV1SE.onnx",
    ] {
        std::fs::copy(assets_dir().join(name), dir.join(name)).unwrap();
    }
    let mut bytes = asset("MiniFASNetV1SE.onnx");
    bytes[4000] ^= 1;
    std::fs::write(dir.join("MiniFASNetV1SE.onnx"), bytes).unwrap();
    let Err(e) = Engine::load(&ModelPaths::in_dir(&dir), EngineConfig::default()) else {
        panic!("a corrupted model loaded");
    };
    assert!(
        e.to_string().contains("MiniFASNetV1SE.onnx") && e.to_string().contains("sha256"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_opt_in_set_scores_the_samples_with_three_models() {
    let engine = opt_in_engine();
    let set = engine.model_set(Some(OPT_IN)).unwrap();
    assert!(set.restricted);
    let versions = set.model_versions();
    assert_eq!(versions["model_set"], OPT_IN);
    assert!(versions["face_antispoof_minifasnetv2se_128.onnx"].is_string());
    let score = |name: &str| {
        let a = engine.analyze_here_with(set, &asset(name));
        a.liveness.unwrap_or_else(|| panic!("{name}: no face"))
    };
    let live = score("silentface_image_T1.jpg");
    let print = score("silentface_image_F1.jpg");
    let replay = score("silentface_image_F2.jpg");
    for s in [&live, &print, &replay] {
        assert_eq!(s.models.len(), 3);
        let facenox = &s.models["facenox_v2se"];
        assert_eq!(facenox.len(), 2);
        assert!((facenox.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // The second opinion ranks the live sample above both attacks, and so does the fusion.
    let real = |s: &liveness_models::pad::PadScores| s.models["facenox_v2se"][0];
    assert!(real(&live) > real(&print) && real(&live) > real(&replay));
    assert!(live.probability > print.probability && live.probability > replay.probability);
    // The pair's scores inside the opt-in set are the default engine's, model by model.
    let default = engine
        .analyze(&asset("silentface_image_F1.jpg"))
        .liveness
        .unwrap();
    assert_eq!(
        default.models["minifasnet_v2"],
        print.models["minifasnet_v2"]
    );
}
