//! Property tests: any valid payload survives seal -> open unchanged, and no input, random or
//! a mutation of a real packet, makes the opener panic.

mod common;

use common::*;
use liveness_capture::{open, seal, Camera, Frame, Payload, Platform, Sdk, FORMAT_VERSION};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn frame() -> impl Strategy<Value = Frame> {
    (
        any::<u64>(),
        1u32..=4096,
        1u32..=4096,
        proptest::collection::vec(any::<u8>(), 1..2048),
    )
        .prop_map(|(captured_at_ms, width, height, jpeg)| Frame {
            captured_at_ms,
            width,
            height,
            sha256: Sha256::digest(&jpeg).to_vec(),
            jpeg,
        })
}

fn payload() -> impl Strategy<Value = Payload> {
    (
        (
            ".{0,64}",
            ".{0,16}",
            prop_oneof![
                Just(Platform::Web),
                Just(Platform::Android),
                Just(Platform::Ios),
                Just(Platform::Cli)
            ],
        ),
        ("[a-zA-Z0-9_-]{0,128}", any::<u64>(), any::<u64>()),
        (
            ".{0,64}",
            proptest::option::of("[ -~]{0,64}"),
            proptest::option::of("[ -~]{0,300}"),
        ),
        proptest::collection::btree_map("[a-z]{1,20}", any::<bool>(), 0..8),
        proptest::collection::vec(frame(), 1..=8),
    )
        .prop_map(
            |(
                (name, version, platform),
                (nonce, start, end),
                (label, device_id, user_agent),
                automation,
                frames,
            )| Payload {
                format_version: FORMAT_VERSION,
                sdk: Sdk {
                    name: name.chars().take(16).collect(),
                    version,
                },
                platform,
                nonce,
                capture_started_at_ms: start,
                capture_ended_at_ms: end,
                camera: Camera {
                    label: label.chars().take(64).collect(),
                    device_id,
                },
                user_agent,
                automation,
                frames,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seal_then_open_round_trips(p in payload()) {
        let packet = seal(&p, &server_key().public()).unwrap();
        prop_assert_eq!(open(&packet, &keyring()).unwrap(), p);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = open(&bytes, &keyring());
        let mut with_magic = b"LVCP\x01\x09test-2026".to_vec();
        with_magic.extend_from_slice(&bytes);
        prop_assert!(open(&with_magic, &keyring()).is_err());
    }

    #[test]
    fn mutated_packets_are_rejected_not_panicking(
        p in payload(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let packet = seal(&p, &server_key().public()).unwrap();
        let mut mutated = packet.clone();
        for (at, mask) in flips {
            let i = at.index(mutated.len());
            mutated[i] ^= mask;
        }
        prop_assert!(open(&mutated, &keyring()).is_err());
        prop_assert!(open(&packet[..cut.index(packet.len())], &keyring()).is_err());
    }
}
