//! The producer sheds load instead of hanging: past its in-flight limit, over a client's rate,
//! with a client that never finishes its header, with password verifications saturated and
//! with RabbitMQ blocking publishers (memory alarm), each answer comes at once or within a
//! bound, with `Retry-After` where a retry makes sense. Each test runs its own producer with
//! small limits beside the stack's default one, on the stack's database, queue and bucket.

mod support;

use liveness_producer::config::{RateLimit, SheddingConfig};
use liveness_producer::ProducerConfig;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{form, wait_for, Client, ExtraProducer, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A producer of the stack's with other bounds.
async fn start_producer(stack: &Stack, shedding: SheddingConfig) -> ExtraProducer {
    ExtraProducer::start(ProducerConfig {
        shedding,
        ..stack.producer_config.clone()
    })
    .await
}

/// No limit but the ones a test sets.
fn unlimited() -> SheddingConfig {
    SheddingConfig {
        max_in_flight: 0,
        submit_rate: RateLimit::OFF,
        token_rate: RateLimit::OFF,
        token_ip_rate: RateLimit::OFF,
        ..SheddingConfig::default()
    }
}

fn rate(per_second: u32, burst: u32) -> RateLimit {
    RateLimit { per_second, burst }
}

/// Status, `Retry-After` in seconds, and the JSON body.
async fn answer(response: reqwest::Response) -> (u16, Option<u64>, Value) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("Retry-After in seconds"));
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A submission ready to send: its nonce fetched and its capture sealed, so that what is
/// left is only the request itself.
async fn prepared_submission(
    stack: &Stack,
    producer: &ExtraProducer,
    client: &Client,
) -> reqwest::RequestBuilder {
    let nonce = stack.nonce(client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    stack
        .client
        .post(producer.url("/api/v3/biometrics/liveness/"))
        .bearer_auth(&client.token)
        .header("prefer", "respond-async")
        .multipart(form(packet))
}

async fn submit_async(
    stack: &Stack,
    producer: &ExtraProducer,
    client: &Client,
) -> reqwest::Response {
    prepared_submission(stack, producer, client)
        .await
        .send()
        .await
        .unwrap()
}

async fn token(
    stack: &Stack,
    producer: &ExtraProducer,
    client_id: &str,
) -> (u16, Option<u64>, Value) {
    let response = stack
        .client
        .post(producer.url("/api/v3/auth/token"))
        .json(&json!({ "client_id": client_id, "client_secret": "lvs_not-the-secret" }))
        .send()
        .await
        .unwrap();
    answer(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_limit_get_503_while_health_answers() {
    let stack = Stack::without_worker().await;
    let client = stack.client("inflight").await;
    let producer = start_producer(
        &stack,
        SheddingConfig {
            max_in_flight: 1,
            ..unlimited()
        },
    )
    .await;
    // With no worker, a synchronous submission waits for its verdict: it holds the one slot.
    let nonce = stack.nonce(&client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let held = tokio::spawn(
        stack
            .client
            .post(producer.url("/api/v3/biometrics/liveness/"))
            .bearer_auth(&client.token)
            .multipart(form(packet))
            .send(),
    );
    let openapi = || {
        stack
            .client
            .get(producer.url("/api/v3/openapi.json"))
            .send()
    };
    // Watched in the database, not by polling the API: a poll would itself take the one slot
    // and could turn the held submission away before it arrives.
    wait_for("the held submission to be recorded and waiting", || async {
        let recorded: i64 =
            sqlx::query_scalar("SELECT count(*) FROM transactions WHERE tenant_id = $1")
                .bind(client.tenant_id)
                .fetch_one(&stack.db)
                .await
                .unwrap();
        assert!(
            !held.is_finished(),
            "the held submission was answered early"
        );
        recorded == 1
    })
    .await;
    let (status, retry_after, body) = answer(openapi().await.unwrap()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "overloaded", "{body}");
    assert!(retry_after.is_some_and(|s| s >= 1));
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = stack.client.get(producer.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path} answers at the limit");
    }
    // The client gives up: its slot is freed.
    held.abort();
    wait_for("the slot to be freed", || async {
        openapi().await.unwrap().status() == 200
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_over_the_tenants_rate_get_429_with_retry_after() {
    let stack = Stack::without_worker().await;
    let client = stack.client("rate").await;
    let other = stack.client("rate-other").await;
    let producer = start_producer(
        &stack,
        SheddingConfig {
            submit_rate: rate(1, 1),
            ..unlimited()
        },
    )
    .await;
    // Prepared first and sent together, so that all of them reach the limiter within its
    // one-second window however slow the machine is at sealing captures.
    let mut requests = Vec::new();
    for _ in 0..3 {
        requests.push(prepared_submission(&stack, &producer, &client).await);
    }
    let sent: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(async move { answer(request.send().await.unwrap()).await }))
        .collect();
    let mut answers = Vec::new();
    for request in sent {
        answers.push(request.await.unwrap());
    }
    let count = |status| answers.iter().filter(|a| a.0 == status).count();
    assert!(
        count(202) >= 1 && count(429) >= 1 && count(202) + count(429) == 3,
        "{answers:?}"
    );
    let (_, retry_after, body) = answers.iter().find(|a| a.0 == 429).unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    let retry_after = retry_after.expect("a 429 says when to retry");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Another tenant has its own allowance.
    let (status, _, body) = answer(submit_async(&stack, &producer, &other).await).await;
    assert_eq!(status, 202, "{body}");
    // Retry-After is honest: after it, the tenant is admitted again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let (status, _, body) = answer(submit_async(&stack, &producer, &client).await).await;
    assert_eq!(status, 202, "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_over_the_rate_of_a_client_id_or_a_peer_get_429() {
    let stack = Stack::without_worker().await;
    let per_client = start_producer(
        &stack,
        SheddingConfig {
            token_rate: rate(1, 2),
            ..unlimited()
        },
    )
    .await;
    // Sent together, so that all of them fall within the second of the burst.
    let answers = tokens_at_once(&stack, &per_client, "lvc_someone", 4).await;
    let count = |status| answers.iter().filter(|a| a.0 == status).count();
    assert!(
        count(429) >= 1 && count(401) + count(429) == 4,
        "{answers:?}"
    );
    let (_, retry_after, body) = answers.iter().find(|a| a.0 == 429).unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert!(retry_after.is_some_and(|s| s >= 1));
    assert_eq!(token(&stack, &per_client, "lvc_someone-else").await.0, 401);

    let per_peer = start_producer(
        &stack,
        SheddingConfig {
            token_ip_rate: rate(1, 1),
            ..unlimited()
        },
    )
    .await;
    assert_eq!(token(&stack, &per_peer, "lvc_first").await.0, 401);
    let (status, retry_after, body) = token(&stack, &per_peer, "lvc_second").await;
    assert_eq!(status, 429, "one peer, any client id: {body}");
    assert!(retry_after.is_some_and(|s| s >= 1));
    stack.stop().await;
}

/// `auth_secret_verifications_total{client=...}` on the producer's /metrics (0 before the
/// first one). The recorder is per process, shared by every producer of this binary.
async fn verifications(stack: &Stack, producer: &ExtraProducer, client: &str) -> u64 {
    let text = stack
        .client
        .get(producer.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("auth_secret_verifications_total{{client=\"{client}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_client_ids_cost_a_verification_too_and_verifications_are_bounded() {
    let stack = Stack::without_worker().await;
    let created = liveness_pipeline::db::tenants::create(&stack.db, "verified-tenant", 0.5)
        .await
        .unwrap();
    let producer = start_producer(&stack, unlimited()).await;

    let before = verifications(&stack, &producer, "unknown").await;
    let (status, _, body) = token(&stack, &producer, "lvc_nobody-has-this-id").await;
    assert_eq!(status, 401, "{body}");
    assert!(verifications(&stack, &producer, "unknown").await > before);

    let before = verifications(&stack, &producer, "known").await;
    let (status, _, body) = token(&stack, &producer, &created.tenant.client_id).await;
    assert_eq!(status, 401, "a wrong secret: {body}");
    assert!(verifications(&stack, &producer, "known").await > before);
    // Same answer for both: nothing tells the ids apart.
    assert_eq!(
        token(&stack, &producer, "lvc_nobody-has-this-id").await.2,
        body
    );

    // One verification at a time and no wait for a slot: of requests sent together, those
    // that find the slot taken get 503 at once.
    let one_at_a_time = start_producer(
        &stack,
        SheddingConfig {
            hash_concurrency: 1,
            hash_wait: Duration::ZERO,
            ..unlimited()
        },
    )
    .await;
    let answers = tokens_at_once(&stack, &one_at_a_time, &created.tenant.client_id, 8).await;
    assert!(
        answers.iter().any(|(status, ..)| *status == 401),
        "{answers:?}"
    );
    let refused = answers
        .iter()
        .find(|(status, ..)| *status == 503)
        .unwrap_or_else(|| panic!("no request found the slot taken: {answers:?}"));
    assert_eq!(refused.2["error"], "overloaded");
    assert!(refused.1.is_some_and(|s| s >= 1));
    stack.stop().await;
}

/// `n` token requests for one client id sent together; their answers.
async fn tokens_at_once(
    stack: &Stack,
    producer: &ExtraProducer,
    client_id: &str,
    n: usize,
) -> Vec<(u16, Option<u64>, Value)> {
    let requests: Vec<_> = (0..n)
        .map(|_| {
            let request = stack
                .client
                .post(producer.url("/api/v3/auth/token"))
                .json(&json!({ "client_id": client_id, "client_secret": "lvs_not-the-secret" }));
            tokio::spawn(async move { answer(request.send().await.unwrap()).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for request in requests {
        answers.push(request.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_finishes_its_header_is_closed() {
    let stack = Stack::without_worker().await;
    let producer = start_producer(
        &stack,
        SheddingConfig {
            header_read_timeout: Duration::from_secs(1),
            ..unlimited()
        },
    )
    .await;
    let address = producer.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: producer\r\nX-Slow: ")
        .await
        .unwrap();
    // Liveness bound only: without a header timeout the connection stays open for ever.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the half-sent header's connection is still open"
    );
    // Other clients are served all along.
    let response = stack
        .client
        .get(producer.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    stack.stop().await;
}

/// RabbitMQ's memory alarm, raised for as short a time as the test needs: the broker is shared
/// with every other test on this machine. Cleared when dropped, however the test ends.
struct MemoryAlarm;

fn set_watermark(value: &str) {
    let status = std::process::Command::new("rabbitmqctl")
        .args(["-q", "set_vm_memory_high_watermark", value])
        .status()
        .expect("rabbitmqctl runs");
    assert!(
        status.success(),
        "rabbitmqctl set_vm_memory_high_watermark {value}"
    );
}

impl MemoryAlarm {
    fn raise() -> MemoryAlarm {
        let alarm = MemoryAlarm;
        set_watermark("0");
        alarm
    }
}

impl Drop for MemoryAlarm {
    fn drop(&mut self) {
        set_watermark("0.4");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_memory_alarm_gets_503_in_bounded_time_and_work_resumes_after() {
    let stack = Stack::without_worker().await;
    let client = stack.client("alarm").await;
    let producer = start_producer(
        &stack,
        SheddingConfig {
            broker_timeout: Duration::from_secs(2),
            ..unlimited()
        },
    )
    .await;
    // A publisher connection that was healthy before the alarm.
    let (status, _, body) = answer(submit_async(&stack, &producer, &client).await).await;
    assert_eq!(status, 202, "{body}");

    let mut accepted = 1;
    let alarm = MemoryAlarm::raise();
    // The broker blocks publishers once it has noticed its alarm; until then a submission
    // may still go through.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (retry_after, body) = loop {
        let started = Instant::now();
        let (status, retry_after, body) =
            answer(submit_async(&stack, &producer, &client).await).await;
        // Liveness bound only: without the broker timeout the submission never returns.
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{status} {body}"
        );
        if status == 503 {
            break (retry_after, body);
        }
        assert_eq!(status, 202, "{body}");
        accepted += 1;
        assert!(
            Instant::now() < deadline,
            "the alarm never blocked a submission"
        );
    };
    drop(alarm);
    assert_eq!(body["error"], "service_unavailable", "{body}");
    assert!(retry_after.is_some_and(|s| s >= 1));
    // The refused submission's transaction is gone: a retry is a clean new submission.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE tenant_id = $1")
        .bind(client.tenant_id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(stored, accepted);

    // Once the alarm clears, submissions are queued again (on a new connection).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = answer(submit_async(&stack, &producer, &client).await).await;
        if status == 202 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "still refused after the alarm: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.stop().await;
}
