//! Bilinear resampling straight into the planar BGR float tensors the models take.
//!
//! Sampling follows the half-pixel convention (source = (dest + 0.5) * scale - 0.5, clamped to
//! the edge) that OpenCV's INTER_LINEAR uses and the Silent-Face models were trained with, but
//! keeps full float precision instead of rounding back to 8 bits. scripts/py/ortref.py is an
//! independent numpy version of the same arithmetic; the parity test holds the two together.

use image::RgbImage;

/// A region of interest in source pixels, inclusive of `x`/`y`, `width` x `height` in size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    pub fn whole(image: &RgbImage) -> Self {
        Region {
            x: 0,
            y: 0,
            width: image.width(),
            height: image.height(),
        }
    }
}

struct Tap {
    i0: u32,
    i1: u32,
    frac: f32,
}

fn taps(src_len: u32, dst_len: u32) -> Vec<Tap> {
    let scale = src_len as f64 / dst_len as f64;
    let last = (src_len - 1) as f64;
    (0..dst_len)
        .map(|d| {
            let s = ((d as f64 + 0.5) * scale - 0.5).clamp(0.0, last);
            let i0 = (s.floor() as u32).min(src_len - 1);
            Tap {
                i0,
                i1: (i0 + 1).min(src_len - 1),
                frac: (s - i0 as f64) as f32,
            }
        })
        .collect()
}

/// Resamples `region` of `src` to `dst_w` x `dst_h` and writes it, channels reversed to BGR, into
/// the top-left corner of a planar `[3, plane_h, plane_w]` buffer. Pixels outside the written
/// rectangle are left untouched (the caller zeroes letterbox padding once).
pub fn resize_into_bgr_planes(
    src: &RgbImage,
    region: Region,
    dst_w: u32,
    dst_h: u32,
    planes: &mut [f32],
    plane_w: usize,
    plane_h: usize,
) {
    assert!(region.width > 0 && region.height > 0, "empty region");
    assert!(region.x + region.width <= src.width() && region.y + region.height <= src.height());
    assert!(dst_w as usize <= plane_w && dst_h as usize <= plane_h);
    assert_eq!(planes.len(), 3 * plane_w * plane_h);

    let xs = taps(region.width, dst_w);
    let ys = taps(region.height, dst_h);
    let stride = src.width() as usize * 3;
    let raw = src.as_raw();
    let plane = plane_w * plane_h;
    // Two rows of horizontally interpolated RGB, reused for every output row.
    let mut top = vec![0f32; dst_w as usize * 3];
    let mut bottom = vec![0f32; dst_w as usize * 3];
    let horizontal = |row: u32, out: &mut [f32]| {
        let base = (region.y + row) as usize * stride + region.x as usize * 3;
        for (tap, px) in xs.iter().zip(out.chunks_exact_mut(3)) {
            let a = base + tap.i0 as usize * 3;
            let b = base + tap.i1 as usize * 3;
            for c in 0..3 {
                px[c] = raw[a + c] as f32 * (1.0 - tap.frac) + raw[b + c] as f32 * tap.frac;
            }
        }
    };
    for (dy, tap) in ys.iter().enumerate() {
        horizontal(tap.i0, &mut top);
        horizontal(tap.i1, &mut bottom);
        let row = dy * plane_w;
        for dx in 0..dst_w as usize {
            for c in 0..3 {
                let v = top[dx * 3 + c] * (1.0 - tap.frac) + bottom[dx * 3 + c] * tap.frac;
                // RGB source channel c goes to BGR plane 2 - c.
                planes[(2 - c) * plane + row + dx] = v;
            }
        }
    }
}

/// Samples a `side` x `side` square of `src`, centred on (`cx`, `cy`), `extent` source pixels
/// wide, rotated by `degrees` (counter-clockwise on screen: a face tilted that way comes out
/// upright), bilinear, into one BGR planar image of a batch buffer. Outside the image is 0.
pub fn sample_rotated_into_bgr_planes(
    src: &RgbImage,
    (cx, cy): (f32, f32),
    extent: f32,
    degrees: f32,
    side: usize,
    planes: &mut [f32],
) {
    assert_eq!(planes.len(), 3 * side * side);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let step = extent / side as f32;
    let (w, h) = (src.width() as i64, src.height() as i64);
    let raw = src.as_raw();
    let at = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            raw[(y * w + x) as usize * 3 + c] as f32
        }
    };
    let plane = side * side;
    for oy in 0..side {
        for ox in 0..side {
            let u = (ox as f32 + 0.5) * step - extent / 2.0;
            let v = (oy as f32 + 0.5) * step - extent / 2.0;
            let sx = cx + u * cos + v * sin - 0.5;
            let sy = cy - u * sin + v * cos - 0.5;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            for c in 0..3 {
                let top = at(x0, y0, c) * (1.0 - fx) + at(x0 + 1, y0, c) * fx;
                let bottom = at(x0, y0 + 1, c) * (1.0 - fx) + at(x0 + 1, y0 + 1, c) * fx;
                planes[(2 - c) * plane + oy * side + ox] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_copies_pixels_as_bgr() {
        let img = RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8, y as u8, 100]));
        let mut planes = vec![0f32; 3 * 3 * 2];
        resize_into_bgr_planes(&img, Region::whole(&img), 3, 2, &mut planes, 3, 2);
        // plane 0 is blue (constant 100), plane 1 green (= y), plane 2 red (= x)
        assert_eq!(&planes[0..6], &[100.0; 6]);
        assert_eq!(&planes[6..12], &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(&planes[12..18], &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn halving_averages_pixel_pairs() {
        let img = RgbImage::from_fn(4, 1, |x, _| image::Rgb([(x * 10) as u8, 0, 0]));
        let mut planes = vec![0f32; 3 * 2];
        resize_into_bgr_planes(&img, Region::whole(&img), 2, 1, &mut planes, 2, 1);
        assert_eq!(&planes[4..6], &[5.0, 25.0]);
    }

    #[test]
    fn region_and_padding_are_respected() {
        let img = RgbImage::from_fn(4, 4, |x, y| image::Rgb([(x + 4 * y) as u8, 0, 0]));
        let mut planes = vec![-1f32; 3 * 3 * 3];
        let region = Region {
            x: 1,
            y: 2,
            width: 2,
            height: 2,
        };
        resize_into_bgr_planes(&img, region, 2, 2, &mut planes, 3, 3);
        let red = &planes[18..27];
        assert_eq!(red, &[9.0, 10.0, -1.0, 13.0, 14.0, -1.0, -1.0, -1.0, -1.0]);
    }
}
