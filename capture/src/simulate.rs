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

/// xorshift32: deterministic, dependency-free, plenty for noise and jitter.
struct Xorshift(u32);

impl Xorshift {
    fn new(seed: u32) -> Self {
        Self(seed.wrapping_mul(2_654_435_761) | 1)
    }

    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// Uniform in [-1, 1].
    fn signed_unit(&mut self) -> f32 {
        (self.next() % 20_001) as f32 / 10_000.0 - 1.0
    }
}

/// `count` frames of `image` as a hand-held camera takes them about 100 ms apart: each moved
/// by up to `max_shift_px` pixels in x and y and scaled by up to `max_scale` (0.05: ±5 %)
/// about the centre, at the same frame size, then given its own sensor noise. For
/// calibrating and testing the checks that must let a real burst through.
pub fn jittered_burst(
    image: &RgbImage,
    count: usize,
    seed: u32,
    max_shift_px: f32,
    max_scale: f32,
) -> Vec<Vec<u8>> {
    let mut rng = Xorshift::new(seed ^ 0x5eed_f00d);
    (0..count as u32)
        .map(|i| {
            let (dx, dy) = (
                rng.signed_unit() * max_shift_px,
                rng.signed_unit() * max_shift_px,
            );
            let scale = 1.0 + rng.signed_unit() * max_scale;
            noisy_jpeg(&moved(image, dx, dy, scale), seed.wrapping_add(i))
        })
        .collect()
}

/// The image shifted by (dx, dy) and scaled about its centre, same size, bilinear, edges
/// repeated.
fn moved(image: &RgbImage, dx: f32, dy: f32, scale: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    RgbImage::from_fn(w, h, |x, y| {
        let sx = (x as f32 + 0.5 - cx - dx) / scale + cx - 0.5;
        let sy = (y as f32 + 0.5 - cy - dy) / scale + cy - 0.5;
        let p = crate::continuity::bilinear(image, sx as f64, sy as f64);
        image::Rgb(p.map(|v| v.round() as u8))
    })
}

fn noisy_jpeg(image: &RgbImage, seed: u32) -> Vec<u8> {
    let mut rng = Xorshift::new(seed);
    let mut noisy = image.clone();
    for channel in noisy.iter_mut() {
        *channel = (*channel as i32 + (rng.next() % 9) as i32 - 4).clamp(0, 255) as u8;
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

/// `jpeg` with its SOF header claiming `width` x `height`, whatever its data holds: what a
/// hostile client sends to make a decoder allocate far more than the packet declares.
pub fn with_jpeg_header_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out
        .windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .expect("a baseline or progressive JPEG has a SOF marker");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}
