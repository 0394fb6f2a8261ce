//! What capture assessment must remember between packets: issued nonces and the digests of
//! packets and frames already seen. The pipeline implements both in PostgreSQL;
//! [`MemoryStores`] serves tests and the command line.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued, unexpired, and not used by another submission: now consumed.
    Fresh,
    Unknown,
    Expired,
    AlreadyUsed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayCheck {
    /// The identical packet was recorded by another submission.
    pub packet_seen: bool,
    /// How many of this packet's frames another submission already carried.
    pub frames_seen: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("capture store unavailable")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Single-use session nonces. `submission` identifies the request (the transaction id), so that
/// assessing the same submission twice, as a redelivered job does, is not a reuse.
pub trait NonceStore: Sync {
    fn consume(
        &self,
        nonce: &str,
        submission: &str,
        now_ms: u64,
    ) -> impl Future<Output = Result<NonceCheck, StoreError>> + Send;
}

/// Digests of packets and frames already submitted, recorded as they are checked.
pub trait ReplayStore: Sync {
    fn record(
        &self,
        packet_sha256: [u8; 32],
        frames_sha256: &[[u8; 32]],
        submission: &str,
    ) -> impl Future<Output = Result<ReplayCheck, StoreError>> + Send;
}

struct IssuedNonce {
    expires_at_ms: u64,
    used_by: Option<String>,
}

/// In-process stores for tests and the CLI.
#[derive(Default)]
pub struct MemoryStores {
    nonces: Mutex<HashMap<String, IssuedNonce>>,
    packets: Mutex<HashMap<[u8; 32], String>>,
    frames: Mutex<HashMap<[u8; 32], String>>,
}

impl MemoryStores {
    pub fn issue_nonce(&self, nonce: &str, expires_at_ms: u64) {
        let entry = IssuedNonce {
            expires_at_ms,
            used_by: None,
        };
        self.nonces.lock().unwrap().insert(nonce.to_string(), entry);
    }
}

impl NonceStore for MemoryStores {
    async fn consume(
        &self,
        nonce: &str,
        submission: &str,
        now_ms: u64,
    ) -> Result<NonceCheck, StoreError> {
        let mut nonces = self.nonces.lock().unwrap();
        let Some(issued) = nonces.get_mut(nonce) else {
            return Ok(NonceCheck::Unknown);
        };
        Ok(match &issued.used_by {
            Some(by) if by == submission => NonceCheck::Fresh,
            Some(_) => NonceCheck::AlreadyUsed,
            None if now_ms > issued.expires_at_ms => NonceCheck::Expired,
            None => {
                issued.used_by = Some(submission.to_string());
                NonceCheck::Fresh
            }
        })
    }
}

impl ReplayStore for MemoryStores {
    async fn record(
        &self,
        packet_sha256: [u8; 32],
        frames_sha256: &[[u8; 32]],
        submission: &str,
    ) -> Result<ReplayCheck, StoreError> {
        let seen_by_other = |map: &mut HashMap<[u8; 32], String>, digest: [u8; 32]| {
            let owner = map.entry(digest).or_insert_with(|| submission.to_string());
            owner != submission
        };
        let packet_seen = seen_by_other(&mut self.packets.lock().unwrap(), packet_sha256);
        let mut frames = self.frames.lock().unwrap();
        let frames_seen = frames_sha256
            .iter()
            .filter(|d| seen_by_other(&mut frames, **d))
            .count();
        Ok(ReplayCheck {
            packet_seen,
            frames_seen,
        })
    }
}
