//! The decrypted payload: anyone holding the public key can make the server parse any CBOR.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liveness_capture::Payload;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = Payload::from_cbor(data) {
        // Whatever decodes must re-encode to something that decodes the same.
        assert_eq!(Payload::from_cbor(&payload.to_cbor()).as_ref(), Ok(&payload));
    }
});
