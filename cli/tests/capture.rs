//! The capture packet from the command line, and interoperability with an independent
//! implementation (scripts/py/capture_interop.py, pyhpke + cbor2) written from the spec.

mod exe;

use exe::{asset, burst, keygen, liveness, ok};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn python(args: &[&str]) -> Output {
    let python = std::env::var("LIVENESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/py/capture_interop.py"
    );
    Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("python runs (scripts/lib/env.sh sets LIVENESS_PYTHON)")
}

struct Setup {
    dir: PathBuf,
    public: String,
    private_entry: String,
    frames: Vec<String>,
}

fn setup(name: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("liveness-capture-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let keys = keygen(&dir.join("keys"), "k-2026");
    let frames = burst(&asset("silentface_image_T1.jpg"), &dir.join("frames"));
    Setup {
        dir,
        public: keys.public,
        private_entry: keys.private_entry,
        frames,
    }
}

fn assess(s: &Setup, packet: &Path, nonce: &str, selfie: Option<&str>) -> Value {
    let mut args = vec![
        "assess",
        "--keys",
        &s.private_entry,
        "--issued-nonce",
        nonce,
    ];
    if let Some(selfie) = selfie {
        args.extend(["--selfie", selfie]);
    }
    let packet = packet.to_str().unwrap();
    args.push(packet);
    serde_json::from_str(&ok(liveness(&args))).unwrap()
}

fn seal(s: &Setup, nonce: &str, extra: &[&str], name: &str) -> PathBuf {
    let out = s.dir.join(name);
    let mut args = vec![
        "seal",
        "--key",
        &s.public,
        "--nonce",
        nonce,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend(s.frames.iter().map(String::as_str));
    ok(liveness(&args));
    out
}

fn failed(v: &Value) -> Vec<String> {
    v["signals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["passed"] == false)
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn cli_seal_then_assess_is_live() {
    let s = setup("roundtrip");
    let packet = seal(&s, "nonce-rt", &[], "packet.bin");
    let v = assess(&s, &packet, "nonce-rt", Some(&s.frames[1]));
    assert_eq!(v["capture_liveness"]["probability"], 1.0, "{v}");
    assert!(v["capture_liveness"]["score"].as_f64().unwrap() > 1.0);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[test]
fn cli_test_aids_produce_the_named_failures() {
    let s = setup("aids");
    let cases: [(&[&str], &str); 6] = [
        (&["--tamper"], "packet_intact"),
        (&["--wrong-frame-hash"], "frame_hashes_match"),
        (&["--claim-size", "1920x1080"], "frame_sizes_match"),
        (&["--timestamps", "reversed"], "timestamps_plausible"),
        (&["--camera-label", "OBS Virtual Camera"], "physical_camera"),
        (&["--automation", "webdriver"], "no_automation"),
    ];
    for (i, (aid, signal)) in cases.iter().enumerate() {
        let nonce = format!("n{i}");
        let packet = seal(&s, &nonce, aid, &format!("p{i}.bin"));
        let v = assess(&s, &packet, &nonce, None);
        assert_eq!(v["capture_liveness"]["probability"], 0.0, "{aid:?}");
        assert_eq!(failed(&v), vec![signal.to_string()], "{aid:?}");
    }
    // Sealed to a key id the server never issued: an integration mistake, not judged at all.
    let packet = seal(
        &s,
        "n-key",
        &["--claim-key-id", "k-2019"],
        "unknown-key.bin",
    );
    let out = liveness(&[
        "assess",
        "--keys",
        &s.private_entry,
        packet.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"k-2019\""), "{stderr}");
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[test]
fn packet_sealed_by_pyhpke_opens_and_is_live() {
    let s = setup("py-seal");
    let packet = s.dir.join("from-python.bin");
    let mut args = vec!["seal", &s.public, "nonce-py", packet.to_str().unwrap(), "1"];
    args.extend(s.frames.iter().map(String::as_str));
    let out = python(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = assess(&s, &packet, "nonce-py", Some(&s.frames[1]));
    assert_eq!(v["capture_liveness"]["probability"], 1.0, "{v}");
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[test]
fn packet_sealed_by_our_cli_opens_with_pyhpke() {
    let s = setup("py-open");
    let packet = seal(&s, "nonce-rs", &[], "from-rust.bin");
    let out = python(&["open", &s.private_entry, packet.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["nonce"], "nonce-rs");
    assert_eq!(v["key_id"], "k-2026");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["frames"].as_array().unwrap().len(), 3);
    assert_eq!(v["frames"][0]["width"], 480);
    // A tampered packet must not open there either.
    let tampered = seal(&s, "nonce-rs2", &["--tamper"], "tampered.bin");
    assert!(
        !python(&["open", &s.private_entry, tampered.to_str().unwrap()])
            .status
            .success()
    );
    std::fs::remove_dir_all(&s.dir).unwrap();
}
