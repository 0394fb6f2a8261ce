//! Capture liveness: open the packet, then run named checks. Every check is a signal with a
//! weight; all of them are kept as the breakdown stored server-side. Clients see only the
//! score (sum of the weights of passed signals minus those of failed ones, unbounded, for
//! calibration) and the probability (0 when any signal fails, else 1).

use crate::continuity::{compare, Comparison, FaceGeometry};
use crate::keys::Keyring;
use crate::packet::{open, OpenError};
use crate::payload::Payload;
use crate::stores::{NonceCheck, NonceStore, ReplayStore, StoreError};
use image::RgbImage;
use serde::Serialize;
use sha2::{Digest, Sha256};

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

    fn push(&mut self, name: SignalName, passed: bool, detail: impl Into<String>) {
        self.signals.push(Signal {
            name,
            passed,
            weight: name.weight(),
            detail: detail.into(),
        });
    }
}

/// What a client submitted.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// The `encrypted_file` bytes.
    pub packet: &'a [u8],
    /// SHA-256 of the optional `selfie` image sent beside the packet (the image itself is not
    /// kept: the server takes the selfie from the sealed frames).
    pub selfie_sha256: Option<[u8; 32]>,
    /// Identifies the request to the stores (the transaction id): assessing the same
    /// submission again, as a redelivered job does, is not a replay.
    pub id: &'a str,
    /// When the server accepted the submission (Unix ms). Nonce expiry and capture age are
    /// judged as of this moment, not when a worker gets to the job: a queue backlog must not
    /// turn an honest capture into an attack.
    pub received_at_ms: u64,
}

/// Why a packet was not assessed at all. A capture whose header is wrong is a client's
/// integration mistake, not an attack: intake refuses it, so here it means the server's keys
/// changed between intake and assessment.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the packet header is not assessable: {0}")]
    Header(OpenError),
}

/// Opens the packet and runs every check. Only store outages and header errors are errors;
/// everything wrong with a packet whose header is sound is a failed signal.
pub async fn assess(
    submission: Submission<'_>,
    keys: &Keyring,
    policy: &Policy,
    stores: &(impl NonceStore + ReplayStore),
) -> Result<Assessment, AssessError> {
    let mut a = assess_packet(submission, keys, policy, stores).await?;
    if let Some(payload) = &a.payload {
        let decoded: Vec<Option<RgbImage>> = payload
            .frames
            .iter()
            .map(|f| {
                image::load_from_memory_with_format(&f.jpeg, image::ImageFormat::Jpeg)
                    .ok()
                    .map(|i| i.into_rgb8())
            })
            .collect();
        let views: Vec<Option<&RgbImage>> = decoded.iter().map(Option::as_ref).collect();
        a.check_frames(&views, policy);
    }
    Ok(a)
}

