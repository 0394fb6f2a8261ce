//! Packet framing and HPKE sealing.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "LVCP"
//! 4       1     format version (1)
//! 5       1     key id length K (1-64)
//! 6       K     key id (ASCII A-Z a-z 0-9 . _ -)
//! 6+K     32    HPKE encapsulated key (X25519 public key of the sender's ephemeral pair)
//! 38+K    ...   HPKE ciphertext of the CBOR payload (AES-128-GCM, 16-byte tag at the end)
//! ```
//! The whole header (bytes 0 to 38+K) is the AEAD's associated data and the HPKE `info` is
//! [`HPKE_INFO`], so neither the header nor the format can be swapped without detection.

use crate::keys::{KeyId, Keyring, PublicKey, MAX_KEY_ID_LEN};
use crate::payload::{Payload, PayloadError};
use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};

pub const MAGIC: &[u8; 4] = b"LVCP";
pub const PACKET_VERSION: u8 = 1;
pub const HPKE_INFO: &[u8] = b"liveness-capture-packet/v1";
const ENC_LEN: usize = 32;
/// AES-GCM tag.
const TAG_LEN: usize = 16;
/// Eight frames at their limit plus metadata.
pub const MAX_PACKET_BYTES: usize = 8 * crate::payload::MAX_FRAME_BYTES + 64 * 1024;

type Encapped = <X25519HkdfSha256 as Kem>::EncappedKey;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("packet is {size} bytes, above the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("not a capture packet (bad magic bytes)")]
    BadMagic,
    #[error("packet format version {0} is not supported (expected {PACKET_VERSION})")]
    UnsupportedVersion(u8),
    #[error("packet header is truncated or malformed: {0}")]
    BadHeader(&'static str),
    #[error("packet is sealed to key id {0:?}, which this server does not hold")]
    UnknownKeyId(String),
    #[error("packet cannot be decrypted: tampered, truncated or sealed to another key")]
    Decrypt,
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("HPKE sealing failed: {0}")]
    Hpke(String),
    #[error("sealed packet would be {size} bytes, above the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
}

fn header(key_id: &KeyId, enc: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(6 + key_id.as_str().len() + ENC_LEN);
    h.extend_from_slice(MAGIC);
    h.push(PACKET_VERSION);
    h.push(key_id.as_str().len() as u8);
    h.extend_from_slice(key_id.as_str().as_bytes());
    h.extend_from_slice(enc);
    h
}

/// Seals a payload to a server public key. The payload is validated first, so a packet this
/// produces always opens.
pub fn seal(payload: &Payload, recipient: &PublicKey) -> Result<Vec<u8>, SealError> {
    payload.validate()?;
    seal_unchecked(payload, recipient)
}

/// Seals without validating: for tests that need a well-encrypted but invalid payload.
pub fn seal_unchecked(payload: &Payload, recipient: &PublicKey) -> Result<Vec<u8>, SealError> {
    let (enc, ctx) = hpke::setup_sender::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &recipient.key,
        HPKE_INFO,
    )
    .map_err(|e| SealError::Hpke(e.to_string()))?;
    finish(&recipient.key_id, enc, ctx, &payload.to_cbor())
}

/// Seals `cbor` with the ephemeral key pair RFC 9180's DeriveKeyPair makes from `ikm_e`,
/// so the packet is the same every time: only for the published test vectors
/// (docs/capture-packet-vectors.json). A real capture must never reuse an ephemeral key:
/// use [`seal`].
#[doc(hidden)]
pub fn seal_for_test_vector(
    cbor: &[u8],
    recipient: &PublicKey,
    ikm_e: [u8; 32],
) -> Result<Vec<u8>, SealError> {
    let (enc, ctx) = hpke::setup_sender_with_rng::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &recipient.key,
        HPKE_INFO,
        &mut FixedIkm(Some(ikm_e)),
    )
    .map_err(|e| SealError::Hpke(e.to_string()))?;
    finish(&recipient.key_id, enc, ctx, cbor)
}

