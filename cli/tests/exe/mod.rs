//! Running the `liveness` binary from tests that need no database: the command, the model
//! files, and a capture key pair with a burst of frames to seal.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary with the test's model folder; never with restricted models allowed from the
/// caller's environment.
pub fn liveness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveness"))
        .args(args)
        .env("LIVENESS_MODEL_DIR", asset(""))
        .env_remove("LIVENESS_ALLOW_RESTRICTED_MODELS")
        .output()
        .unwrap()
}

/// Stdout of a run that must succeed (else its stderr in the panic).
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn asset(name: &str) -> PathBuf {
    std::env::var_os("LIVENESS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/assets"))
        .join(name)
}

/// A capture key pair made by `liveness keygen` in `dir`.
pub struct KeyPair {
    pub public: String,
    /// `KEY_ID=BASE64URL`, as LIVENESS_CAPTURE_KEYS takes it.
    pub private_entry: String,
}

pub fn keygen(dir: &Path, key_id: &str) -> KeyPair {
    let public = ok(liveness(&[
        "keygen",
        "--key-id",
        key_id,
        "--dir",
        dir.to_str().unwrap(),
    ]))
    .trim()
    .to_string();
    // The key file's key line: the first that is not a comment (its schedule follows).
    let file = std::fs::read_to_string(dir.join(format!("{key_id}.key"))).unwrap();
    let private = file.lines().find(|l| !l.starts_with('#')).unwrap().trim();
    KeyPair {
        public,
        private_entry: format!("{key_id}={private}"),
    }
}

/// Three JPEG frames made from `image` by `liveness burst`, in `dir`; their paths.
pub fn burst(image: &Path, dir: &Path) -> Vec<String> {
    ok(liveness(&[
        "burst",
        "--count",
        "3",
        "--out-dir",
        dir.to_str().unwrap(),
        image.to_str().unwrap(),
    ]))
    .lines()
    .map(str::to_string)
    .collect()
}
