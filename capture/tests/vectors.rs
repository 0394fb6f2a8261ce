//! The published test vectors of the capture packet (docs/capture-packet-vectors.json): a
//! platform team checks its own sealer (CryptoKit, Tink, ...) against them without our
//! code. This test recomputes every vector with the Rust sealer from its inputs (recipient
//! key, ikmE, payload) and demands the same bytes, opens each with the server's opener, and
//! has the independent Python implementation (scripts/py/capture_interop.py, pyhpke) do the
//! same. `LIVENESS_WRITE_VECTORS=1` writes the file afresh (new ikm, new frames).

use hpke::kem::X25519HkdfSha256;
use hpke::{Kem, Serializable};
use liveness_capture::{
    open, seal_for_test_vector, Camera, Frame, KeyId, Keyring, Payload, Platform, PrivateKey, Sdk,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/capture-packet-vectors.json"
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

/// The recipient's pair from its ikmR (RFC 9180 DeriveKeyPair), as the server holds it.
fn recipient(key_id: &str, ikm_r: &[u8]) -> PrivateKey {
    use base64::Engine as _;
    let (sk, _) = X25519HkdfSha256::derive_keypair(ikm_r);
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.to_bytes());
    PrivateKey::from_base64(KeyId::parse(key_id).unwrap(), &encoded).unwrap()
}

/// A small real JPEG: a gradient, different per frame.
fn jpeg(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 16) as u8, (y * 16) as u8, shade])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&image)
        .unwrap();
    out
}

fn payload(frames: usize) -> Payload {
    let started = 1_796_000_000_000u64;
    Payload {
        format_version: 1,
        sdk: Sdk {
            name: "test-vectors".into(),
            version: "1.0.0".into(),
        },
        platform: Platform::Ios,
        nonce: "vector-nonce-0001".into(),
        capture_started_at_ms: started,
        capture_ended_at_ms: started + 100 * frames as u64 + 50,
        camera: Camera {
            label: "Front Camera".into(),
            device_id: Some("com.apple.avfoundation.avcapturedevice.built-in_video:1".into()),
        },
        user_agent: None,
        automation: BTreeMap::new(),
        frames: (0..frames)
            .map(|i| {
                let bytes = jpeg(16, 12, 40 * i as u8);
                Frame {
                    captured_at_ms: started + 100 * (i as u64 + 1),
                    width: 16,
                    height: 12,
                    sha256: Sha256::digest(&bytes).to_vec(),
                    jpeg: bytes,
                }
            })
            .collect(),
    }
}

/// The payload's CBOR with keys a later format version might add: one at the top, one in a
/// frame. Readers of version 1 ignore them.
fn with_unknown_keys(cbor: &[u8]) -> Vec<u8> {
    use ciborium::Value as Cbor;
    let mut value: Cbor = ciborium::from_reader(cbor).unwrap();
    let Cbor::Map(top) = &mut value else {
        unreachable!()
    };
    top.push((
        Cbor::Text("future_field".into()),
        Cbor::Text("ignored by version 1 readers".into()),
    ));
    for (key, frames) in top.iter_mut() {
        if key == &Cbor::Text("frames".into()) {
            let Cbor::Array(frames) = frames else {
                unreachable!()
            };
            if let Cbor::Map(frame) = &mut frames[0] {
                frame.push((Cbor::Text("exposure_us".into()), Cbor::Integer(8000.into())));
            }
        }
    }
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).unwrap();
    out
}

fn generate() -> Value {
    let cases = [
        ("one frame", payload(1).to_cbor()),
        ("three frames", payload(3).to_cbor()),
        (
            "unknown keys present",
            with_unknown_keys(&payload(2).to_cbor()),
        ),
    ];
    let cases: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (name, cbor))| {
            let ikm_r = seed(&format!("liveness capture packet vector {i} recipient"));
            let ikm_e = seed(&format!("liveness capture packet vector {i} ephemeral"));
            let key = recipient(&format!("vector-key-{}", i + 1), &ikm_r);
            let packet = seal_for_test_vector(cbor, &key.public(), ikm_e).unwrap();
            case_json(name, &key, &ikm_r, &ikm_e, cbor, &packet)
        })
        .collect();
    json!({
        "description": "Capture packet format version 1 (docs/capture-packet.md). Each packet is HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, info \"liveness-capture-packet/v1\", the packet header as the AEAD's associated data, and the sender's ephemeral key pair derived from ikmE with RFC 9180 DeriveKeyPair (so the bytes are reproducible; a real client must draw a fresh ephemeral key for every packet). Byte strings are hex.",
        "hpke_info": hex(liveness_capture::HPKE_INFO),
        "cases": cases,
    })
}

fn case_json(
    name: &str,
    key: &PrivateKey,
    ikm_r: &[u8],
    ikm_e: &[u8; 32],
    cbor: &[u8],
    packet: &[u8],
) -> Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (sk_e, pk_e) = X25519HkdfSha256::derive_keypair(ikm_e);
    let header_len = 6 + key.key_id.as_str().len() + 32;
    json!({
        "name": name,
        "key_id": key.key_id.as_str(),
        "ikmR": hex(ikm_r),
        "skRm": hex(&b64.decode(key.to_base64()).unwrap()),
        "pkRm": hex(&b64.decode(key.public().to_base64()).unwrap()),
        "ikmE": hex(ikm_e),
        "skEm": hex(&sk_e.to_bytes()),
        "pkEm": hex(&pk_e.to_bytes()),
        "payload_cbor": hex(cbor),
        "header": hex(&packet[..header_len]),
        "packet": hex(packet),
    })
}

#[test]
fn published_vectors_are_what_the_sealer_makes_and_both_implementations_open() {
    if std::env::var("LIVENESS_WRITE_VECTORS").is_ok_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
        std::fs::write(FILE, text).unwrap();
    }
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let field = |name: &str| unhex(case[name].as_str().unwrap());
        let key = recipient(case["key_id"].as_str().unwrap(), &field("ikmR"));
        let ikm_e: [u8; 32] = field("ikmE").try_into().unwrap();
        let cbor = field("payload_cbor");
        let packet = seal_for_test_vector(&cbor, &key.public(), ikm_e).unwrap();
        // Every derived field, and the packet, recomputed from the inputs alone.
        let expected = case_json(
            case["name"].as_str().unwrap(),
            &key,
            &field("ikmR"),
            &ikm_e,
            &cbor,
            &packet,
        );
        assert_eq!(&expected, case, "vector {:?} differs", case["name"]);
        let opened = open(&field("packet"), &Keyring::new([key])).unwrap();
        assert_eq!(opened.nonce, "vector-nonce-0001");
        assert!(opened
            .frames
            .iter()
            .all(|f| Sha256::digest(&f.jpeg).to_vec() == f.sha256));
        if case["name"] != "unknown keys present" {
            assert_eq!(
                opened.to_cbor(),
                cbor,
                "the payload round-trips byte for byte"
            );
        }
    }
    // The independent implementation: derives the ephemeral key from ikmE, seals to the
    // same bytes, and opens each packet with skRm.
    let python = std::env::var("LIVENESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/py/capture_interop.py"
        ))
        .args(["vectors", FILE])
        .output()
        .expect("python runs (scripts/test installs pyhpke and cbor2)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report, json!({ "cases": 3, "same_bytes": 3, "opened": 3 }));
}
