//! The browser library's packet code (web/src/packet.js, @hpke/core + cborg), run in Node.js,
//! seals a packet that this repository's `liveness assess` opens with every signal passing.

use std::process::Command;

#[test]
fn packet_sealed_by_the_web_library_opens_on_the_server() {
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
    let face = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/assets/silentface_image_T1.jpg"
    );
    let out = Command::new("node")
        .current_dir(web)
        .args(["--test", "test/packet.test.mjs"])
        .env("LIVENESS_BIN", env!("CARGO_BIN_EXE_liveness"))
        .env("FACE_JPEG", face)
        .output()
        .expect("node runs (scripts/test installs Node.js and web/node_modules)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("# pass 1"),
        "the test was skipped: {report}"
    );
}

/// The React and Vue integrations of web/README.md (web/examples/) bundle with esbuild
/// against the real framework packages and this library.
#[test]
fn the_framework_examples_bundle() {
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
    let out = Command::new("node")
        .current_dir(web)
        .args(["--test", "test/examples.test.mjs"])
        .output()
        .expect("node runs (scripts/test installs Node.js and web/node_modules)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("# pass 2"), "{report}");
}
