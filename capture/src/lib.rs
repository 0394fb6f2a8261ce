//! The capture packet: what a client-side capture library sends as `encrypted_file`.
//!
//! A packet is a small plaintext header (magic, format version, key id, HPKE encapsulated
//! key) followed by an HPKE-sealed (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM) CBOR payload: capture metadata and a burst of 1-8 JPEG frames.
//! The header is the AEAD's associated data, so it cannot be altered either. The format is
//! specified in docs/capture-packet.md, precisely enough to write a client from.
//!
//! [`seal`] builds packets (clients, tests, native back ends), [`open`] reverses it, and
//! [`assess`] turns a packet into capture-liveness: a score, a 0/1 probability and the
//! breakdown of named signals behind them.

mod admission;
mod assess;
pub mod continuity;
mod key_files;
mod keys;
mod packet;
mod payload;
pub mod simulate;
mod stores;

pub use admission::{admit_frames, FrameRefusal, DEFAULT_MAX_JOB_PIXELS};
pub use assess::{
    assess, assess_packet, AssessError, Assessment, Policy, Signal, SignalName, Submission,
};
pub use continuity::FaceGeometry;
pub use key_files::{render_key_file, retire_key_file};
pub use keys::{
    KeyError, KeyId, KeySchedule, Keyring, PrivateKey, PublicKey, PublicKeyring,
    DEFAULT_KEY_GRACE_SECS,
};
pub use packet::{
    inspect_header, open, seal, seal_for_test_vector, seal_unchecked, Header, OpenError, SealError,
    HPKE_INFO, MAGIC, MAX_PACKET_BYTES,
};
pub use payload::{
    frame_from_jpeg, Camera, Frame, Payload, PayloadError, Platform, Sdk, FORMAT_VERSION,
    MAX_FRAMES, MAX_FRAME_BYTES,
};
pub use stores::{MemoryStores, NonceCheck, NonceStore, ReplayCheck, ReplayStore, StoreError};
