//! Every attack the capture checks know, each producing probability 0 and its named signal;
//! and the genuine capture, which passes them all.

mod common;

use common::*;
use liveness_capture::{
    assess, AssessError, Assessment, MemoryStores, OpenError, Payload, Policy, SignalName,
    Submission,
};
use sha2::{Digest, Sha256};

fn submission<'a>(packet: &'a [u8], selfie: Option<&[u8]>, id: &'a str) -> Submission<'a> {
    Submission {
        packet,
        selfie_sha256: selfie.map(|s| Sha256::digest(s).into()),
        id,
        received_at_ms: now_ms(),
    }
}

async fn try_run(
    packet: &[u8],
    selfie: Option<&[u8]>,
    stores: &MemoryStores,
    id: &str,
) -> Result<Assessment, AssessError> {
    let submission = submission(packet, selfie, id);
    assess(submission, &keyring(), &Policy::default(), stores).await
}

async fn run(packet: &[u8], selfie: Option<&[u8]>, stores: &MemoryStores, id: &str) -> Assessment {
    try_run(packet, selfie, stores, id).await.unwrap()
}

fn assert_attack(a: &Assessment, signal: SignalName) {
    assert_eq!(a.probability(), 0.0, "{:?}", a.signals);
    let failed: Vec<SignalName> = a
        .signals
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name)
        .collect();
    assert!(
        failed.contains(&signal),
        "expected {signal:?} to fail, failed: {failed:?}"
    );
}

fn assert_only_failure(a: &Assessment, signal: SignalName) {
    assert_attack(a, signal);
    let failed: Vec<SignalName> = a
        .signals
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name)
        .collect();
    assert_eq!(failed, vec![signal], "{:?}", a.signals);
}

#[tokio::test]
async fn genuine_burst_is_live_with_every_signal_passed() {
    let stores = stores_with(&["n-genuine"]);
    let p = payload("n-genuine", burst());
    let packet = sealed(&p);
    let a = run(&packet, Some(&burst()[1]), &stores, "tx-1").await;
    assert_eq!(a.probability(), 1.0, "{:?}", a.signals);
    // Every check that needs no face detector (`same_face` runs where the faces are found).
    assert_eq!(a.signals.len(), 11, "every check ran");
    let total: f64 = a.signals.iter().map(|s| s.weight).sum();
    assert!((a.score() - total).abs() < 1e-9);
    assert_eq!(a.payload.unwrap().frames.len(), 3);
}

#[tokio::test]
async fn redelivered_submission_is_not_a_replay() {
    let stores = stores_with(&["n-redeliver"]);
    let packet = sealed(&payload("n-redeliver", burst()));
    assert_eq!(run(&packet, None, &stores, "tx-7").await.probability(), 1.0);
    assert_eq!(run(&packet, None, &stores, "tx-7").await.probability(), 1.0);
}