/// Every check but those on the frames' pixels, which [`Assessment::check_frames`] adds once
/// the frames are decoded: a caller that decodes them anyway (the worker, for the face
/// models) then decodes each frame once.
pub async fn assess_packet(
    submission: Submission<'_>,
    keys: &Keyring,
    policy: &Policy,
    stores: &(impl NonceStore + ReplayStore),
) -> Result<Assessment, AssessError> {
    let Submission {
        packet,
        selfie_sha256,
        id: submission,
        received_at_ms: now_ms,
    } = submission;
    let (nonces, replays) = (stores, stores);
    let mut a = Assessment {
        signals: Vec::new(),
        payload: None,
    };
    // A retired key opens only packets received within its grace period.
    let payload = match open(packet, &keys.as_of(now_ms)) {
        Ok(payload) => payload,
        Err(e) if e.is_header_error() => return Err(AssessError::Header(e)),
        Err(e) => {
            a.push(SignalName::PacketIntact, false, e.to_string());
            return Ok(a);
        }
    };
    a.push(
        SignalName::PacketIntact,
        true,
        format!("{} bytes, {} frames", packet.len(), payload.frames.len()),
    );

    let frame_digests: Vec<[u8; 32]> = payload
        .frames
        .iter()
        .map(|f| Sha256::digest(&f.jpeg).into())
        .collect();
    check_frame_hashes(&mut a, &payload, &frame_digests);
    if let Some(selfie) = selfie_sha256 {
        let chosen = payload.selfie_index();
        let found = frame_digests.iter().position(|d| *d == selfie);
        let detail = match found {
            Some(i) if i == chosen => format!("frame {i}"),
            Some(i) => format!("selfie is frame {i}, not the middle frame {chosen}"),
            None => "selfie matches no sealed frame".into(),
        };
        a.push(
            SignalName::SelfieIsSealedFrame,
            found == Some(chosen),
            detail,
        );
    }
    let label = payload.camera.label.to_lowercase();
    let trusted = policy.trusted_camera_labels.contains(&payload.camera.label);
    let virtual_cam = policy
        .virtual_camera_patterns
        .iter()
        .find(|p| !trusted && label.contains(&p.to_lowercase()));
    a.push(
        SignalName::PhysicalCamera,
        virtual_cam.is_none(),
        match virtual_cam {
            Some(p) => format!("camera label {:?} matches {p:?}", payload.camera.label),
            None => format!("camera label {:?}", payload.camera.label),
        },
    );
    let automated: Vec<&str> = payload
        .automation
        .iter()
        .filter(|(flag, &on)| on && !policy.ignored_automation_flags.contains(flag))
        .map(|(k, _)| k.as_str())
        .collect();
    a.push(
        SignalName::NoAutomation,
        automated.is_empty(),
        automated.join(", "),
    );
    let timing = timestamp_problem(&payload, policy, now_ms);
    a.push(
        SignalName::TimestampsPlausible,
        timing.is_none(),
        timing.unwrap_or_default(),
    );

    let nonce = if payload.nonce.is_empty() {
        Err("no nonce in the packet".to_string())
    } else {
        match nonces.consume(&payload.nonce, submission, now_ms).await? {
            NonceCheck::Fresh => Ok(()),
            NonceCheck::Unknown => Err("nonce was never issued".into()),
            NonceCheck::Expired => Err("nonce expired".into()),
            NonceCheck::AlreadyUsed => Err("nonce already used by another submission".into()),
        }
    };
    a.push(
        SignalName::NonceValid,
        nonce.is_ok(),
        nonce.err().unwrap_or_default(),
    );

    let packet_digest: [u8; 32] = Sha256::digest(packet).into();
    let replay = replays
        .record(packet_digest, &frame_digests, submission)
        .await?;
    a.push(
        SignalName::PacketNotReplayed,
        !replay.packet_seen,
        if replay.packet_seen {
            "packet seen before"
        } else {
            ""
        },
    );
    a.push(
        SignalName::FramesNotReplayed,
        replay.frames_seen == 0,
        format!(
            "{} of {} frames seen before",
            replay.frames_seen,
            frame_digests.len()
        ),
    );
    a.payload = Some(payload);
    Ok(a)
}

fn check_frame_hashes(a: &mut Assessment, payload: &Payload, digests: &[[u8; 32]]) {
    let bad: Vec<usize> = payload
        .frames
        .iter()
        .zip(digests)
        .enumerate()
        .filter(|(_, (f, digest))| digest.as_slice() != f.sha256.as_slice())
        .map(|(i, _)| i)
        .collect();
    a.push(
        SignalName::FrameHashesMatch,
        bad.is_empty(),
        if bad.is_empty() {
            String::new()
        } else {
            format!("frames {bad:?}")
        },
    );
}

fn timestamp_problem(p: &Payload, policy: &Policy, now_ms: u64) -> Option<String> {
    let (start, end) = (p.capture_started_at_ms, p.capture_ended_at_ms);
    if end < start {
        return Some("capture ends before it starts".into());
    }
    if end > now_ms + policy.max_clock_skew_ms {
        return Some(format!("capture ends {} ms in the future", end - now_ms));
    }
    if now_ms.saturating_sub(end) > policy.max_capture_age_ms {
        return Some(format!("capture ended {} s ago", (now_ms - end) / 1000));
    }
    let times: Vec<u64> = p.frames.iter().map(|f| f.captured_at_ms).collect();
    let slack = policy.frame_time_tolerance_ms;
    if let Some(t) = times
        .iter()
        .find(|&&t| t + slack < start || t > end + slack)
    {
        return Some(format!(
            "frame time {t} outside the capture window {start}-{end}"
        ));
    }
    if times.len() > 1 {
        if times.windows(2).all(|w| w[0] == w[1]) {
            return Some("all frames carry the same time".into());
        }
        if times.windows(2).any(|w| w[1] <= w[0]) {
            return Some("frame times are not strictly increasing".into());
        }
    }
    None
}

