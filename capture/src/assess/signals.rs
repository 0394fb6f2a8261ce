//! The named signals a capture is judged on, their weights, the policy that sets their
//! limits, and the assessment that collects them.

use crate::payload::Payload;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalName {
    /// The packet decrypts and authenticates (not tampered or truncated) and its payload is
    /// well-formed. (Its header was checked at intake: a packet that is not one, or is sealed to
    /// a key this server never issued, is a client error and never reaches assessment.)
    PacketIntact,
    /// It carries a nonce this server issued, unexpired and not used by another submission.
    NonceValid,
    /// This exact packet was not submitted before.
    PacketNotReplayed,
    /// None of its frames was submitted before in another packet.
    FramesNotReplayed,
    /// Each frame's bytes hash to the digest the metadata gives.
    FrameHashesMatch,
    /// The `selfie` sent beside the packet is the sealed frame the server chose (the middle one).
    SelfieIsSealedFrame,
    /// The camera label names no virtual camera.
    PhysicalCamera,
    /// The platform reported no automation.
    NoAutomation,
    /// Capture and frame times are ordered, inside the capture window, recent, not in the future.
    TimestampsPlausible,
    /// Every frame decodes to the width and height the metadata claims.
    FrameSizesMatch,
    /// Consecutive frames differ by at least sensor noise (an injected still image does not).
    FramesDiffer,
    /// Consecutive frames show the same face: it moves and scales within what a burst allows,
    /// its landmarks keep their shape, and the aligned face crops stay alike.
    SameFace,
}

impl SignalName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PacketIntact => "packet_intact",
            Self::NonceValid => "nonce_valid",
            Self::PacketNotReplayed => "packet_not_replayed",
            Self::FramesNotReplayed => "frames_not_replayed",
            Self::FrameHashesMatch => "frame_hashes_match",
            Self::SelfieIsSealedFrame => "selfie_is_sealed_frame",
            Self::PhysicalCamera => "physical_camera",
            Self::NoAutomation => "no_automation",
            Self::TimestampsPlausible => "timestamps_plausible",
            Self::FrameSizesMatch => "frame_sizes_match",
            Self::FramesDiffer => "frames_differ",
            Self::SameFace => "same_face",
        }
    }

    /// Contribution to the score. Cryptographic and replay evidence weigh most; every signal
    /// is hard (a failure makes the probability 0), the weights only grade the score.
    pub fn weight(self) -> f64 {
        match self {
            Self::PacketIntact => 0.2,
            Self::NonceValid => 0.15,
            Self::PacketNotReplayed => 0.15,
            Self::FramesNotReplayed => 0.1,
            Self::FrameHashesMatch => 0.1,
            Self::SelfieIsSealedFrame => 0.05,
            Self::PhysicalCamera => 0.1,
            Self::NoAutomation => 0.05,
            Self::TimestampsPlausible => 0.05,
            Self::FrameSizesMatch => 0.05,
            Self::FramesDiffer => 0.15,
            Self::SameFace => 0.15,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub name: SignalName,
    pub passed: bool,
    pub weight: f64,
    /// What was measured, for the stored breakdown.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Case-insensitive substrings of camera labels that betray a virtual camera.
    pub virtual_camera_patterns: Vec<String>,
    /// A capture that ended longer ago than this is stale.
    pub max_capture_age_ms: u64,
    /// Client clocks may run this far ahead of the server's.
    pub max_clock_skew_ms: u64,
    /// Slack around the capture window for frame timestamps.
    pub frame_time_tolerance_ms: u64,
    /// Mean absolute difference (0-255 grey levels, sampled pixels) below which two
    /// consecutive frames count as the same image. Camera sensor noise alone gives 1-3.
    pub min_frame_difference: f64,
    /// Exact camera labels accepted although a virtual-camera pattern matches them. For test
    /// rigs only (e.g. Chromium's fake device in an end-to-end test): empty in production.
    pub trusted_camera_labels: Vec<String>,
    /// Automation flags that do not fail `no_automation`. Test rigs only: empty in production.
    pub ignored_automation_flags: Vec<String>,
    /// `same_face`: how far the face (the centroid of its landmarks) may move between
    /// consecutive frames, in widths of the first face box.
    pub max_face_shift: f64,
    /// `same_face`: |ln(scale)| of the best similarity transform between consecutive
    /// frames' landmarks.
    pub max_face_scale_change: f64,
    /// `same_face`: RMS landmark residual after the best similarity fit, in interocular
    /// distances.
    pub max_landmark_deviation: f64,
    /// `same_face`: normalised cross-correlation below which two aligned face crops are not
    /// the same face (calibrated in docs/capture-packet.md).
    pub min_face_similarity: f64,
}

impl Default for Policy {
    fn default() -> Self {
        let patterns = [
            "virtual",
            "obs",
            "manycam",
            "v4l2loopback",
            "dummy video",
            "snap camera",
            "xsplit",
            "splitcam",
            "camtwist",
            "droidcam",
            "epoccam",
            "iriun",
            "e2esoft",
            "youcam",
            "fake_device",
            "fake video",
            // Chromium labels a camera fed from a file (--use-file-for-fake-video-capture)
            // with the file's path.
            ".y4m",
            ".mjpeg",
        ];
        Self {
            virtual_camera_patterns: patterns.iter().map(|p| p.to_string()).collect(),
            max_capture_age_ms: 5 * 60 * 1000,
            max_clock_skew_ms: 60 * 1000,
            frame_time_tolerance_ms: 100,
            min_frame_difference: 0.5,
            trusted_camera_labels: Vec::new(),
            ignored_automation_flags: Vec::new(),
            // Calibrated with `bench same-face` (docs/capture-packet.md): one person's jittered
            // bursts reached shift 0.36, scale 0.27, landmarks 0.10 and correlated at 0.72 or
            // more; two different people at 0.32 at most. The limits leave room for what the
            // simulation lacks (blinks, expressions, motion blur).
            max_face_shift: 0.6,
            max_face_scale_change: 0.4,
            max_landmark_deviation: 0.2,
            min_face_similarity: 0.6,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub signals: Vec<Signal>,
    /// The opened payload, when the packet could be opened (the frames for face analysis).
    pub payload: Option<Payload>,
}

impl Assessment {
    pub fn probability(&self) -> f64 {
        if self.signals.iter().all(|s| s.passed) {
            1.0
        } else {
            0.0
        }
    }

    pub fn score(&self) -> f64 {
        self.signals
            .iter()
            .map(|s| if s.passed { s.weight } else { -s.weight })
            .sum()
    }

    /// The first failed signal, in evaluation order.
    pub fn first_failure(&self) -> Option<&Signal> {
        self.signals.iter().find(|s| !s.passed)
    }

    pub(super) fn push(&mut self, name: SignalName, passed: bool, detail: impl Into<String>) {
        self.signals.push(Signal {
            name,
            passed,
            weight: name.weight(),
            detail: detail.into(),
        });
    }
}
