//! Browser access without the tenant's secret: a capture token per session, which may read
//! the keys and submit that session's one capture and nothing else; what the browser is
//! told about a rejection; CORS per tenant; capture keys that rotate with a grace period.

mod support;

use liveness_capture::{seal, KeyId, KeySchedule, Keyring, PrivateKey};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::*;

const SIGNAL_NAMES: [&str; 12] = [
    "packet_intact",
    "nonce_valid",
    "packet_not_replayed",
    "frames_not_replayed",
    "frame_hashes_match",
    "selfie_is_sealed_frame",
    "physical_camera",
    "no_automation",
    "timestamps_plausible",
    "frame_sizes_match",
    "frames_differ",
    "same_face",
];

fn details() -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("details", "true")
        .text("return_id", "true")
}

fn with_packet(packet: Vec<u8>) -> reqwest::multipart::Form {
    details().part(
        "encrypted_file",
        reqwest::multipart::Part::bytes(packet).file_name("capture.lvcp"),
    )
}

async fn transactions_of(stack: &Stack, tenant: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM transactions WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_token_reads_the_keys_and_submits_once_and_nothing_else() {
    let stack = Stack::start().await;
    let back_end = stack.client("tokens").await;
    let session = stack.capture_session(&back_end).await;
    let ttl = session["capture_token_expires_in"].as_i64().unwrap();
    assert!(
        (295..=300).contains(&ttl),
        "expires with the session: {session}"
    );
    let browser = Client {
        tenant_id: back_end.tenant_id,
        token: session["capture_token"].as_str().unwrap().to_string(),
    };

    // The keys, and the session's nonce for a page that was given only the token.
    let (status, keys) = stack
        .call(&browser, "GET", "/api/v3/biometrics/liveness/keys")
        .await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["nonce"], session["nonce"]);
    assert_eq!(keys["keys"][0]["key_id"], "e2e-key");

    // Every back-end route: 403 insufficient_scope.
    let id = stack.submit_live_async(&back_end, 1).await[0];
    for (method, path) in [
        ("GET", format!("/api/v3/biometrics/liveness/{id}")),
        ("GET", format!("/api/v3/biometrics/liveness/{id}/selfie")),
        (
            "DELETE",
            format!("/api/v3/biometrics/liveness/{id}/capture"),
        ),
        ("POST", "/api/v3/biometrics/liveness/sessions".into()),
        ("GET", "/api/v3/biometrics/liveness/allowed-origins".into()),
        ("GET", "/api/v3/webhooks/endpoints".into()),
        ("POST", "/api/v3/webhooks/endpoints".into()),
        ("GET", "/api/v3/webhooks/messages".into()),
        ("GET", "/api/v3/webhooks/allowed-hosts".into()),
    ] {
        let (status, body) = stack.call(&browser, method, &path).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["error"], "insufficient_scope", "{method} {path}");
    }
    // The tenant's token still reaches them all.
    let (status, _) = stack.lookup(&back_end, id).await;
    assert_eq!(status, 200);

    // One capture, with the seed's request; the answer has the seed's shape.
    let nonce = session["nonce"].as_str().unwrap();
    let (packet, _) = stack.packet("silentface_image_T1.jpg", nonce);
    let (status, verdict) = stack.submit(&browser, with_packet(packet), &[]).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["api_response"]["face_liveness"]["probability"], 1.0);
    assert_eq!(
        verdict["api_response"]["capture_liveness"],
        json!({ "score": 1.0, "probability": 1.0 })
    );
    let before = transactions_of(&stack, back_end.tenant_id).await;

    // A second submission with the same token: refused, nothing stored.
    let (packet, _) = stack.packet("silentface_image_T1.jpg", nonce);
    let (status, body) = stack.submit(&browser, with_packet(packet), &[]).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "capture_already_submitted");
    assert_eq!(transactions_of(&stack, back_end.tenant_id).await, before);

    // A capture token cannot redirect the webhook either.
    let other = stack.browser(&back_end).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", nonce);
    let form = with_packet(packet).text("webhook_url", "https://hooks.example/x");
    let (status, body) = stack.submit(&other, form, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_token_expires_with_its_session() {
    let stack = Stack::start_with(Options {
        in_process_worker: false,
        session_ttl: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let back_end = stack.client("expiry").await;
    let browser = stack.browser(&back_end).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _) = stack
        .call(&browser, "GET", "/api/v3/biometrics/liveness/keys")
        .await;
    assert_eq!(status, 401);
    // Last: the producer answers 401 before reading this upload and then closes the
    // connection, which a request reusing it would find broken.
    let (packet, _) = stack.packet("silentface_image_T1.jpg", "whatever");
    let (status, body) = stack.submit(&browser, with_packet(packet), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("token_expired")),
        "{body}"
    );
    assert_eq!(transactions_of(&stack, back_end.tenant_id).await, 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_learns_the_kind_of_problem_and_the_back_end_the_signal() {
    let stack = Stack::start().await;
    let back_end = stack.client("feedback").await;
    // A genuine capture, submitted by the back end; then the same packet replayed by a page.
    let nonce = stack.nonce(&back_end).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (status, first) = stack
        .submit(&back_end, with_packet(packet.clone()), &[])
        .await;
    assert_eq!(
        (status, first["valid"].as_bool()),
        (200, Some(true)),
        "{first}"
    );
    let browser = stack.browser(&back_end).await;
    let (status, replayed) = stack.submit(&browser, with_packet(packet), &[]).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["valid"], false);
    assert_eq!(replayed["error_code"], 715);
    assert_eq!(replayed["error_details"]["problem"], "attack");
    let text = replayed.to_string();
    for name in SIGNAL_NAMES {
        assert!(!text.contains(name), "the browser is told {name}: {text}");
    }
    assert!(
        !text.contains("capture_signal") && !text.contains("value achieved"),
        "{text}"
    );
    let capture = &replayed["error_details"]["api_response"]["capture_liveness"];
    assert_eq!(
        *capture,
        json!({ "score": 0.0, "probability": 0.0 }),
        "no partial score"
    );

    // The back end's lookup of the same id has the full breakdown.
    let id = replayed["id"].as_i64().unwrap();
    let (status, full) = stack.lookup(&back_end, id).await;
    assert_eq!(status, 200);
    assert_eq!(
        full["error_details"]["capture_signal"], "nonce_valid",
        "{full}"
    );
    let score = full["error_details"]["api_response"]["capture_liveness"]["score"]
        .as_f64()
        .unwrap();
    assert!(score > 0.0 && score < 1.0, "{full}");
    let failed: Vec<String> = signals(&stack, id)
        .await
        .into_iter()
        .filter(|(_, passed)| !passed)
        .map(|(name, _)| name)
        .collect();
    assert!(
        failed.contains(&"packet_not_replayed".to_string()),
        "{failed:?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_token_carries_only_a_packet_made_for_its_own_session() {
    let stack = Stack::start().await;
    let back_end = stack.client("bound").await;
    // An unused nonce of another session of the same tenant.
    let other_nonce = stack.nonce(&back_end).await;
    let browser = stack.browser(&back_end).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &other_nonce);
    let (status, verdict) = stack.submit(&browser, with_packet(packet), &[]).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["valid"], false, "{verdict}");
    let id = verdict["id"].as_i64().unwrap();
    assert!(signals(&stack, id)
        .await
        .contains(&("nonce_valid".to_string(), false)));
    stack.stop().await;
}

async fn preflight(stack: &Stack, path: &str, origin: &str) -> reqwest::Response {
    stack
        .client
        .request(Method::OPTIONS, stack.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap()
}

fn allow_origin(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_the_capture_routes_for_the_tenants_origins_only() {
    let stack = Stack::without_worker().await;
    let back_end = stack.client("cors").await;
    let response = stack
        .client
        .put(stack.url("/api/v3/biometrics/liveness/allowed-origins"))
        .bearer_auth(&back_end.token)
        .json(&json!({ "origins": ["https://Shop.Example/", "http://127.0.0.1:5173"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["origins"],
        json!(["https://shop.example", "http://127.0.0.1:5173"])
    );
    for bad in [
        json!(["*"]),
        json!(["http://shop.example"]),
        json!(["null"]),
    ] {
        let response = stack
            .client
            .put(stack.url("/api/v3/biometrics/liveness/allowed-origins"))
            .bearer_auth(&back_end.token)
            .json(&json!({ "origins": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }

    // Preflights: the allowed origin gets exactly its own origin back, never `*` or
    // credentials; another origin gets none.
    for path in [
        "/api/v3/biometrics/liveness/",
        "/api/v3/biometrics/liveness/keys",
        "/api/v3/biometrics/nationals/",
    ] {
        let ok = preflight(&stack, path, "https://shop.example").await;
        assert_eq!(ok.status(), 204, "{path}");
        assert_eq!(allow_origin(&ok).as_deref(), Some("https://shop.example"));
        assert!(ok
            .headers()
            .get("access-control-allow-credentials")
            .is_none());
        let allowed_headers = ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed_headers.contains("authorization"));
        let refused = preflight(&stack, path, "https://evil.example").await;
        assert_eq!(refused.status(), 403, "{path}");
        assert_eq!(allow_origin(&refused), None);
    }
    // Back-end routes answer no preflight at all.
    for path in [
        "/api/v3/biometrics/liveness/1",
        "/api/v3/biometrics/liveness/sessions",
        "/api/v3/webhooks/endpoints",
    ] {
        let response = preflight(&stack, path, "https://shop.example").await;
        assert_eq!(allow_origin(&response), None, "{path}");
    }

    // The request itself is held to its token's tenant: another tenant's origin is refused
    // before anything happens, its own gets the header.
    let browser = stack.browser(&back_end).await;
    let keys = |origin: &'static str| {
        stack
            .client
            .get(stack.url("/api/v3/biometrics/liveness/keys"))
            .bearer_auth(&browser.token)
            .header("origin", origin)
            .send()
    };
    let ok = keys("https://shop.example").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(allow_origin(&ok).as_deref(), Some("https://shop.example"));
    let other_tenant = stack.client("cors-other").await;
    liveness_pipeline::db::tenants::set_allowed_origins(
        &stack.db,
        other_tenant.tenant_id,
        &["https://other.example".into()],
    )
    .await
    .unwrap();
    let refused = keys("https://other.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(allow_origin(&refused), None);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "origin_not_allowed");
    // Without an Origin (a back end), no CORS at all.
    let (status, _) = stack
        .call(&browser, "GET", "/api/v3/biometrics/liveness/keys")
        .await;
    assert_eq!(status, 200);
    stack.stop().await;
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_key_opens_packets_during_its_grace_period_then_is_unknown() {
    let old = PrivateKey::generate(KeyId::parse("k-old").unwrap());
    let new = PrivateKey::generate(KeyId::parse("k-new").unwrap());
    let now = now_ms();
    let grace = Duration::from_secs(3);
    let keys = Keyring::scheduled([
        (
            old.clone(),
            KeySchedule {
                activated_at_ms: now - 86_400_000,
                retired_at_ms: Some(now),
            },
        ),
        (
            new.clone(),
            KeySchedule {
                activated_at_ms: now - 1_000,
                retired_at_ms: None,
            },
        ),
    ])
    .with_grace(grace);
    let stack = Stack::start_with(Options {
        capture_keys: Some(keys),
        ..Options::default()
    })
    .await;
    let back_end = stack.client("rotation").await;
    let session = stack.capture_session(&back_end).await;
    let offered: Vec<&str> = session["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["k-new"], "the retired key is no longer offered");

    // A client that still seals to the old key, within the grace period: judged normally.
    let nonce = session["nonce"].as_str().unwrap();
    let frames = burst("silentface_image_T1.jpg");
    let sealed_to_old = seal(&payload(nonce, &frames), &old.public()).unwrap();
    let (status, verdict) = stack
        .submit(&back_end, with_packet(sealed_to_old), &[])
        .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["valid"], true, "{verdict}");

    // After the grace period: unknown, refused at intake, nothing stored.
    let elapsed = now_ms() - now;
    tokio::time::sleep(
        grace.saturating_sub(Duration::from_millis(elapsed)) + Duration::from_millis(200),
    )
    .await;
    let before = transactions_of(&stack, back_end.tenant_id).await;
    let nonce = stack.nonce(&back_end).await;
    let late = seal(
        &payload(&nonce, &burst("silentface_image_T1.jpg")),
        &old.public(),
    )
    .unwrap();
    let (status, body) = stack.submit(&back_end, with_packet(late), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unknown_key")),
        "{body}"
    );
    assert_eq!(transactions_of(&stack, back_end.tenant_id).await, before);
    // The new key keeps working.
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (status, verdict) = stack.submit(&back_end, with_packet(packet), &[]).await;
    assert_eq!(
        (status, verdict["valid"].as_bool()),
        (200, Some(true)),
        "{verdict}"
    );
    stack.stop().await;
}
