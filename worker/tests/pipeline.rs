//! End to end over real HTTP, PostgreSQL, RabbitMQ and S3: the seed's wire contract.

mod support;

use reqwest::multipart::Part;
use serde_json::Value;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_capture_is_valid_with_details_and_id() {
    let stack = Stack::start().await;
    let client = stack.client("live").await;
    let nonce = stack.nonce(&client).await;
    let (packet, frames) = stack.packet("silentface_image_T1.jpg", &nonce);
    let form = form(packet)
        .part(
            "selfie",
            Part::bytes(frames[1].clone()).file_name("selfie.jpeg"),
        )
        .text("details", "true")
        .text("return_id", "true");
    let (status, body) = stack.submit(&client, form, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true, "{body}");
    assert!(
        body["api_response"]["face_liveness"]["probability"]
            .as_f64()
            .unwrap()
            >= 0.9
    );
    assert_eq!(body["api_response"]["capture_liveness"]["probability"], 1.0);
    assert!(
        body["api_response"]["capture_liveness"]["score"]
            .as_f64()
            .unwrap()
            > 1.0
    );
    let id = body["id"].as_i64().unwrap();
    assert_eq!(stack.verdict_count(id).await, 1);
    // Only the ciphertext is stored: the object is the packet, byte for byte.
    let key: String = sqlx::query_scalar("SELECT packet_key FROM transactions WHERE id = $1")
        .bind(id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert!(key.starts_with(&format!("tenant-{}/", client.tenant_id)));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_photo_is_an_attack_and_coffee_has_no_face() {
    let stack = Stack::start().await;
    let client = stack.client("attacks").await;
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_F1.jpg", &nonce);
    let (status, body) = stack
        .submit(&client, form(packet).text("details", "true"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["valid"], false);
    assert_eq!(body["error_code"], 715);
    assert_eq!(body["message"], "Attack detected in the sent image.");
    assert!(body["error_details"]["face_liveness"]
        .as_str()
        .unwrap()
        .contains("value achieved"));
    assert!(
        body["error_details"]["api_response"]["face_liveness"]["probability"]
            .as_f64()
            .unwrap()
            < 0.5
    );
    assert!(body.get("id").is_none(), "no id without return_id");

    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("coffee.png", &nonce);
    let (_, body) = stack.submit(&client, form(packet), &[]).await;
    assert_eq!(body["valid"], false);
    assert_eq!(body["error_code"], 704);
    assert_eq!(body["message"], "Face not detected");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_packet_is_a_capture_attack() {
    let stack = Stack::start().await;
    let client = stack.client("replay").await;
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (_, first) = stack.submit(&client, form(packet.clone()), &[]).await;
    assert_eq!(first, serde_json::json!({ "valid": true }));
    let (status, replay) = stack
        .submit(
            &client,
            form(packet).text("details", "true").text("return_id", "1"),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(replay["valid"], false);
    assert_eq!(replay["error_code"], 715);
    assert_eq!(
        replay["error_details"]["capture_liveness"],
        "For a positive result you must get 1, value achieved: 0.0."
    );
    assert_eq!(
        replay["error_details"]["api_response"]["capture_liveness"]["probability"],
        0.0
    );
    let signal = replay["error_details"]["capture_signal"].as_str().unwrap();
    assert!(
        ["nonce_valid", "packet_not_replayed"].contains(&signal),
        "{signal}"
    );
    let failed: Vec<String> = sqlx::query_scalar(
        "SELECT s->>'name' FROM verdicts, jsonb_array_elements(capture_signals) s
         WHERE transaction_id = $1 AND (s->>'passed')::boolean = false",
    )
    .bind(replay["id"].as_i64().unwrap())
    .fetch_all(&stack.db)
    .await
    .unwrap();
    assert!(
        failed.contains(&"packet_not_replayed".to_string())
            && failed.contains(&"nonce_valid".to_string()),
        "{failed:?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_submit_then_lookup() {
    let stack = Stack::start().await;
    let client = stack.client("async").await;
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (status, accepted) = stack
        .submit(&client, form(packet), &[("prefer", "respond-async")])
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["status"], "queued");
    let id = accepted["id"].as_i64().unwrap();
    let mut done = Value::Null;
    for _ in 0..200 {
        let (status, body) = stack.lookup(&client, id).await;
        assert_eq!(status, 200);
        if body["status"] == "done" {
            done = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["valid"], true, "{done}");
    assert_eq!(done["id"], id);
    assert!(done["api_response"]["face_liveness"]["probability"].is_number());
    // The `async` form field works as the header does.
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (status, _) = stack
        .submit(&client, form(packet).text("async", "true"), &[])
        .await;
    assert_eq!(status, 202);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expired_invalid_or_of_another_tenant() {
    let stack = Stack::start().await;
    let alice = stack.client("alice").await;
    let bob = stack.client("bob").await;
    let nonce = stack.nonce(&alice).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (_, body) = stack
        .submit(&alice, form(packet).text("return_id", "true"), &[])
        .await;
    let id = body["id"].as_i64().unwrap();
    assert_eq!(stack.lookup(&alice, id).await.0, 200);
    let (status, body) = stack.lookup(&bob, id).await;
    assert_eq!(status, 404, "another tenant's id is not found: {body}");
    assert_eq!(stack.lookup(&alice, id + 1000).await.0, 404);
    assert_eq!(stack.lookup(&alice, -1).await.0, 404);

    let expired =
        liveness_producer::auth::issue(&stack.producer_config.jwt_keys, alice.tenant_id, -10);
    let expired_client = Client {
        tenant_id: alice.tenant_id,
        token: expired,
    };
    let (status, body) = stack.lookup(&expired_client, id).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "token_expired");
    let forged = liveness_producer::auth::issue(
        &liveness_producer::jwt_keys::JwtKeys::single("a-different-secret-of-32-bytes-or-more")
            .unwrap(),
        alice.tenant_id,
        600,
    );
    let (status, body) = stack
        .lookup(
            &Client {
                tenant_id: alice.tenant_id,
                token: forged,
            },
            id,
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized");
    let response = stack
        .client
        .get(stack.url(&format!("/api/v3/biometrics/liveness/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = stack
        .client
        .post(stack.url("/api/v3/auth/token"))
        .json(&serde_json::json!({ "client_id": "nobody", "client_secret": "nothing" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    stack.stop().await;
}

/// The request of the seed's `sendEncryptedFileToServer`: selfie first (the capture
/// library's photo, which is the middle frame), then the packet, `return_id` as the string
/// "true", `citizen_id` and `device`; and the same without the optional selfie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_formdata_request_is_accepted_unchanged() {
    let stack = Stack::start().await;
    let client = stack.client("seed").await;
    for with_selfie in [true, false] {
        let nonce = stack.nonce(&client).await;
        let (packet, frames) = stack.packet("silentface_image_T1.jpg", &nonce);
        let mut form = reqwest::multipart::Form::new();
        if with_selfie {
            form = form.part(
                "selfie",
                Part::bytes(frames[1].clone())
                    .file_name("selfie.jpeg")
                    .mime_str("image/jpeg")
                    .unwrap(),
            );
        }
        let form = form
            .part(
                "encrypted_file",
                Part::bytes(packet)
                    .file_name("blob")
                    .mime_str("application/octet-stream")
                    .unwrap(),
            )
            .text("return_id", "true")
            .text("citizen_id", "7-708-214")
            .text("device", "DESKTOP");
        let (status, body) = stack.submit(&client, form, &[]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["valid"], true, "{body}");
        let id = body["id"].as_i64().unwrap();
        assert_eq!(
            body.as_object().unwrap().len(),
            2,
            "exactly valid and id: {body}"
        );
        let (citizen, device): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT citizen_id, device FROM transactions WHERE id = $1")
                .bind(id)
                .fetch_one(&stack.db)
                .await
                .unwrap();
        assert_eq!(
            (citizen.as_deref(), device.as_deref()),
            (Some("7-708-214"), Some("DESKTOP"))
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_store_nothing() {
    let stack = Stack::start().await;
    let client = stack.client("bad").await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM transactions")
            .fetch_one(&stack.db)
            .await
            .unwrap()
    };

    let (status, body) = stack
        .submit(
            &client,
            reqwest::multipart::Form::new().text("details", "true"),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("missing_file"))
    );
    let (status, _) = stack.submit(&client, form(Vec::new()), &[]).await;
    assert_eq!(status, 400);
    let (status, body) = stack
        .submit(&client, form(vec![1, 2, 3]).text("details", "maybe"), &[])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_field"))
    );
    let big = vec![0u8; stack.producer_config.max_body_bytes + 1024];
    let (status, body) = stack.submit(&client, form(big), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large"))
    );
    let response = stack
        .client
        .post(stack.url("/api/v3/biometrics/liveness/"))
        .bearer_auth(&client.token)
        .json(&serde_json::json!({ "encrypted_file": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    // A file that is not a capture packet is the integration's mistake, not an attack.
    let (status, body) = stack
        .submit(
            &client,
            form(b"not a capture packet".to_vec()).text("return_id", "true"),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_packet")),
        "{body}"
    );
    assert_eq!(count().await, 0, "nothing stored for refused requests");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_returns_the_same_transaction() {
    let stack = Stack::start().await;
    let client = stack.client("idem").await;
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let headers = [("idempotency-key", "order-17")];
    let (_, first) = stack
        .submit(
            &client,
            form(packet.clone()).text("return_id", "true"),
            &headers,
        )
        .await;
    let (_, again) = stack
        .submit(
            &client,
            form(packet.clone()).text("return_id", "true"),
            &headers,
        )
        .await;
    assert_eq!(first, again);
    assert_eq!(first["valid"], true, "the retry is not a replay: {first}");
    let (other, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (status, body) = stack.submit(&client, form(other), &headers).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_is_503_and_nothing_is_half_written() {
    let stack = Stack::start_with(Options {
        in_process_worker: false,
        amqp_url: Some("amqp://guest:guest@127.0.0.1:1/%2f".into()),
        ..Options::default()
    })
    .await;
    let client = stack.client("nobroker").await;
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let (status, body) = stack.submit(&client, form(packet), &[]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "service_unavailable");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let storage = liveness_pipeline::storage::Storage::new(&stack.producer_config.storage);
    let objects = storage
        .list(&format!("tenant-{}/", client.tenant_id))
        .await
        .unwrap();
    assert!(objects.is_empty(), "objects left behind: {objects:?}");
    let response = stack.client.get(stack.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_health_and_metrics_are_served() {
    let stack = Stack::without_worker().await;
    let spec: Value = stack
        .client
        .get(stack.url("/api/v3/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/api/v3/biometrics/liveness/"]["post"].is_object());
    assert_eq!(
        stack
            .client
            .get(stack.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        stack
            .client
            .get(stack.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = stack
        .client
        .get(stack.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_down_is_503_and_nothing_is_stored() {
    let stack = Stack::start_with(Options {
        in_process_worker: false,
        s3_endpoint: Some("http://127.0.0.1:1".into()),
        ..Options::default()
    })
    .await;
    let client = stack.client("nos3").await;
    let nonce = stack.nonce(&client).await;
    let (packet, frames) = stack.packet("silentface_image_T1.jpg", &nonce);
    let form = form(packet).part(
        "selfie",
        Part::bytes(frames[0].clone()).file_name("selfie.jpeg"),
    );
    let (status, body) = stack.submit(&client, form, &[]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "service_unavailable");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(n, 0, "no transaction without its capture");
    stack.stop().await;
}
