//! scripts/fetch-models: copies from a mirror and refuses a file whose checksum differs.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("liveness-fetch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fetch(target: &Path, mirror: &Path) -> Output {
    Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/fetch-models"
    ))
    .env("LIVENESS_MODEL_DIR", target)
    .env("LIVENESS_MODEL_MIRROR", mirror)
    .output()
    .expect("scripts/fetch-models runs")
}

#[test]
fn fetches_every_file_from_a_mirror() {
    let target = scratch("ok");
    let out = fetch(&target, &support::assets_dir());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "yunet_s_dynamic.onnx",
        "MiniFASNetV2.onnx",
        "silentface_image_T1.jpg",
        "coffee.png",
    ] {
        assert!(target.join(name).is_file(), "{name} missing");
    }
    std::fs::remove_dir_all(target).unwrap();
}

#[test]
fn checksum_mismatch_is_a_hard_error_naming_the_file() {
    let (target, mirror) = (scratch("bad-target"), scratch("bad-mirror"));
    let mut model = support::asset("MiniFASNetV2.onnx");
    model[1000] ^= 0x55;
    std::fs::write(mirror.join("MiniFASNetV2.onnx"), model).unwrap();
    std::fs::copy(
        support::assets_dir().join("yunet_s_dynamic.onnx"),
        mirror.join("yunet_s_dynamic.onnx"),
    )
    .unwrap();
    let out = fetch(&target, &mirror);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("MiniFASNetV2.onnx") && stderr.contains("does not match"),
        "{stderr}"
    );
    assert!(
        !target.join("MiniFASNetV2.onnx").exists(),
        "a bad file must not be installed"
    );
    std::fs::remove_dir_all(target).unwrap();
    std::fs::remove_dir_all(mirror).unwrap();
}

#[test]
fn restricted_files_are_left_out_when_the_build_redistributes() {
    let target = scratch("unrestricted");
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/fetch-models"
    ))
    .env("LIVENESS_MODEL_DIR", &target)
    .env("LIVENESS_MODEL_MIRROR", support::assets_dir())
    .env("LIVENESS_FETCH_RESTRICTED", "false")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("skipped (restricted licence)"), "{stderr}");
    assert!(!target
        .join("face_antispoof_minifasnetv2se_128.onnx")
        .exists());
    assert!(target.join("MiniFASNetV1SE.onnx").is_file());
    std::fs::remove_dir_all(target).unwrap();
}