fn finish(
    key_id: &KeyId,
    enc: Encapped,
    mut ctx: hpke::aead::AeadCtxS<AesGcm128, HkdfSha256, X25519HkdfSha256>,
    cbor: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut packet = header(key_id, &enc.to_bytes());
    let ciphertext = ctx
        .seal(cbor, &packet)
        .map_err(|e| SealError::Hpke(e.to_string()))?;
    packet.extend_from_slice(&ciphertext);
    if packet.len() > MAX_PACKET_BYTES {
        return Err(SealError::TooLarge {
            size: packet.len(),
            limit: MAX_PACKET_BYTES,
        });
    }
    Ok(packet)
}

/// A "random" source that yields one given 32-byte ikmE, once: HPKE's sender draws exactly
/// that for the ephemeral key, and anything else would be a misuse, so it panics.
struct FixedIkm(Option<[u8; 32]>);

impl hpke::rand_core::TryRng for FixedIkm {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!("HPKE draws only the ephemeral key's 32 bytes")
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("HPKE draws only the ephemeral key's 32 bytes")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let ikm = self.0.take().expect("the ephemeral seed is used once");
        assert_eq!(dst.len(), ikm.len(), "HPKE draws a 32-byte ikmE");
        dst.copy_from_slice(&ikm);
        Ok(())
    }
}

impl hpke::rand_core::TryCryptoRng for FixedIkm {}

impl OpenError {
    /// Whether the header alone shows the problem (no decryption needed): the file is not a
    /// capture packet of this format, or it is sealed to a key this server does not hold.
    /// Intake refuses those as client errors; the others need the key and are judged.
    pub fn is_header_error(&self) -> bool {
        !matches!(self, Self::Decrypt | Self::Payload(_))
    }
}

/// What the clear-text header of a packet says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub key_id: &'a str,
}

/// Checks the header without decrypting anything: size limit, magic, version, key id syntax,
/// and that the packet is long enough to hold a header and an authentication tag. Whether
/// the key id is one the server holds is the caller's question (the producer holds only the
/// public keys).
pub fn inspect_header(packet: &[u8]) -> Result<Header<'_>, OpenError> {
    split(packet).map(|(key_id, _, _)| Header { key_id })
}

/// (key id, header length, encapsulated key)
fn split(packet: &[u8]) -> Result<(&str, usize, &[u8]), OpenError> {
    if packet.len() > MAX_PACKET_BYTES {
        return Err(OpenError::TooLarge {
            size: packet.len(),
            limit: MAX_PACKET_BYTES,
        });
    }
    if packet.len() < 4 || &packet[..4] != MAGIC {
        return Err(OpenError::BadMagic);
    }
    let version = *packet
        .get(4)
        .ok_or(OpenError::BadHeader("no version byte"))?;
    if version != PACKET_VERSION {
        return Err(OpenError::UnsupportedVersion(version));
    }
    let id_len = *packet
        .get(5)
        .ok_or(OpenError::BadHeader("no key id length"))? as usize;
    if id_len == 0 || id_len > MAX_KEY_ID_LEN {
        return Err(OpenError::BadHeader("key id length must be 1-64"));
    }
    let header_len = 6 + id_len + ENC_LEN;
    if packet.len() < header_len + TAG_LEN {
        return Err(OpenError::BadHeader("packet ends inside the header"));
    }
    let key_id = std::str::from_utf8(&packet[6..6 + id_len])
        .ok()
        .filter(|id| KeyId::parse(id).is_ok())
        .ok_or(OpenError::BadHeader(
            "key id is not of the allowed characters",
        ))?;
    Ok((key_id, header_len, &packet[6 + id_len..header_len]))
}

/// Decrypts and decodes a packet with the server's keys.
pub fn open(packet: &[u8], keys: &Keyring) -> Result<Payload, OpenError> {
    let (key_id, header_len, enc) = split(packet)?;
    let key = keys
        .get(key_id)
        .ok_or_else(|| OpenError::UnknownKeyId(key_id.to_string()))?;
    let enc = Encapped::from_bytes(enc).map_err(|_| OpenError::Decrypt)?;
    let mut ctx = hpke::setup_receiver::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &key.secret,
        &enc,
        HPKE_INFO,
    )
    .map_err(|_| OpenError::Decrypt)?;
    let (aad, ciphertext) = packet.split_at(header_len);
    let plaintext = ctx.open(ciphertext, aad).map_err(|_| OpenError::Decrypt)?;
    Ok(Payload::from_cbor(&plaintext)?)
}
