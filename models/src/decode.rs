//! Bytes to an upright RGB image. Phone cameras store portrait selfies as landscape pixels plus
//! an EXIF orientation tag, so the tag must be applied before any face is looked for.

use image::{ImageDecoder, ImageReader, Limits, RgbImage};
use std::io::Cursor;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a supported image format (JPEG, PNG, WebP or BMP expected)")]
    UnknownFormat,
    #[error("image is {width}x{height}, above the {max}x{max} limit")]
    TooLarge { width: u32, height: u32, max: u32 },
    #[error("image data is corrupt or truncated: {0}")]
    Corrupt(#[source] image::ImageError),
    #[error("JPEG data is truncated: it ends before its end-of-image marker")]
    TruncatedJpeg,
}

/// Largest side accepted. A 16k-pixel side is far above any selfie camera and bounds memory.
pub const MAX_IMAGE_SIDE: u32 = 8192;

pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| DecodeError::UnknownFormat)?;
    if reader.format().is_none() {
        return Err(DecodeError::UnknownFormat);
    }
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(DecodeError::TruncatedJpeg);
    }
    let mut decoder = reader.into_decoder().map_err(DecodeError::Corrupt)?;
    let (width, height) = decoder.dimensions();
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(DecodeError::TooLarge {
            width,
            height,
            max: MAX_IMAGE_SIDE,
        });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    decoder.set_limits(limits).map_err(DecodeError::Corrupt)?;
    // A broken EXIF block is not worth rejecting the image for: treat it as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = image::DynamicImage::from_decoder(decoder).map_err(DecodeError::Corrupt)?;
    if let image::DynamicImage::ImageRgb8(rgb) = &image {
        if let Some(turned) = turn(rgb, orientation) {
            return Ok(turned);
        }
    }
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// The three rotations a phone camera writes, on raw RGB rows: `image`'s own rotation copies
/// pixel by pixel through bounds-checked accessors. `None` for the other orientations, left to
/// `image`. The unit test holds both to the same pixels.
fn turn(src: &RgbImage, orientation: image::metadata::Orientation) -> Option<RgbImage> {
    use image::metadata::Orientation::*;
    let (w, h) = (src.width() as usize, src.height() as usize);
    match orientation {
        // Clockwise: output pixel (ox, oy) is source pixel (oy, h - 1 - ox).
        Rotate90 => Some(turned(src, h, w, |ox, oy| (oy, h - 1 - ox))),
        Rotate180 => Some(turned(src, w, h, |ox, oy| (w - 1 - ox, h - 1 - oy))),
        Rotate270 => Some(turned(src, h, w, |ox, oy| (w - 1 - oy, ox))),
        _ => None,
    }
}

/// An `out_w` x `out_h` image whose pixel (ox, oy) is `src`'s pixel `source(ox, oy)`.
fn turned(
    src: &RgbImage,
    out_w: usize,
    out_h: usize,
    source: impl Fn(usize, usize) -> (usize, usize),
) -> RgbImage {
    let (w, raw) = (src.width() as usize, src.as_raw());
    let mut out = vec![0u8; raw.len()];
    for (oy, row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        for (ox, px) in row.chunks_exact_mut(3).enumerate() {
            let (x, y) = source(ox, oy);
            let i = (y * w + x) * 3;
            px.copy_from_slice(&raw[i..i + 3]);
        }
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, out).expect("buffer matches the size")
}

/// The JPEG decoder fills a truncated scan with grey instead of failing, and half a face is
/// not an image to judge. Entropy-coded data cannot contain a marker (0xFF is stuffed), so a
/// complete file has an end-of-image marker (FF D9) after its last start-of-scan (FF DA). An
/// EXIF thumbnail's markers come earlier, inside APP1.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (last(0xDA), last(0xD9)) {
        (Some(scan), Some(end)) => end > scan,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_completeness_needs_eoi_after_last_scan() {
        assert!(jpeg_is_complete(&[
            0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 3, 0xFF, 0xD9
        ]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 3]));
        // An EOI from a thumbnail before the main scan does not count.
        assert!(!jpeg_is_complete(&[
            0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 1, 2
        ]));
    }

    #[test]
    fn fast_rotations_give_image_crates_pixels() {
        use image::metadata::Orientation::*;
        let src = RgbImage::from_fn(7, 4, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
        for orientation in [Rotate90, Rotate180, Rotate270] {
            let mut expected = image::DynamicImage::ImageRgb8(src.clone());
            expected.apply_orientation(orientation);
            let turned = turn(&src, orientation).expect("a fast rotation");
            assert_eq!(turned, expected.into_rgb8(), "{orientation:?}");
        }
        assert!(turn(&src, FlipHorizontal).is_none());
    }

    #[test]
    fn garbage_is_unknown_format() {
        assert!(matches!(
            decode_rgb(b"hello, not an image"),
            Err(DecodeError::UnknownFormat)
        ));
        assert!(matches!(decode_rgb(b""), Err(DecodeError::UnknownFormat)));
    }
}
