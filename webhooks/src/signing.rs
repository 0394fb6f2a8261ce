//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per
//! valid secret, space separated, so receivers keep verifying across a secret rotation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use standardwebhooks::{Webhook, WebhookError};

pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh `whsec_` secret (24 random bytes, as the official libraries generate).
pub fn generate_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` header value for one message under every given secret.
pub fn signature_header(
    secrets: &[&str],
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, WebhookError> {
    let signatures: Result<Vec<String>, WebhookError> = secrets
        .iter()
        .map(|secret| Webhook::new(secret)?.sign(msg_id, timestamp, body.as_bytes()))
        .collect();
    Ok(signatures?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_signs_and_each_verifies_alone() {
        let (old, new) = (generate_secret(), generate_secret());
        let header = signature_header(&[&new, &old], "msg_1", 1_700_000_000, "{}").unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.split(' ').all(|s| s.starts_with("v1,")));
        // The spec's own example vector (standard-webhooks/spec, "Signature scheme").
        let spec = signature_header(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(spec, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
