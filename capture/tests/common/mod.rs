//! Helpers shared by the capture tests: a server key, a realistic burst made from the live
//! sample T1 (each frame with its own sensor-like noise), and sealing with overrides.
#![allow(dead_code)]

use image::RgbImage;
use liveness_capture::{seal, KeyId, Keyring, MemoryStores, Payload, PrivateKey};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn assets() -> PathBuf {
    std::env::var_os("LIVENESS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/assets"))
}

pub fn server_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeyId::parse("test-2026").unwrap()))
}

pub fn keyring() -> Keyring {
    Keyring::new([server_key().clone()])
}

pub fn t1() -> RgbImage {
    let bytes =
        std::fs::read(assets().join("silentface_image_T1.jpg")).expect("run scripts/fetch-models");
    let img = image::load_from_memory(&bytes).unwrap();
    img.to_rgb8()
}

/// Three noisy frames of T1, each a distinct JPEG.
pub fn burst() -> &'static [Vec<u8>] {
    static BURST: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BURST.get_or_init(|| liveness_capture::simulate::noisy_burst(&t1(), 3, 1))
}

pub fn payload(nonce: &str, frames: &[Vec<u8>]) -> Payload {
    liveness_capture::simulate::burst_payload(
        nonce,
        frames,
        "FaceTime HD Camera (1C1C:B782)",
        now_ms(),
    )
    .unwrap()
}

pub fn sealed(payload: &Payload) -> Vec<u8> {
    seal(payload, &server_key().public()).unwrap()
}

pub fn stores_with(nonces: &[&str]) -> MemoryStores {
    let stores = MemoryStores::default();
    for n in nonces {
        stores.issue_nonce(n, now_ms() + 60_000);
    }
    stores
}

/// One more frame of T1, distinct from the burst's.
pub fn other_frame() -> Vec<u8> {
    liveness_capture::simulate::noisy_burst(&t1(), 1, 99).remove(0)
}
