//! Capture liveness: open the packet, then run named checks. Every check is a signal with a
//! weight; all of them are kept as the breakdown stored server-side. Clients see only the
//! score (sum of the weights of passed signals minus those of failed ones, unbounded, for
//! calibration) and the probability (0 when any signal fails, else 1).

use crate::keys::Keyring;
use crate::packet::{open, OpenError};
use crate::payload::Payload;
use crate::stores::{NonceCheck, NonceStore, ReplayStore, StoreError};
use image::RgbImage;
use sha2::{Digest, Sha256};

mod pixels;
mod signals;

pub use signals::{Assessment, Policy, Signal, SignalName};

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
