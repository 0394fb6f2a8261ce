//! The web capture library in real headless Chromium (playwright-core): a fake camera plays
//! a video made from a sample photo. The plain-HTML integration of web/README.md, served from
//! another origin than the API's with its own back end creating the capture session
//! (web/test/cross-origin.mjs), and the demo page the producer serves (web/test/e2e.mjs),
//! capture, seal in the browser, submit with a capture token and show the verdict.
//! Screenshots land in web/test-artifacts/.

mod support;

use liveness_capture::{KeyId, KeySchedule, Keyring, Policy, PrivateKey};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// Canonical: Chromium refuses a fake-camera file whose path contains `..`.
fn web_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web"))
        .canonicalize()
        .unwrap()
}

/// Chromium names its file-fed camera after the file.
fn video_path(name: &str) -> PathBuf {
    web_dir().join("test-artifacts").join(format!("{name}.y4m"))
}

/// A Y4M (4:2:0) video of `frames` copies of the photo, each with its own sensor-like noise,
/// so consecutive captured frames differ as a real camera's do.
fn y4m_of(image: &str, frames: u32, path: &Path) {
    let bytes = std::fs::read(assets().join(image)).expect("run scripts/fetch-models");
    let rgb = liveness_models::decode::decode_rgb(&bytes).unwrap();
    let (w, h) = (rgb.width() as usize & !1, rgb.height() as usize & !1);
    let mut out = format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    let mut state = 0x9e37_79b9u32;
    for _ in 0..frames {
        out.extend_from_slice(b"FRAME\n");
        let mut y = vec![0u8; w * h];
        let (mut u, mut v) = (vec![0f32; w * h / 4], vec![0f32; w * h / 4]);
        for row in 0..h {
            for col in 0..w {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = (state % 9) as f32 - 4.0;
                let p = rgb.get_pixel(col as u32, row as u32).0.map(|c| c as f32);
                y[row * w + col] =
                    (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] + noise).clamp(0.0, 255.0) as u8;
                let c = (row / 2) * (w / 2) + col / 2;
                u[c] += (-0.1687 * p[0] - 0.3313 * p[1] + 0.5 * p[2]) / 4.0;
                v[c] += (0.5 * p[0] - 0.4187 * p[1] - 0.0813 * p[2]) / 4.0;
            }
        }
        out.extend_from_slice(&y);
        out.extend(u.iter().map(|c| (c + 128.0).clamp(0.0, 255.0) as u8));
        out.extend(v.iter().map(|c| (c + 128.0).clamp(0.0, 255.0) as u8));
    }
    std::fs::write(path, out).unwrap();
}

