//! A verdict about one live person: every frame judged on its own, one face through the
//! burst, and the selfie the server chose, on the real stack and models.

mod support;

use liveness_pipeline::storage::Storage;
use reqwest::multipart::Part;
use serde_json::Value;
use support::*;

async fn submit_frames(
    stack: &Stack,
    client: &Client,
    frames: &[Vec<u8>],
    selfie: Option<&[u8]>,
) -> Value {
    let packet = sealed_packet(stack, client, frames).await;
    let mut form = form(packet)
        .text("details", "true")
        .text("return_id", "true");
    if let Some(selfie) = selfie {
        form = form.part(
            "selfie",
            Part::bytes(selfie.to_vec()).file_name("selfie.jpeg"),
        );
    }
    let (status, body) = stack.submit(client, form, &[]).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn passed(signals: &[(String, bool)], name: &str) -> Option<bool> {
    signals.iter().find(|(n, _)| n == name).map(|(_, p)| *p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_burst_gives_the_middle_frame_as_selfie_encrypted_at_rest() {
    let stack = Stack::start().await;
    let client = stack.client("selfie").await;
    let frames = burst("silentface_image_T1.jpg");
    let body = submit_frames(&stack, &client, &frames, Some(&frames[1])).await;
    assert_eq!(body["valid"], true, "{body}");
    let id = body["id"].as_i64().unwrap();
    assert_eq!(passed(&signals(&stack, id).await, "same_face"), Some(true));

    let response = stack
        .client
        .get(stack.url(&format!("/api/v3/biometrics/liveness/{id}/selfie")))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(
        response.bytes().await.unwrap(),
        frames[1],
        "exactly the middle frame"
    );

    // In the bucket it is ciphertext: no JPEG signature, no run of the frame's bytes.
    let key: String = sqlx::query_scalar("SELECT selfie_key FROM transactions WHERE id = $1")
        .bind(id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    let stored = Storage::new(&stack.worker_config.storage)
        .get(&key)
        .await
        .unwrap();
    assert!(
        !stored.starts_with(&[0xFF, 0xD8]),
        "stored selfie is a JPEG"
    );
    assert!(!stored
        .windows(32)
        .any(|w| frames[1].windows(32).take(4096).any(|f| f == w)));
    assert!(stored.starts_with(b"LVSO"));

    // Another tenant's id is simply not found; a malformed one too.
    let other = stack.client("other").await;
    let path = format!("/api/v3/biometrics/liveness/{id}/selfie");
    assert_eq!(stack.call(&other, "GET", &path).await.0, 404);
    let (status, _) = stack
        .call(&client, "GET", "/api/v3/biometrics/liveness/x/selfie")
        .await;
    assert_eq!(status, 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selfie_waits_for_the_verdict() {
    let stack = Stack::without_worker().await;
    let client = stack.client("early").await;
    let frames = burst("silentface_image_T1.jpg");
    let packet = sealed_packet(&stack, &client, &frames).await;
    let (status, body) = stack
        .submit(&client, form(packet), &[("prefer", "respond-async")])
        .await;
    assert_eq!(status, 202, "{body}");
    let path = format!("/api/v3/biometrics/liveness/{}/selfie", body["id"]);
    let (status, body) = stack.call(&client, "GET", &path).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("not_finished")),
        "{body}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_mixing_two_people_is_an_attack_whatever_the_order() {
    let stack = Stack::start().await;
    let client = stack.client("mixed").await;
    let t1 = sample("silentface_image_T1.jpg");
    let (width, height) = t1.dimensions();
    for position in 0..3 {
        let mut frames = burst("silentface_image_T1.jpg")[..2].to_vec();
        let astronaut = frame_sized("astronaut.png", width, height);
        frames.insert(position, astronaut.clone());
        // The client's selfie is the other person's frame, or none at all.
        let selfie = (position % 2 == 0).then_some(astronaut.as_slice());
        let body = submit_frames(&stack, &client, &frames, selfie).await;
        assert_eq!(body["valid"], false, "astronaut at {position}: {body}");
        assert_eq!(body["error_code"], 715, "astronaut at {position}: {body}");
        let id = body["id"].as_i64().unwrap();
        let signals = signals(&stack, id).await;
        assert_eq!(
            passed(&signals, "same_face"),
            Some(false),
            "astronaut at {position}: {signals:?}"
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_burst_with_natural_jitter_is_valid() {
    let stack = Stack::start().await;
    let client = stack.client("jitter").await;
    for _ in 0..3 {
        let frames = jittered("silentface_image_T1.jpg", 3);
        let body = submit_frames(&stack, &client, &frames, Some(&frames[1])).await;
        assert_eq!(body["valid"], true, "{body}");
        let id = body["id"].as_i64().unwrap();
        assert_eq!(passed(&signals(&stack, id).await, "same_face"), Some(true));
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_spoof_frame_decides_and_its_probability_is_reported() {
    let stack = Stack::start().await;
    let client = stack.client("minimum").await;
    let mut frames = burst("silentface_image_T1.jpg")[..2].to_vec();
    frames.extend(burst("silentface_image_F1.jpg").into_iter().take(1));
    let body = submit_frames(&stack, &client, &frames, None).await;
    assert_eq!(body["valid"], false, "{body}");
    assert_eq!(body["error_code"], 715, "{body}");
    let reported = body["error_details"]["api_response"]["face_liveness"]["probability"]
        .as_f64()
        .unwrap();
    let per_frame: Vec<Option<f64>> = sqlx::query_scalar(
        "SELECT (f->>'face_probability')::float8 FROM verdicts, jsonb_array_elements(frames) f
         WHERE transaction_id = $1",
    )
    .bind(body["id"].as_i64().unwrap())
    .fetch_all(&stack.db)
    .await
    .unwrap();
    let f1 = per_frame[2].expect("a face in the F1 frame");
    assert!(
        per_frame[0].unwrap() > 0.9 && per_frame[1].unwrap() > 0.9,
        "{per_frame:?}"
    );
    assert!(f1 < 0.5, "{per_frame:?}");
    assert!(
        (reported - f1).abs() < 1e-6,
        "reported {reported}, F1 frame {f1}"
    );
    stack.stop().await;
}
