//! Shared by the engine's integration tests: the real models, loaded once per test binary,
//! and helpers that derive test images from the real samples.
#![allow(dead_code)]

use image::{imageops, Rgb, RgbImage};
use liveness_models::face::BoundingBox;
use liveness_models::{Analysis, Engine, EngineConfig, ModelPaths};
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn assets_dir() -> PathBuf {
    std::env::var_os("LIVENESS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets"))
}

pub fn asset(name: &str) -> Vec<u8> {
    let path = assets_dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-models first)", path.display()))
}

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::load(&ModelPaths::in_dir(&assets_dir()), EngineConfig::default())
            .expect("models load (run scripts/fetch-models first)")
    })
}

pub fn rgb(name: &str) -> RgbImage {
    liveness_models::decode::decode_rgb(&asset(name)).expect("sample decodes")
}

pub fn analyze(image: &RgbImage) -> Analysis {
    engine().analyze_image(image)
}

/// The subject's box as the engine sees it on an unmodified sample.
pub fn face_box(image: &RgbImage) -> BoundingBox {
    let analysis = analyze(image);
    let subject = analysis.subject.expect("the sample has a face");
    analysis.faces[subject].bbox
}

pub fn code(analysis: &Analysis) -> Option<u16> {
    analysis.rejection.as_ref().map(|r| r.code.code())
}

/// Crops `[x0, x1) x [y0, y1)` clamped to the image.
pub fn crop(image: &RgbImage, x0: f32, y0: f32, x1: f32, y1: f32) -> RgbImage {
    let x0 = x0.max(0.0) as u32;
    let y0 = y0.max(0.0) as u32;
    let x1 = (x1 as u32).min(image.width());
    let y1 = (y1 as u32).min(image.height());
    imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image()
}

pub fn side_by_side(a: &RgbImage, b: &RgbImage) -> RgbImage {
    let mut out = RgbImage::new(a.width() + b.width(), a.height().max(b.height()));
    imageops::replace(&mut out, a, 0, 0);
    imageops::replace(&mut out, b, a.width() as i64, 0);
    out
}

/// Rotates about (cx, cy) by `degrees` (counter-clockwise on screen), nearest-neighbour, same
/// canvas size, uncovered corners grey.
pub fn rotate(image: &RgbImage, degrees: f32, cx: f32, cy: f32) -> RgbImage {
    let (sin, cos) = degrees.to_radians().sin_cos();
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        // Inverse mapping: where in the source does this output pixel come from?
        let sx = cx + dx * cos - dy * sin;
        let sy = cy + dx * sin + dy * cos;
        if sx >= 0.0 && sy >= 0.0 && (sx as u32) < image.width() && (sy as u32) < image.height() {
            *image.get_pixel(sx as u32, sy as u32)
        } else {
            Rgb([128, 128, 128])
        }
    })
}

pub fn png_bytes(image: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