/// Runs a page script of web/test (`node SCRIPT ARGS... VIDEO SCREENSHOT`) with a camera
/// playing `image`; the JSON it prints.
async fn run_page_script(
    script: &'static str,
    args: Vec<String>,
    image: &str,
    name: &str,
) -> Value {
    let video = video_path(name);
    std::fs::create_dir_all(video.parent().unwrap()).unwrap();
    y4m_of(image, 10, &video);
    let screenshot = video.with_extension("png");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(web_dir())
            .arg(script)
            .args(args)
            .arg(&video)
            .arg(&screenshot)
            .output()
            .expect("node runs (scripts/test installs Node.js, Chromium and web/node_modules)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{script}: the page did not finish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs the demo page the producer serves, given a capture token in its address, against
/// this stack with a camera playing `image`; the verdict it shows.
async fn capture_in_chromium(stack: &Stack, image: &str, name: &str) -> Value {
    let back_end = stack.client(name).await;
    let client = stack.browser(&back_end).await;
    run_page_script(
        "test/e2e.mjs",
        vec![stack.base.clone(), client.token],
        image,
        name,
    )
    .await
}

/// A port nothing listens on now, for the integrator's site.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The plain-HTML integration served at http://127.0.0.1:`port` (another origin than the
/// API), its back end holding `client`'s tenant token; what the page shows, and the CORS
/// errors Chromium reported.
async fn capture_cross_origin(
    stack: &Stack,
    client: &Client,
    port: u16,
    image: &str,
    name: &str,
) -> Value {
    let args = vec![stack.base.clone(), client.token.clone(), port.to_string()];
    run_page_script("test/cross-origin.mjs", args, image, name).await
}

/// Chromium's file-fed camera (labelled with its path) and the automation flag of a browser
/// under test: exactly what this rig may allow, and nothing else.
fn test_rig_policy() -> Policy {
    Policy {
        trusted_camera_labels: ["live", "spoof", "site-live", "site-spoof"]
            .map(|name| video_path(name).to_string_lossy().into_owned())
            .to_vec(),
        ignored_automation_flags: vec!["webdriver".into()],
        ..Policy::default()
    }
}

/// An older key still offered and a newer one: the element must seal to the newer.
fn rotated_keys() -> Keyring {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let key = |id: &str, activated_at_ms| {
        (
            PrivateKey::generate(KeyId::parse(id).unwrap()),
            KeySchedule {
                activated_at_ms,
                retired_at_ms: None,
            },
        )
    };
    // Ids in the opposite order of activation: the order is by activation, not by name.
    Keyring::scheduled([
        key("b-older", now - 7_200_000),
        key("a-newer", now - 60_000),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_capture_from_another_origin_is_judged_end_to_end() {
    let stack = Stack::start_with(Options {
        policy: test_rig_policy(),
        capture_keys: Some(rotated_keys()),
        ..Options::default()
    })
    .await;
    let client = stack.client("cross-origin").await;
    let port = free_port();
    liveness_pipeline::db::tenants::set_allowed_origins(
        &stack.db,
        client.tenant_id,
        &[format!("http://127.0.0.1:{port}")],
    )
    .await
    .unwrap();
    let page = capture_cross_origin(
        &stack,
        &client,
        port,
        "silentface_image_T1.jpg",
        "site-live",
    )
    .await;
    assert_eq!(page["state"], "done", "{page}");
    let live: Value = serde_json::from_str(page["text"].as_str().unwrap()).unwrap();
    assert_eq!(live["valid"], true, "{live}");
    let id = live["id"].as_i64().unwrap();
    let packet_key: String =
        sqlx::query_scalar("SELECT packet_key FROM transactions WHERE id = $1")
            .bind(id)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    let packet = liveness_pipeline::storage::Storage::new(&stack.worker_config.storage)
        .get(&packet_key)
        .await
        .unwrap();
    assert_eq!(
        liveness_capture::inspect_header(&packet).unwrap().key_id,
        "a-newer",
        "the element seals to the key listed first"
    );

    let page = capture_cross_origin(
        &stack,
        &client,
        port,
        "silentface_image_F1.jpg",
        "site-spoof",
    )
    .await;
    let spoof: Value = serde_json::from_str(page["text"].as_str().unwrap()).unwrap();
    assert_eq!(spoof["valid"], false, "{spoof}");
    assert_eq!(spoof["error_code"], 715, "{spoof}");
    assert_eq!(spoof["error_details"]["problem"], "attack", "{spoof}");
    assert_eq!(
        spoof["error_details"]["api_response"]["capture_liveness"]["probability"], 1.0,
        "the capture itself is genuine: the face model rejects the printed photo"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_blocks_a_page_whose_origin_the_tenant_did_not_allow() {
    let stack = Stack::start_with(Options {
        policy: test_rig_policy(),
        ..Options::default()
    })
    .await;
    let client = stack.client("cross-origin-blocked").await;
    let (allowed, page_port) = (free_port(), free_port());
    liveness_pipeline::db::tenants::set_allowed_origins(
        &stack.db,
        client.tenant_id,
        &[format!("http://127.0.0.1:{allowed}")],
    )
    .await
    .unwrap();
    let page = capture_cross_origin(
        &stack,
        &client,
        page_port,
        "silentface_image_T1.jpg",
        "site-blocked",
    )
    .await;
    assert_eq!(page["state"], "error", "{page}");
    let cors = page["cors_errors"].as_array().unwrap();
    assert!(
        cors.iter()
            .any(|m| m.as_str().unwrap().contains("blocked by CORS policy")),
        "{page}"
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE tenant_id = $1")
        .bind(client.tenant_id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_is_judged_end_to_end_with_a_capture_token() {
    let stack = Stack::start_with(Options {
        policy: test_rig_policy(),
        ..Options::default()
    })
    .await;
    let live = capture_in_chromium(&stack, "silentface_image_T1.jpg", "live").await;
    assert_eq!(live["valid"], true, "{live}");
    assert_eq!(live["api_response"]["capture_liveness"]["probability"], 1.0);
    let id = live["id"].as_i64().unwrap();
    // The seed's FormData fields arrived: the selfie (the middle sealed frame) and metadata.
    let (selfie, citizen, device): (Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT selfie_key, citizen_id, device FROM transactions WHERE id = $1")
            .bind(id)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert!(selfie.is_some());
    assert_eq!(citizen.as_deref(), Some("7-708-214"));
    assert_eq!(device.as_deref(), Some("DESKTOP"));

    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_policy_flags_the_fake_camera_as_injection() {
    let stack = Stack::start().await;
    let verdict = capture_in_chromium(&stack, "silentface_image_T1.jpg", "injected").await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert_eq!(verdict["error_code"], 715);
    let id = verdict["id"].as_i64().unwrap();
    let failed: Vec<String> = sqlx::query_scalar(
        "SELECT s->>'name' FROM verdicts, jsonb_array_elements(capture_signals) s
         WHERE transaction_id = $1 AND NOT (s->>'passed')::boolean ORDER BY 1",
    )
    .bind(id)
    .fetch_all(&stack.db)
    .await
    .unwrap();
    assert_eq!(failed, vec!["no_automation", "physical_camera"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_and_network_failures_are_reported_clearly() {
    let stack = Stack::without_worker().await;
    let video = video_path("errors");
    std::fs::create_dir_all(video.parent().unwrap()).unwrap();
    y4m_of("silentface_image_T1.jpg", 2, &video);
    let base = stack.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(web_dir())
            .arg("test/errors.mjs")
            .arg(&base)
            .arg(&video)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (case, code) in [
        ("permission_denied", "camera_permission_denied"),
        ("no_camera", "no_camera"),
        ("unsupported", "unsupported_browser"),
        ("network", "network_error"),
    ] {
        assert_eq!(results[case]["code"], code, "{results}");
        assert_eq!(
            results[case]["shown"], true,
            "the element shows it: {results}"
        );
    }
    stack.stop().await;
}
