//! A burst from a single photo, for demos and tests: each frame gets its own pseudo-random
//! noise of a few grey levels, as a camera sensor would add, then is JPEG-encoded. A real
//! capture library never needs this; the server cannot tell it from a camera on noise alone,
//! which is why the other signals (nonce, replay, camera label, and the face model) exist.

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;

/// `count` JPEG frames of `image`, each with different noise in [-4, 4] per channel.
pub fn noisy_burst(image: &RgbImage, count: usize, seed: u32) -> Vec<Vec<u8>> {
    (0..count as u32)
        .map(|i| noisy_jpeg(image, seed.wrapping_add(i)))
        .collect()
}

fn noisy_jpeg(image: &RgbImage, seed: u32) -> Vec<u8> {
    // xorshift32: deterministic, dependency-free, plenty for noise.
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    let mut noisy = image.clone();
    for channel in noisy.iter_mut() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *channel = (*channel as i32 + (state % 9) as i32 - 4).clamp(0, 255) as u8;
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&noisy)
        .expect("encoding an in-memory RGB image cannot fail");
    out
}

/// What a web capture library would seal for `jpegs`, taken 100 ms apart and ending at
/// `ended_at_ms` (Unix milliseconds), from a camera with this label.
pub fn burst_payload(
    nonce: &str,
    jpegs: &[Vec<u8>],
    camera_label: &str,
    ended_at_ms: u64,
) -> Result<crate::Payload, image::ImageError> {
    let start = ended_at_ms.saturating_sub(100 * jpegs.len() as u64 + 50);
    let frames = jpegs
        .iter()
        .enumerate()
        .map(|(i, jpeg)| crate::frame_from_jpeg(jpeg.clone(), start + 100 * (i as u64 + 1)))
        .collect::<Result<_, _>>()?;
    Ok(crate::Payload {
        format_version: crate::FORMAT_VERSION,
        sdk: crate::Sdk {
            name: "liveness-simulate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        platform: crate::Platform::Web,
        nonce: nonce.into(),
        capture_started_at_ms: start,
        capture_ended_at_ms: ended_at_ms,
        camera: crate::Camera {
            label: camera_label.into(),
            device_id: None,
        },
        user_agent: None,
        automation: [("webdriver".to_string(), false)].into(),
        frames,
    })
}
