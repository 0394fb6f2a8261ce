//! Captures for tests: bursts of the samples, jittered and resized frames, sealed packets
//! and the multipart form that carries them.
#![allow(dead_code)]

use super::*;

pub fn form(packet: Vec<u8>) -> Form {
    Form::new().part(
        "encrypted_file",
        Part::bytes(packet).file_name("capture.lvcp"),
    )
}

/// Three frames of a sample with fresh noise: every call is a new capture, never a replay.
pub fn burst(image: &str) -> Vec<Vec<u8>> {
    static SEED: AtomicU32 = AtomicU32::new(1);
    let bytes = std::fs::read(assets().join(image)).expect("run scripts/fetch-models");
    let rgb = liveness_models::decode::decode_rgb(&bytes).unwrap();
    liveness_capture::simulate::noisy_burst(&rgb, 3, SEED.fetch_add(3, Ordering::Relaxed))
}

pub fn payload(nonce: &str, frames: &[Vec<u8>]) -> Payload {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    liveness_capture::simulate::burst_payload(nonce, frames, "Integrated Camera (04f2:b6d9)", now)
        .unwrap()
}

/// A sample decoded upright, as the engine sees it.
pub fn sample(image: &str) -> image::RgbImage {
    let bytes = std::fs::read(assets().join(image)).expect("run scripts/fetch-models");
    liveness_models::decode::decode_rgb(&bytes).unwrap()
}

/// `count` frames of a sample as a hand-held camera takes them: a few pixels of shift, ±5 %
/// scale and sensor noise each.
pub fn jittered(image: &str, count: usize) -> Vec<Vec<u8>> {
    static SEED: AtomicU32 = AtomicU32::new(1_000);
    liveness_capture::simulate::jittered_burst(
        &sample(image),
        count,
        SEED.fetch_add(count as u32, Ordering::Relaxed),
        4.0,
        0.05,
    )
}

/// One noisy frame of `image` at `width` x `height`: the top of the picture cropped to that
/// aspect ratio and resized, so that a frame of another person fits a burst's frame size.
pub fn frame_sized(image: &str, width: u32, height: u32) -> Vec<u8> {
    static SEED: AtomicU32 = AtomicU32::new(50_000);
    let picture = sample(image);
    let crop_height = (picture.width() as u64 * height as u64 / width as u64) as u32;
    let top = image::imageops::crop_imm(
        &picture,
        0,
        0,
        picture.width(),
        crop_height.min(picture.height()),
    )
    .to_image();
    let resized =
        image::imageops::resize(&top, width, height, image::imageops::FilterType::Triangle);
    liveness_capture::simulate::noisy_burst(&resized, 1, SEED.fetch_add(1, Ordering::Relaxed))
        .remove(0)
}

/// `frames` sealed to this stack's key with a fresh nonce of the client.
pub async fn sealed_packet(stack: &Stack, client: &Client, frames: &[Vec<u8>]) -> Vec<u8> {
    let nonce = stack.nonce(client).await;
    seal(&payload(&nonce, frames), &stack.key.public()).unwrap()
}

/// The stored capture signals of a transaction: (name, passed).
pub async fn signals(stack: &Stack, id: i64) -> Vec<(String, bool)> {
    sqlx::query_as(
        "SELECT s->>'name', (s->>'passed')::boolean FROM verdicts, jsonb_array_elements(capture_signals) s
         WHERE transaction_id = $1",
    )
    .bind(id)
    .fetch_all(&stack.db)
    .await
    .unwrap()
}
