//! Whole packets from the network: header parsing, key lookup, HPKE open, CBOR decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liveness_capture::{open, KeyId, Keyring, PrivateKey};
use std::sync::OnceLock;

/// The seed corpus (fuzz/seeds/open_packet) is sealed to this key, so mutations of real
/// packets reach the decryption and payload code rather than stopping at the key lookup.
const SEED_KEY: &str = "aGVyZS1pcy1hLWZpeGVkLWZ1enotc2VlZC1rZXktMzI";

fuzz_target!(|data: &[u8]| {
    static KEYS: OnceLock<Keyring> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        Keyring::new([PrivateKey::from_base64(KeyId::parse("fuzz").unwrap(), SEED_KEY).unwrap()])
    });
    let _ = open(data, keys);
});