#[tokio::test]
async fn tampered_packet() {
    let stores = stores_with(&["n1"]);
    let mut packet = sealed(&payload("n1", burst()));
    let i = packet.len() / 2;
    packet[i] ^= 0x40;
    assert_only_failure(
        &run(&packet, None, &stores, "tx").await,
        SignalName::PacketIntact,
    );
    // The header is associated data: changing a byte of the encapsulated key (after the
    // 6-byte prefix and the 9-byte key id) breaks authentication too.
    let mut packet = sealed(&payload("n1", burst()));
    packet[6 + 9 + 3] ^= 0x01;
    assert_only_failure(
        &run(&packet, None, &stores, "tx").await,
        SignalName::PacketIntact,
    );
    let packet = sealed(&payload("n1", burst()));
    assert_only_failure(
        &run(&packet[..packet.len() - 1], None, &stores, "tx").await,
        SignalName::PacketIntact,
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_packet_is_not_judged() {
    let stores = stores_with(&["n1"]);
    let packet = sealed(&payload("n1", burst()));
    let mut other_version = packet.clone();
    other_version[4] = 9;
    for (bytes, expected) in [
        (&b"hello"[..], OpenError::BadMagic),
        (
            &packet[..20],
            OpenError::BadHeader("packet ends inside the header"),
        ),
        (&other_version[..], OpenError::UnsupportedVersion(9)),
    ] {
        match try_run(bytes, None, &stores, "tx").await {
            Err(AssessError::Header(e)) => assert_eq!(e, expected),
            other => panic!("expected a header error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn unknown_key_id() {
    let stores = stores_with(&["n1"]);
    let other = liveness_capture::PrivateKey::generate(
        liveness_capture::KeyId::parse("retired-2025").unwrap(),
    );
    let packet = liveness_capture::seal(&payload("n1", burst()), &other.public()).unwrap();
    match try_run(&packet, None, &stores, "tx").await {
        Err(AssessError::Header(OpenError::UnknownKeyId(id))) => assert_eq!(id, "retired-2025"),
        other => panic!("expected an unknown key id, got {other:?}"),
    }
    // The right id but another key's material: decryption fails.
    let mut impostor = other.public();
    impostor.key_id = server_key().key_id.clone();
    let packet = liveness_capture::seal(&payload("n1", burst()), &impostor).unwrap();
    assert_only_failure(
        &run(&packet, None, &stores, "tx").await,
        SignalName::PacketIntact,
    );
}

#[tokio::test]
async fn nonce_missing_unknown_expired_and_reused() {
    for nonce in ["", "never-issued", "n-expired"] {
        // Fresh stores each time, so only the nonce differs from a genuine capture.
        let stores = stores_with(&[]);
        stores.issue_nonce("n-expired", now_ms() - 1);
        let packet = sealed(&payload(nonce, burst()));
        let a = run(&packet, None, &stores, &format!("tx-{nonce}")).await;
        assert_only_failure(&a, SignalName::NonceValid);
    }
    let stores = stores_with(&["n-used"]);
    let first = sealed(&payload("n-used", &burst()[..1]));
    assert_eq!(run(&first, None, &stores, "tx-a").await.probability(), 1.0);
    let second = sealed(&payload("n-used", &burst()[1..]));
    assert_only_failure(
        &run(&second, None, &stores, "tx-b").await,
        SignalName::NonceValid,
    );
}

#[tokio::test]
async fn judged_as_of_intake_not_of_assessment() {
    // Received ten minutes ago with a nonce that was then valid, assessed only now (a queue
    // backlog): neither the nonce's expiry since intake nor the capture's age counts against it.
    let received = now_ms() - 10 * 60_000;
    let stores = stores_with(&[]);
    stores.issue_nonce("n-backlog", received + 60_000);
    let mut p = payload("n-backlog", burst());
    let shift = now_ms() - received;
    p.capture_started_at_ms -= shift;
    p.capture_ended_at_ms -= shift;
    p.frames.iter_mut().for_each(|f| f.captured_at_ms -= shift);
    let packet = sealed(&p);
    let late = Submission {
        received_at_ms: received,
        ..submission(&packet, None, "tx-late")
    };
    let a = assess(late, &keyring(), &Policy::default(), &stores)
        .await
        .unwrap();
    assert_eq!(a.probability(), 1.0, "{:?}", a.signals);
    // The same packet judged as of now would have failed both.
    let stores = stores_with(&[]);
    stores.issue_nonce("n-backlog", received + 60_000);
    let a = run(&packet, None, &stores, "tx-now").await;
    assert_attack(&a, SignalName::NonceValid);
    assert_attack(&a, SignalName::TimestampsPlausible);
}

#[tokio::test]
async fn replayed_packet_and_replayed_frames() {
    let stores = stores_with(&["n-a", "n-b"]);
    let packet = sealed(&payload("n-a", burst()));
    assert_eq!(run(&packet, None, &stores, "tx-a").await.probability(), 1.0);
    let again = run(&packet, None, &stores, "tx-replay").await;
    assert_attack(&again, SignalName::PacketNotReplayed);
    assert_attack(&again, SignalName::FramesNotReplayed);
    // A fresh packet with a fresh nonce that reuses captured frames.
    let reused = sealed(&payload("n-b", burst()));
    assert_only_failure(
        &run(&reused, None, &stores, "tx-b").await,
        SignalName::FramesNotReplayed,
    );
}

#[tokio::test]
async fn frame_digest_differs_from_metadata() {
    let stores = stores_with(&["n1"]);
    let mut p = payload("n1", burst());
    p.frames[1].sha256[5] ^= 1;
    assert_only_failure(
        &run(&sealed(&p), None, &stores, "tx").await,
        SignalName::FrameHashesMatch,
    );
}

#[tokio::test]
async fn selfie_swapped_for_another_image() {
    let stores = stores_with(&["n1"]);
    let packet = sealed(&payload("n1", burst()));
    let other = other_frame();
    assert_only_failure(
        &run(&packet, Some(&other), &stores, "tx").await,
        SignalName::SelfieIsSealedFrame,
    );
    // A sealed frame, but not the one the server chooses (the middle one, index 1 of 3).
    let stores = stores_with(&["n2"]);
    let packet = sealed(&payload("n2", burst()));
    let a = run(&packet, Some(&burst()[0]), &stores, "tx").await;
    assert_only_failure(&a, SignalName::SelfieIsSealedFrame);
    let signal = a.first_failure().unwrap();
    assert!(
        signal.detail.contains("not the middle frame 1"),
        "{}",
        signal.detail
    );
}

#[tokio::test]
async fn virtual_cameras_are_flagged() {
    for (i, label) in [
        "OBS Virtual Camera",
        "ManyCam Virtual Webcam",
        "Dummy video device (0x0000)",
        "Snap Camera",
        "fake_device_0",
        "/tmp/face.y4m",
        "v4l2loopback 0",
    ]
    .iter()
    .enumerate()
    {
        let nonce = format!("n{i}");
        let stores = stores_with(&[&nonce]);
        let mut p = payload(&nonce, burst());
        p.camera.label = label.to_string();
        assert_only_failure(
            &run(&sealed(&p), None, &stores, "tx").await,
            SignalName::PhysicalCamera,
        );
    }
}

#[tokio::test]
async fn automation_flag_set() {
    let stores = stores_with(&["n1"]);
    let mut p = payload("n1", burst());
    p.automation.insert("webdriver".into(), true);
    assert_only_failure(
        &run(&sealed(&p), None, &stores, "tx").await,
        SignalName::NoAutomation,
    );
}

#[tokio::test]
async fn test_rig_allowlists_accept_exactly_what_they_name() {
    let rig = Policy {
        trusted_camera_labels: vec!["fake_device_0".into()],
        ignored_automation_flags: vec!["webdriver".into()],
        ..Policy::default()
    };
    let assess_with = |label: &str, nonce: &str| {
        let stores = stores_with(&[nonce]);
        let mut p = payload(nonce, burst());
        p.camera.label = label.into();
        p.automation.insert("webdriver".into(), true);
        let packet = sealed(&p);
        let rig = rig.clone();
        async move {
            assess(submission(&packet, None, "tx"), &keyring(), &rig, &stores)
                .await
                .unwrap()
        }
    };
    assert_eq!(assess_with("fake_device_0", "n1").await.probability(), 1.0);
    // Only the exact label: another fake device is still a virtual camera.
    assert_only_failure(
        &assess_with("fake_device_1", "n2").await,
        SignalName::PhysicalCamera,
    );
}

#[tokio::test]
async fn identical_frames_of_an_injected_still() {
    let stores = stores_with(&["n1"]);
    let still = burst()[0].clone();
    let p = payload("n1", &[still.clone(), still.clone(), still]);
    assert_only_failure(
        &run(&sealed(&p), None, &stores, "tx").await,
        SignalName::FramesDiffer,
    );
}

#[tokio::test]
async fn impossible_timestamps() {
    type Breakage = fn(&mut Payload);
    let cases: [(&str, Breakage); 6] = [
        ("reversed", |p| p.frames.reverse()),
        ("all equal", |p| {
            p.frames
                .iter_mut()
                .for_each(|f| f.captured_at_ms = p.capture_ended_at_ms)
        }),
        ("outside window", |p| {
            p.frames[0].captured_at_ms = p.capture_started_at_ms - 10_000
        }),
        ("stale", |p| {
            p.capture_started_at_ms -= 3_600_000;
            p.capture_ended_at_ms -= 3_600_000;
            p.frames
                .iter_mut()
                .for_each(|f| f.captured_at_ms -= 3_600_000);
        }),
        ("future", |p| {
            p.capture_started_at_ms += 3_600_000;
            p.capture_ended_at_ms += 3_600_000;
            p.frames
                .iter_mut()
                .for_each(|f| f.captured_at_ms += 3_600_000);
        }),
        ("ends before start", |p| {
            p.capture_started_at_ms = p.capture_ended_at_ms + 1
        }),
    ];
    for (i, (name, break_it)) in cases.iter().enumerate() {
        let nonce = format!("n{i}");
        let stores = stores_with(&[&nonce]);
        let mut p = payload(&nonce, burst());
        break_it(&mut p);
        let a = run(&sealed(&p), None, &stores, "tx").await;
        assert_attack(&a, SignalName::TimestampsPlausible);
        assert_eq!(
            a.signals.iter().filter(|s| !s.passed).count(),
            1,
            "{name}: {:?}",
            a.signals
        );
    }
}

#[tokio::test]
async fn frame_size_differs_from_metadata() {
    let stores = stores_with(&["n1"]);
    let mut p = payload("n1", burst());
    p.frames[2].width = 1280;
    assert_only_failure(
        &run(&sealed(&p), None, &stores, "tx").await,
        SignalName::FrameSizesMatch,
    );
}

#[tokio::test]
async fn breakdown_names_the_failed_signal_first() {
    let stores = stores_with(&["n1"]);
    let mut p = payload("n1", burst());
    p.camera.label = "OBS Virtual Camera".into();
    let a = run(&sealed(&p), None, &stores, "tx").await;
    assert_eq!(a.first_failure().unwrap().name.as_str(), "physical_camera");
    assert!(a.score() < 1.0);
}
