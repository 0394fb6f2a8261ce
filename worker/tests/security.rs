//! Hostile requests on every authenticated route: forged, unsigned, wrongly keyed and
//! expired tokens get 401; another tenant's token finds nothing (404) and changes nothing;
//! path tricks in ids are plain 404s; a capture token (a browser's) gets 403 on every route
//! but the keys and its one submission, and a token claiming a scope it was not minted with
//! is invalid. Nothing is stored by any of them.

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use liveness_producer::jwt_keys::JwtKeys;
use reqwest::Method;
use serde_json::{json, Value};
use support::*;

/// Every route that needs a token; `{id}` and `{msg}` are filled per test.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v3/biometrics/liveness/sessions"),
    ("GET", "/api/v3/biometrics/liveness/keys"),
    ("POST", "/api/v3/biometrics/liveness/"),
    ("POST", "/api/v3/biometrics/nationals/"),
    ("GET", "/api/v3/biometrics/liveness/{id}"),
    ("DELETE", "/api/v3/biometrics/liveness/{id}/capture"),
    ("GET", "/api/v3/biometrics/liveness/{id}/selfie"),
    ("GET", "/api/v3/biometrics/liveness/allowed-origins"),
    ("PUT", "/api/v3/biometrics/liveness/allowed-origins"),
    ("GET", "/api/v3/webhooks/endpoints"),
    ("POST", "/api/v3/webhooks/endpoints"),
    ("DELETE", "/api/v3/webhooks/endpoints/{endpoint}"),
    ("POST", "/api/v3/webhooks/endpoints/{endpoint}/enable"),
    ("POST", "/api/v3/webhooks/endpoints/{endpoint}/rotate"),
    ("GET", "/api/v3/webhooks/allowed-hosts"),
    ("PUT", "/api/v3/webhooks/allowed-hosts"),
    ("GET", "/api/v3/webhooks/messages"),
    ("GET", "/api/v3/webhooks/messages/{msg}/attempts"),
    ("POST", "/api/v3/webhooks/messages/{msg}/redeliver"),
];

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Claims the producer would accept, for `tenant`, valid for `ttl` seconds.
fn claims(tenant: i64, ttl: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": tenant.to_string(), "iss": "liveness-producer", "iat": now, "exp": now + ttl })
}

async fn send(stack: &Stack, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = stack.client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        stack.url(path),
    );
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request = match (
        method,
        path.contains("/liveness/") || path.contains("/nationals/"),
    ) {
        ("POST", true) if !path.ends_with("sessions") => {
            request.multipart(form(b"LVCP\x01".to_vec()))
        }
        ("POST", _) => request.json(&json!({ "url": "http://127.0.0.1:9/x" })),
        ("PUT", _) => request.json(&json!({ "hosts": ["evil.example"] })),
        _ => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn stored(stack: &Stack) -> Value {
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM webhook_endpoints),
                (SELECT count(*) FROM webhook_messages WHERE status = 'pending'),
                (SELECT count(*) FROM tenants WHERE webhook_allowed_hosts <> '{}')",
    )
    .fetch_one(&stack.db)
    .await
    .unwrap();
    json!([counts.0, counts.1, counts.2, counts.3])
}

