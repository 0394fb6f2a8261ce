//! Frames are decoded only when their JPEG header agrees with the size the packet declares
//! and the job stays within its pixel budget: a header claiming 8000 × 8000 (a 192 MiB
//! allocation, were it decoded) in a packet that declares the real size, and a job past its
//! budget, are judged without decoding those frames; so are headers claiming 60000 × 60000,
//! with the worker's peak memory measured.

mod support;

use liveness_capture::{seal, simulate};
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::*;

async fn frame_sizes_detail(stack: &Stack, id: i64) -> (bool, String) {
    sqlx::query_as(
        "SELECT (s->>'passed')::boolean, s->>'detail' FROM verdicts, jsonb_array_elements(capture_signals) s
         WHERE transaction_id = $1 AND s->>'name' = 'frame_sizes_match'",
    )
    .bind(id)
    .fetch_one(&stack.db)
    .await
    .unwrap()
}

async fn submit_frames(
    stack: &Stack,
    client: &Client,
    patch: impl FnOnce(&mut liveness_capture::Payload),
) -> Value {
    let nonce = stack.nonce(client).await;
    let mut payload = payload(&nonce, &burst("silentface_image_T1.jpg"));
    patch(&mut payload);
    let packet = seal(&payload, &stack.key.public()).unwrap();
    let (status, verdict) = stack
        .submit(client, form(packet).text("return_id", "true"), &[])
        .await;
    assert_eq!(status, 200, "{verdict}");
    verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_whose_header_lies_about_its_size_is_never_decoded() {
    let stack = Stack::start().await;
    let client = stack.client("lying-header").await;
    let verdict = submit_frames(&stack, &client, |payload| {
        let frame = &mut payload.frames[1];
        frame.jpeg = simulate::with_jpeg_header_size(&frame.jpeg, 8000, 8000);
        frame.sha256 = Sha256::digest(&frame.jpeg).to_vec();
    })
    .await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    let (passed, detail) = frame_sizes_detail(&stack, verdict["id"].as_i64().unwrap()).await;
    assert!(!passed);
    assert!(detail.contains("frame 1 is 8000x8000"), "{detail}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_past_the_jobs_pixel_budget_are_not_decoded() {
    let stack = Stack::without_worker().await;
    let frame = sample("silentface_image_T1.jpg");
    let frame_pixels = frame.width() as u64 * frame.height() as u64;
    let worker = LateWorker::start(liveness_worker::WorkerConfig {
        max_job_pixels: 2 * frame_pixels,
        ..stack.worker_config.clone()
    })
    .await;
    let client = stack.client("budget").await;
    let verdict = submit_frames(&stack, &client, |_| {}).await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    let (passed, detail) = frame_sizes_detail(&stack, verdict["id"].as_i64().unwrap()).await;
    assert!(!passed);
    assert!(detail.contains("frame 2 was not decoded"), "{detail}");
    worker.stop().await;
    stack.stop().await;
}

/// Peak resident memory of a process (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_claiming_60000_squared_are_refused_and_the_workers_memory_stays_bounded() {
    let stack = Stack::without_worker().await;
    let mut worker = spawn_worker(&stack);
    let client = stack.client("huge-header").await;
    // Every frame claims 60000 × 60000 (10 GB of RGB, were it decoded).
    let verdict = submit_frames(&stack, &client, |payload| {
        for frame in &mut payload.frames {
            frame.jpeg = simulate::with_jpeg_header_size(&frame.jpeg, 60000, 60000);
            frame.sha256 = Sha256::digest(&frame.jpeg).to_vec();
        }
    })
    .await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    let (passed, detail) = frame_sizes_detail(&stack, verdict["id"].as_i64().unwrap()).await;
    assert!(!passed);
    assert!(detail.contains("60000x60000"), "{detail}");
    let lying = peak_rss_mib(worker.id());
    // An honest capture afterwards, for comparison: the models and one job's frames.
    let honest = submit_frames(&stack, &client, |_| {}).await;
    assert_eq!(honest["valid"], true, "{honest}");
    let after_honest = peak_rss_mib(worker.id());
    eprintln!("worker peak RSS: {lying} MiB after the 60000² capture, {after_honest} MiB after an honest one");
    // Far below one decoded frame of that size (10 GB); the same order as an honest job.
    assert!(lying < 1024, "{lying} MiB");
    worker.kill().unwrap();
    worker.wait().unwrap();
    stack.stop().await;
}
