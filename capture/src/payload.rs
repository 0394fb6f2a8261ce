//! The sealed payload: capture metadata and the burst of frames, encoded as CBOR.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const FORMAT_VERSION: u32 = 1;
pub const MAX_FRAMES: usize = 8;
/// One JPEG frame: a 1920x1080 JPEG at quality 90 is about 600 KiB.
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_FRAME_SIDE: u32 = 4096;
const MAX_NONCE_LEN: usize = 128;
const MAX_SHORT_TEXT: usize = 64;
const MAX_LABEL_LEN: usize = 256;
const MAX_USER_AGENT_LEN: usize = 1024;
const MAX_AUTOMATION_FLAGS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Web,
    Android,
    Ios,
    Cli,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sdk {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Camera {
    /// As the platform reports it (MediaDeviceInfo.label, Camera2 id, AVCaptureDevice name).
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Unix time in milliseconds when the frame was captured.
    pub captured_at_ms: u64,
    pub width: u32,
    pub height: u32,
    #[serde(with = "serde_bytes")]
    pub sha256: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub jpeg: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("captured_at_ms", &self.captured_at_ms)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub format_version: u32,
    pub sdk: Sdk,
    pub platform: Platform,
    /// The session nonce the server issued for this capture.
    pub nonce: String,
    pub capture_started_at_ms: u64,
    pub capture_ended_at_ms: u64,
    pub camera: Camera,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Automation indicators the platform exposes, e.g. `webdriver` (navigator.webdriver).
    #[serde(default)]
    pub automation: BTreeMap<String, bool>,
    pub frames: Vec<Frame>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("payload is not valid CBOR of the expected shape: {0}")]
    Decode(String),
    #[error("payload format version {0} is not supported (expected {FORMAT_VERSION})")]
    Version(u32),
    #[error("{field} is over its limit of {limit}")]
    TooLarge { field: &'static str, limit: usize },
    #[error("{0}")]
    Invalid(&'static str),
}

/// Builds a frame record from JPEG bytes: its digest and the dimensions its header declares.
pub fn frame_from_jpeg(jpeg: Vec<u8>, captured_at_ms: u64) -> Result<Frame, image::ImageError> {
    let (width, height) =
        image::ImageReader::with_format(std::io::Cursor::new(&jpeg), image::ImageFormat::Jpeg)
            .into_dimensions()?;
    let sha256 = Sha256::digest(&jpeg).to_vec();
    Ok(Frame {
        captured_at_ms,
        width,
        height,
        sha256,
        jpeg,
    })
}

impl Payload {
    /// Which frame is the selfie: the middle one, index ⌊n/2⌋ from 0. The server chooses it,
    /// not the client, so the image handed on for face matching is one that was judged.
    pub fn selfie_index(&self) -> usize {
        self.frames.len() / 2
    }

    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("writing CBOR to memory cannot fail");
        out
    }

    /// Decodes and checks every limit. Never panics, whatever the bytes (see the fuzz target).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, PayloadError> {
        let payload: Payload =
            ciborium::from_reader(bytes).map_err(|e| PayloadError::Decode(e.to_string()))?;
        payload.validate()?;
        Ok(payload)
    }

    pub fn validate(&self) -> Result<(), PayloadError> {
        if self.format_version != FORMAT_VERSION {
            return Err(PayloadError::Version(self.format_version));
        }
        let text_limits: [(&'static str, usize, usize); 6] = [
            ("nonce", self.nonce.len(), MAX_NONCE_LEN),
            ("sdk.name", self.sdk.name.len(), MAX_SHORT_TEXT),
            ("sdk.version", self.sdk.version.len(), MAX_SHORT_TEXT),
            ("camera.label", self.camera.label.len(), MAX_LABEL_LEN),
            (
                "camera.device_id",
                self.camera.device_id.as_ref().map_or(0, String::len),
                MAX_LABEL_LEN,
            ),
            (
                "user_agent",
                self.user_agent.as_ref().map_or(0, String::len),
                MAX_USER_AGENT_LEN,
            ),
        ];
        for (field, len, limit) in text_limits {
            if len > limit {
                return Err(PayloadError::TooLarge { field, limit });
            }
        }
        if self.automation.len() > MAX_AUTOMATION_FLAGS {
            return Err(PayloadError::TooLarge {
                field: "automation",
                limit: MAX_AUTOMATION_FLAGS,
            });
        }
        if self.automation.keys().any(|k| k.len() > MAX_SHORT_TEXT) {
            return Err(PayloadError::TooLarge {
                field: "automation key",
                limit: MAX_SHORT_TEXT,
            });
        }
        if self.frames.is_empty() {
            return Err(PayloadError::Invalid("a capture needs at least one frame"));
        }
        if self.frames.len() > MAX_FRAMES {
            return Err(PayloadError::TooLarge {
                field: "frames",
                limit: MAX_FRAMES,
            });
        }
        for frame in &self.frames {
            if frame.jpeg.len() > MAX_FRAME_BYTES {
                return Err(PayloadError::TooLarge {
                    field: "frame size in bytes",
                    limit: MAX_FRAME_BYTES,
                });
            }
            if frame.jpeg.is_empty() {
                return Err(PayloadError::Invalid("a frame is empty"));
            }
            if frame.width == 0
                || frame.height == 0
                || frame.width > MAX_FRAME_SIDE
                || frame.height > MAX_FRAME_SIDE
            {
                return Err(PayloadError::Invalid("frame width/height must be 1-4096"));
            }
            if frame.sha256.len() != 32 {
                return Err(PayloadError::Invalid("frame sha256 must be 32 bytes"));
            }
        }
        Ok(())
    }
}