/// A token with exactly these claims, signed with the producer's key (as only someone who
/// stole it could).
fn sign(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn fill(path: &str, id: &str, endpoint: &str, msg: &str) -> String {
    path.replace("{id}", id)
        .replace("{endpoint}", endpoint)
        .replace("{msg}", msg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_on_every_route() {
    let stack = Stack::without_worker().await;
    let victim = stack.client("victim").await;
    let secret = stack.jwt_secret.clone();
    let keys = &stack.producer_config.jwt_keys;
    let header = b64(&json!({ "alg": "HS256", "typ": "JWT" }));
    let body = b64(&claims(victim.tenant_id, 600));
    let forged_signature = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let tokens = [
        ("none", None),
        ("garbage", Some("not-a-jwt".to_string())),
        (
            "alg none",
            Some(format!(
                "{}.{body}.",
                b64(&json!({ "alg": "none", "typ": "JWT" }))
            )),
        ),
        (
            "forged signature",
            Some(format!("{header}.{body}.{forged_signature}")),
        ),
        (
            "another key",
            Some(liveness_producer::auth::issue(
                &JwtKeys::single("another-key-another-key-another-key!").unwrap(),
                victim.tenant_id,
                600,
            )),
        ),
        (
            "scope without a session",
            Some(sign(&secret, &{
                let mut c = claims(victim.tenant_id, 600);
                c["scope"] = json!("capture");
                c
            })),
        ),
        (
            "unknown scope",
            Some(sign(&secret, &{
                let mut c = claims(victim.tenant_id, 600);
                c["scope"] = json!("admin");
                c
            })),
        ),
        (
            "expired",
            Some(liveness_producer::auth::issue(keys, victim.tenant_id, -1)),
        ),
    ];
    let before = stored(&stack).await;
    for (what, token) in &tokens {
        for (method, path) in ROUTES {
            let path = fill(path, "1", "1", "msg_1");
            let (status, body) = send(&stack, method, &path, token.as_deref()).await;
            assert_eq!(status, 401, "{what} on {method} {path}: {body}");
            assert!(
                body["error"].is_string() && body["message"].is_string(),
                "{body}"
            );
            if *what == "expired" {
                assert_eq!(body["error"], "token_expired");
            }
        }
    }
    assert_eq!(
        stored(&stack).await,
        before,
        "a refused request stores nothing"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_token_finds_and_changes_nothing() {
    let stack = Stack::start().await;
    let owner = stack.client("owner").await;
    let intruder = stack.client("intruder").await;
    let receiver = receiver::Receiver::start().await;
    let endpoint = stack
        .add_endpoint(&owner, &receiver.url())
        .await
        .0
        .to_string();
    let id = stack.submit_live_async(&owner, 1).await[0];
    wait_for("the webhook", || async { !receiver.received().is_empty() }).await;
    // The receiver has the event before the dispatcher records the delivery: wait for that
    // too, or the snapshot below races it.
    wait_for("the delivery recorded", || async {
        stored(&stack).await[2] == 0
    })
    .await;
    let msg = receiver.received()[0].id.clone();
    let before = stored(&stack).await;

    for (method, path) in ROUTES.iter().filter(|(_, p)| p.contains('{')) {
        let path = fill(path, &id.to_string(), &endpoint, &msg);
        let (status, body) = send(&stack, method, &path, Some(&intruder.token)).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let (_, listed) = send(
        &stack,
        "GET",
        "/api/v3/webhooks/messages",
        Some(&intruder.token),
    )
    .await;
    assert_eq!(listed["messages"], json!([]));
    let (_, endpoints) = send(
        &stack,
        "GET",
        "/api/v3/webhooks/endpoints",
        Some(&intruder.token),
    )
    .await;
    assert_eq!(endpoints["endpoints"], json!([]));
    assert_eq!(stored(&stack).await, before);
    // The owner's endpoint is still enabled and the capture still there.
    let (_, mine) = send(
        &stack,
        "GET",
        "/api/v3/webhooks/endpoints",
        Some(&owner.token),
    )
    .await;
    assert!(mine["endpoints"][0]["disabled_at"].is_null(), "{mine}");
    let (_, lookup) = stack.lookup(&owner, id).await;
    assert!(lookup.get("capture_purged_at").is_none(), "{lookup}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_tricks_in_ids_are_not_found() {
    let stack = Stack::without_worker().await;
    let client = stack.client("paths").await;
    let id = stack.submit_live_async(&client, 1).await[0];
    let before = stored(&stack).await;
    for trick in [
        format!("..%2F{id}"),
        format!("{id}%2F..%2F{id}"),
        format!("{id}%00"),
        format!("{id};DROP TABLE transactions"),
        "-1".to_string(),
        "99999999999999999999999".to_string(),
        "%2e%2e".to_string(),
        format!("{id}%20OR%201=1"),
    ] {
        for (method, path) in ROUTES.iter().filter(|(_, p)| p.contains('{')) {
            let path = fill(path, &trick, &trick, &trick);
            let (status, body) = send(&stack, method, &path, Some(&client.token)).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
        }
    }
    assert_eq!(stored(&stack).await, before);
    let (status, _) = stack.lookup(&client, id).await;
    assert_eq!(status, 200, "the real transaction is untouched");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_are_client_errors_not_server_errors() {
    let stack = Stack::without_worker().await;
    let client = stack.client("nul").await;
    let token = stack
        .client
        .post(stack.url("/api/v3/auth/token"))
        .json(&json!({ "client_id": "lvc_\u{0}", "client_secret": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401);
    let (status, body) = stack
        .submit(
            &client,
            form(b"LVCP\x01".to_vec()).text("citizen_id", "7-708\u{0}-214"),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_field")),
        "{body}"
    );
    let hosts = stack
        .client
        .put(stack.url("/api/v3/webhooks/allowed-hosts"))
        .bearer_auth(&client.token)
        .json(&json!({ "hosts": ["a\u{0}b"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(hosts.status(), 400);
    let (status, _) = send(
        &stack,
        "POST",
        "/api/v3/webhooks/endpoints",
        Some(&client.token),
    )
    .await;
    assert_eq!(status, 201, "a sane request still works");
    assert_eq!(stored(&stack).await, json!([0, 1, 0, 0]));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_tenants_tokens_stop_working_before_they_expire() {
    let stack = Stack::without_worker().await;
    let tenant = stack.client("revoked").await;
    let bystander = stack.client("bystander").await;
    let keys = "/api/v3/biometrics/liveness/keys";
    assert_eq!(send(&stack, "GET", keys, Some(&tenant.token)).await.0, 200);
    let name: String = sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(tenant.tenant_id)
        .fetch_one(&stack.db)
        .await
        .unwrap();

    // Disabled as `liveness tenant disable` does it: a token issued minutes ago stops working.
    liveness_pipeline::db::tenants::set_disabled(&stack.db, &name, true)
        .await
        .unwrap();
    wait_for(
        "the producer to refuse the disabled tenant's token",
        || async { send(&stack, "GET", keys, Some(&tenant.token)).await.0 == 401 },
    )
    .await;
    let before = stored(&stack).await;
    for (method, path) in ROUTES {
        let path = fill(path, "1", "1", "msg_1");
        let (status, body) = send(&stack, method, &path, Some(&tenant.token)).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(body["message"], "the tenant is disabled", "{body}");
    }
    assert_eq!(
        stored(&stack).await,
        before,
        "a refused request stores nothing"
    );
    assert_eq!(
        send(&stack, "GET", keys, Some(&bystander.token)).await.0,
        200,
        "other tenants are untouched"
    );

    // Re-enabled by plain SQL, as an operator might: the trigger tells the producer too.
    sqlx::query("UPDATE tenants SET disabled_at = NULL WHERE id = $1")
        .bind(tenant.tenant_id)
        .execute(&stack.db)
        .await
        .unwrap();
    wait_for("the producer to accept the token again", || async {
        send(&stack, "GET", keys, Some(&tenant.token)).await.0 == 200
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_token_reaches_only_the_keys_and_its_submission() {
    let stack = Stack::without_worker().await;
    let owner = stack.client("capture-owner").await;
    let id = stack.submit_live_async(&owner, 1).await[0];
    let browser = stack.browser(&owner).await;
    let before = stored(&stack).await;
    for (method, path) in ROUTES {
        let path = fill(path, &id.to_string(), "1", "msg_1");
        let (status, body) = send(&stack, method, &path, Some(&browser.token)).await;
        let expected = match path.as_str() {
            "/api/v3/biometrics/liveness/keys" => (200, None),
            // Its one submission: this body is no capture packet, so 400 and nothing kept.
            "/api/v3/biometrics/liveness/" | "/api/v3/biometrics/nationals/" => {
                (400, Some("invalid_packet"))
            }
            _ => (403, Some("insufficient_scope")),
        };
        assert_eq!(
            (status, body["error"].as_str()),
            expected,
            "{method} {path}: {body}"
        );
    }
    assert_eq!(
        stored(&stack).await,
        before,
        "a refused request stores nothing"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_client_secret_logs_in_at_once_and_the_old_one_only_within_its_grace() {
    let stack = Stack::without_worker().await;
    let created = liveness_pipeline::db::tenants::create(&stack.db, "rotation-over-http", 0.5)
        .await
        .unwrap();
    let login = |secret: String| {
        let stack = &stack;
        let client_id = created.tenant.client_id.clone();
        async move {
            token_at(&stack.client, &stack.base, &client_id, &secret)
                .await
                .0
        }
    };
    let old = created.client_secret.clone();
    let new = liveness_pipeline::db::tenants::rotate_secret(
        &stack.db,
        created.tenant.id,
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(login(new.clone()).await, 200);
    assert_eq!(login(old.clone()).await, 200, "within the grace");
    sqlx::query("UPDATE tenants SET previous_secret_expires_at = now() - interval '1 second'")
        .execute(&stack.db)
        .await
        .unwrap();
    assert_eq!(login(old).await, 401, "after the grace");
    assert_eq!(login(new).await, 200);
    stack.stop().await;
}

/// A tenant route through `producer` with `token`: status and body.
async fn list_endpoints(stack: &Stack, producer: &ExtraProducer, token: &str) -> (u16, Value) {
    let response = stack
        .client
        .get(producer.url("/api/v3/webhooks/endpoints"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_the_previous_jwt_key_are_accepted_during_its_grace_only() {
    let stack = Stack::without_worker().await;
    let tenant = liveness_pipeline::db::tenants::create(&stack.db, "jwt-rotation", 0.5)
        .await
        .unwrap();
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid;
    // A token of the stack's producer, whose one key is JWT_SECRET (id `default`).
    let old_token =
        liveness_producer::auth::issue(&stack.producer_config.jwt_keys, tenant.tenant.id, 600);
    assert_eq!(kid(&old_token).as_deref(), Some("default"));

    // The producer comes back with a new signing key, the old one accepted 3 s more.
    let grace_end = chrono::Utc::now() + chrono::Duration::seconds(3);
    let entries = format!(
        "k2=a-new-signing-key-of-at-least-32-bytes,default={}",
        stack.jwt_secret
    );
    let producer = ExtraProducer::start(liveness_producer::ProducerConfig {
        jwt_keys: JwtKeys::parse(&entries, grace_end).unwrap(),
        ..stack.producer_config.clone()
    })
    .await;
    let (status, response) = token_at(
        &stack.client,
        &producer.base,
        &tenant.tenant.client_id,
        &tenant.client_secret,
    )
    .await;
    assert_eq!(status, 200, "{response}");
    let new_token = response["access_token"].as_str().unwrap().to_string();
    assert_eq!(kid(&new_token).as_deref(), Some("k2"));
    assert_eq!(list_endpoints(&stack, &producer, &old_token).await.0, 200);
    assert_eq!(list_endpoints(&stack, &producer, &new_token).await.0, 200);

    // After the grace the old key's tokens are refused, though not expired; the new stay.
    let wait = (grace_end - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(500)).await;
    let (status, body) = list_endpoints(&stack, &producer, &old_token).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("retired key"),
        "{body}"
    );
    assert_eq!(list_endpoints(&stack, &producer, &new_token).await.0, 200);
    // A key id the producer never had is refused like any bad token.
    let stranger = liveness_producer::auth::issue(
        &JwtKeys::parse(&entries.replace("k2=", "k3="), grace_end).unwrap(),
        tenant.tenant.id,
        600,
    );
    assert_eq!(list_endpoints(&stack, &producer, &stranger).await.0, 401);
    stack.stop().await;
}