impl Assessment {
    /// The pixel checks, given each frame decoded (`None`: it does not decode as JPEG), in
    /// payload order: stored sizes must match the metadata, and consecutive frames must
    /// differ by at least sensor noise.
    pub fn check_frames(&mut self, decoded: &[Option<&RgbImage>], policy: &Policy) {
        let Some(payload) = &self.payload else { return };
        let mut problem = None;
        for (i, (frame, image)) in payload.frames.iter().zip(decoded).enumerate() {
            let stored = image::ImageReader::with_format(
                std::io::Cursor::new(&frame.jpeg),
                image::ImageFormat::Jpeg,
            )
            .into_dimensions();
            match (stored, image) {
                (Ok((w, h)), _) if (w, h) != (frame.width, frame.height) => {
                    problem.get_or_insert(format!(
                        "frame {i} is {w}x{h}, metadata says {}x{}",
                        frame.width, frame.height
                    ));
                }
                (Ok(_), Some(_)) => {}
                (Ok(_), None) => {
                    problem.get_or_insert(format!(
                        "frame {i} was not decoded: unreadable, or past the job's pixel budget"
                    ));
                }
                (Err(_), _) => {
                    problem.get_or_insert(format!("frame {i} is not a decodable JPEG"));
                }
            }
        }
        let problem_free = problem.is_none();
        self.push(
            SignalName::FrameSizesMatch,
            problem_free,
            problem.unwrap_or_default(),
        );
        let images: Vec<&RgbImage> = decoded.iter().flatten().copied().collect();
        if images.len() >= 2 {
            let min = images
                .windows(2)
                .map(|w| sampled_difference(w[0], w[1]))
                .fold(f64::INFINITY, f64::min);
            self.push(
                SignalName::FramesDiffer,
                min >= policy.min_frame_difference,
                format!("smallest mean difference between consecutive frames {min:.3}"),
            );
        }
    }

    /// `same_face`, given the subject's face in each frame where one was found, as (frame
    /// index, decoded frame, geometry) in capture order. Added only when at least two frames
    /// show a face: a single face has nothing to be compared with.
    pub fn check_same_face(&mut self, faces: &[(usize, &RgbImage, FaceGeometry)], policy: &Policy) {
        if faces.len() < 2 {
            return;
        }
        let mut failed = None;
        let mut least_alike: Option<(usize, usize, Comparison)> = None;
        for pair in faces.windows(2) {
            let ((i, image_a, face_a), (j, image_b, face_b)) = (&pair[0], &pair[1]);
            let c = compare((image_a, face_a), (image_b, face_b));
            let mut broken = Vec::new();
            if c.shift > policy.max_face_shift {
                broken.push(format!(
                    "moved {:.3} face widths (at most {})",
                    c.shift, policy.max_face_shift
                ));
            }
            if c.scale_change > policy.max_face_scale_change {
                broken.push(format!(
                    "scale changed by {:.3} (at most {})",
                    c.scale_change, policy.max_face_scale_change
                ));
            }
            if c.landmark_deviation > policy.max_landmark_deviation {
                broken.push(format!(
                    "landmark shape deviates {:.3} (at most {})",
                    c.landmark_deviation, policy.max_landmark_deviation
                ));
            }
            if c.similarity < policy.min_face_similarity {
                broken.push(format!(
                    "aligned faces correlate {:.3} (at least {})",
                    c.similarity, policy.min_face_similarity
                ));
            }
            if !broken.is_empty() && failed.is_none() {
                failed = Some(format!("frames {i} and {j}: {}", broken.join("; ")));
            }
            if least_alike.is_none_or(|(_, _, worst)| c.similarity < worst.similarity) {
                least_alike = Some((*i, *j, c));
            }
        }
        let passed = failed.is_none();
        let detail = failed.unwrap_or_else(|| {
            let (i, j, c) = least_alike.expect("at least one pair");
            format!(
                "least alike, frames {i} and {j}: moved {:.3}, scale {:.3}, landmarks {:.3}, correlation {:.3}",
                c.shift, c.scale_change, c.landmark_deviation, c.similarity
            )
        });
        self.push(SignalName::SameFace, passed, detail);
    }
}

/// Mean absolute luma difference over a grid of single pixels (not averaged blocks, which
/// would smooth away exactly the sensor noise this looks for). Different sizes count as
/// different.
fn sampled_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    if a.dimensions() != b.dimensions() {
        return f64::INFINITY;
    }
    let luma =
        |p: &image::Rgb<u8>| (299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32) / 1000;
    let (w, h) = a.dimensions();
    let step = (w / 160).max(1) as usize;
    let (mut sum, mut n) = (0u64, 0u64);
    for y in (0..h).step_by(step) {
        for x in (0..w).step_by(step) {
            sum += luma(a.get_pixel(x, y)).abs_diff(luma(b.get_pixel(x, y))) as u64;
            n += 1;
        }
    }
    sum as f64 / n.max(1) as f64
}
