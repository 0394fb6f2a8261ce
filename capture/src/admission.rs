//! Which frames of an opened packet may be decoded at all. Decoding allocates what a JPEG's
//! header claims (up to the decoder's limit, 8192² × 3 bytes = 192 MiB a frame), and the
//! header is the sender's to write. So before any pixel is decoded, each frame's header size
//! must be what the packet declares (itself at most 4096²), and the frames of one job
//! together stay within a pixel budget; a frame that fails either is never decoded (and the
//! capture is then judged without it: `frame_sizes_match` fails, the frame counts as
//! unreadable).

use crate::payload::Payload;

/// Default budget: eight frames of 6 megapixels (about 144 MiB of RGB for one job).
pub const DEFAULT_MAX_JOB_PIXELS: u64 = 8 * 6_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameRefusal {
    #[error("its JPEG header says {stored:?}, the packet declares {declared:?}")]
    SizeMismatch {
        declared: (u32, u32),
        stored: Option<(u32, u32)>,
    },
    #[error("the frames before it already use the job's budget of {budget} pixels")]
    OverBudget { budget: u64 },
}

/// Header dimensions of a JPEG, read without decoding it.
fn header_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::with_format(std::io::Cursor::new(jpeg), image::ImageFormat::Jpeg)
        .into_dimensions()
        .ok()
}

/// For each frame in order: decode it, or why not.
pub fn admit_frames(payload: &Payload, max_job_pixels: u64) -> Vec<Result<(), FrameRefusal>> {
    let mut spent = 0u64;
    payload
        .frames
        .iter()
        .map(|frame| {
            let declared = (frame.width, frame.height);
            let stored = header_size(&frame.jpeg);
            if stored != Some(declared) {
                return Err(FrameRefusal::SizeMismatch { declared, stored });
            }
            let pixels = frame.width as u64 * frame.height as u64;
            if spent + pixels > max_job_pixels {
                return Err(FrameRefusal::OverBudget {
                    budget: max_job_pixels,
                });
            }
            spent += pixels;
            Ok(())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate;

    #[test]
    fn a_header_that_lies_or_a_job_too_large_is_never_decoded() {
        let image = image::RgbImage::from_pixel(64, 48, image::Rgb([120, 110, 100]));
        let jpegs = simulate::noisy_burst(&image, 3, 1);
        let mut payload = simulate::burst_payload("n", &jpegs, "cam", 1_000).unwrap();
        assert_eq!(
            admit_frames(&payload, u64::MAX),
            vec![Ok(()), Ok(()), Ok(())]
        );

        payload.frames[1].jpeg =
            simulate::with_jpeg_header_size(&payload.frames[1].jpeg, 8000, 8000);
        let admitted = admit_frames(&payload, u64::MAX);
        assert_eq!(
            admitted[1],
            Err(FrameRefusal::SizeMismatch {
                declared: (64, 48),
                stored: Some((8000, 8000))
            })
        );
        assert_eq!((admitted[0].clone(), admitted[2].clone()), (Ok(()), Ok(())));

        // A budget of two frames' pixels: the third is refused, whatever it holds.
        payload.frames[1].jpeg = jpegs[1].clone();
        let admitted = admit_frames(&payload, 2 * 64 * 48);
        assert_eq!(
            admitted[2],
            Err(FrameRefusal::OverBudget {
                budget: 2 * 64 * 48
            })
        );
    }
}
