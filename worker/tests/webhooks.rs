//! Webhooks end to end: verdict → outbox (same transaction) → dispatcher → a real receiver in
//! this process, signatures checked with the official Python and Node.js Standard Webhooks
//! libraries.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::receiver::{Receiver, Reply};
use support::*;

async fn messages(stack: &Stack, client: &Client, transaction: i64) -> Vec<Value> {
    let (status, body) = stack
        .call(
            client,
            "GET",
            &format!("/api/v3/webhooks/messages?transaction_id={transaction}"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().unwrap().clone()
}

async fn attempts(stack: &Stack, client: &Client, message: &str) -> Vec<Value> {
    let path = format!("/api/v3/webhooks/messages/{message}/attempts");
    let (status, body) = stack.call(client, "GET", &path).await;
    assert_eq!(status, 200, "{body}");
    body["attempts"].as_array().unwrap().clone()
}

async fn message_status(stack: &Stack, client: &Client, transaction: i64) -> String {
    messages(stack, client, transaction)
        .await
        .first()
        .map(|m| m["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

use support::receiver::verify;

async fn submit_live(stack: &Stack, client: &Client, extra: &[(&str, &str)]) -> (u16, Value) {
    let nonce = stack.nonce(client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    let mut form = form(packet);
    for (k, v) in extra {
        form = form.text(k.to_string(), v.to_string());
    }
    stack
        .submit(client, form, &[("prefer", "respond-async")])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdict_event_is_signed_verifiable_and_survives_rotation() {
    let stack = Stack::start().await;
    let client = stack.client("hooks").await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = stack.add_endpoint(&client, &receiver.url()).await;
    assert!(secret.starts_with("whsec_"));

    let (_, body) = submit_live(&stack, &client, &[]).await;
    let id = body["id"].as_i64().unwrap();
    wait_for("the event", || async { !receiver.received().is_empty() }).await;
    let first = receiver.received()[0].clone();
    assert!(first.id.starts_with("msg_"), "{first:?}");
    let event: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(event["type"], "liveness.completed");
    // The event carries exactly what a lookup answers.
    let (_, lookup) = stack.lookup(&client, id).await;
    assert_eq!(event["data"], lookup, "event data and lookup differ");
    assert_eq!(event["data"]["valid"], true);
    assert_eq!(
        verify(&[&secret], std::slice::from_ref(&first)),
        vec![vec![0]]
    );
    // A stranger's secret does not verify it.
    let (_, other_secret) = stack
        .add_endpoint(&stack.client("stranger").await, "http://127.0.0.1:9/x")
        .await;
    assert_eq!(
        verify(&[&other_secret], &[first]),
        vec![Vec::<usize>::new()]
    );

    // Rotation: the next event is signed by the new and the previous secret, each verifying.
    let (status, rotated) = stack
        .call(
            &client,
            "POST",
            &format!("/api/v3/webhooks/endpoints/{endpoint}/rotate"),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    submit_live(&stack, &client, &[]).await;
    wait_for("the second event", || async {
        receiver.received().len() == 2
    })
    .await;
    let second = receiver.received()[1].clone();
    assert_eq!(second.signature.split(' ').count(), 2, "{second:?}");
    assert_eq!(verify(&[&new_secret, &secret], &[second]), vec![vec![0, 1]]);

    let listed = messages(&stack, &client, id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "delivered");
    assert_eq!(listed[0]["attempts"], 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_then_success_is_retried_and_delivered_once() {
    let stack = Stack::start().await;
    let client = stack.client("retry").await;
    let receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    receiver.script([Reply::Status(500), Reply::RetryAfter(429, "1".into())]);

    let (_, body) = submit_live(&stack, &client, &[]).await;
    let id = body["id"].as_i64().unwrap();
    wait_for("delivery", || async {
        message_status(&stack, &client, id).await == "delivered"
    })
    .await;
    let received = receiver.received();
    assert_eq!(received.len(), 3, "{received:?}");
    assert!(received.iter().all(|r| r.id == received[0].id));
    assert_eq!(
        received.iter().filter(|r| r.answered == Some(200)).count(),
        1
    );
    // Retry-After: 1 outweighs the 200 ms the schedule would have waited.
    assert!(received[2].at - received[1].at >= Duration::from_millis(950));

    let message = &messages(&stack, &client, id).await[0];
    let log = attempts(&stack, &client, message["id"].as_str().unwrap()).await;
    let outcomes: Vec<(&str, i64)> = log
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap(),
                a["status_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![("retry", 500), ("retry", 429), ("delivered", 200)]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_for_a_while_loses_nothing() {
    let stack = Stack::start().await;
    let client = stack.client("down").await;
    let mut receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    receiver.down().await;

    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body) = submit_live(&stack, &client, &[]).await;
        ids.push(body["id"].as_i64().unwrap());
    }
    // Every event has failed at least twice against the closed port.
    for id in &ids {
        wait_for("failed attempts", || async {
            let m = messages(&stack, &client, *id).await;
            m.first()
                .is_some_and(|m| m["attempts"].as_i64().unwrap() >= 2)
        })
        .await;
    }
    let m = &messages(&stack, &client, ids[0]).await[0];
    let log = attempts(&stack, &client, m["id"].as_str().unwrap()).await;
    assert!(log[0]["status_code"].is_null());
    assert!(
        log[0]["error"].as_str().unwrap().contains("connection"),
        "{log:?}"
    );

    receiver.up().await;
    for id in &ids {
        wait_for("delivery after the outage", || async {
            message_status(&stack, &client, *id).await == "delivered"
        })
        .await;
    }
    let mut seen: Vec<i64> = receiver
        .received()
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["data"]["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ids);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_and_client_errors_are_not_retried() {
    let stack = Stack::start().await;
    let client = stack.client("gone").await;
    let receiver = Receiver::start().await;
    let (endpoint, _) = stack.add_endpoint(&client, &receiver.url()).await;
    receiver.script([Reply::Status(400), Reply::Status(410)]);

    let (_, first) = submit_live(&stack, &client, &[]).await;
    let first = first["id"].as_i64().unwrap();
    wait_for("the 400 to fail the message", || async {
        message_status(&stack, &client, first).await == "failed"
    })
    .await;
    let (_, second) = submit_live(&stack, &client, &[]).await;
    let second = second["id"].as_i64().unwrap();
    wait_for("the 410 to fail the message", || async {
        message_status(&stack, &client, second).await == "failed"
    })
    .await;
    assert_eq!(receiver.received().len(), 2, "neither was retried");
    let (_, list) = stack
        .call(&client, "GET", "/api/v3/webhooks/endpoints")
        .await;
    assert!(list["endpoints"][0]["disabled_at"].is_string(), "{list}");

    // A disabled endpoint gets no new events, and cannot be redelivered to until enabled.
    let (_, third) = submit_live(&stack, &client, &[]).await;
    wait_for("the verdict", || async {
        stack.lookup(&client, third["id"].as_i64().unwrap()).await.1["status"] == "done"
    })
    .await;
    assert!(messages(&stack, &client, third["id"].as_i64().unwrap())
        .await
        .is_empty());
    let message = messages(&stack, &client, first).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let redeliver = format!("/api/v3/webhooks/messages/{message}/redeliver");
    assert_eq!(stack.call(&client, "POST", &redeliver).await.0, 409);

    // Enabled again, a redelivery on demand sends the same webhook-id once more.
    let enable = format!("/api/v3/webhooks/endpoints/{endpoint}/enable");
    assert_eq!(stack.call(&client, "POST", &enable).await.0, 204);
    assert_eq!(stack.call(&client, "POST", &redeliver).await.0, 202);
    wait_for("the redelivery", || async {
        message_status(&stack, &client, first).await == "delivered"
    })
    .await;
    let received = receiver.received();
    assert_eq!(received.last().unwrap().id, message);
    // Someone else's message is not found.
    let other = stack.client("other").await;
    assert_eq!(stack.call(&other, "POST", &redeliver).await.0, 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_url_only_to_an_allowed_host() {
    let stack = Stack::start().await;
    let client = stack.client("override").await;
    let main = Receiver::start().await;
    let special = Receiver::start().await;
    stack.add_endpoint(&client, &main.url()).await;

    let (status, body) = submit_live(&stack, &client, &[("webhook_url", &special.url())]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "webhook_host_not_allowed");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "a refused request stores nothing");

    let response = stack
        .client
        .put(stack.url("/api/v3/webhooks/allowed-hosts"))
        .bearer_auth(&client.token)
        .json(&json!({ "hosts": ["127.0.0.1"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = submit_live(&stack, &client, &[("webhook_url", &special.url())]).await;
    assert_eq!(status, 202, "{body}");
    wait_for("the override delivery", || async {
        !special.received().is_empty()
    })
    .await;
    assert!(
        main.received().is_empty(),
        "the override replaces the endpoint"
    );
    let (status, body) =
        submit_live(&stack, &client, &[("webhook_url", "ftp://127.0.0.1/x")]).await;
    assert_eq!(status, 422, "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_allowed() {
    let stack = Stack::without_worker().await;
    let client = stack.client("ssrf").await;
    let receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    let ids = stack.submit_live_async(&client, 1).await;
    // Judge it with a worker whose dispatcher keeps the default policy.
    let mut config = stack.worker_config.clone();
    config.webhooks = None;
    let worker = LateWorker::start(config).await;
    wait_for("the verdict", || async {
        stack.lookup(&client, ids[0]).await.1["status"] == "done"
    })
    .await;
    worker.stop().await;

    let strict = liveness_webhooks::Dispatcher::new(
        stack.db.clone(),
        liveness_webhooks::DispatcherConfig {
            allow_private: false,
            ..test_dispatcher()
        },
        stack.producer_config.webhook_keys.clone(),
    )
    .unwrap();
    assert_eq!(strict.run_once().await.unwrap(), 1);
    let message = &messages(&stack, &client, ids[0]).await[0];
    assert_eq!(message["status"], "failed");
    assert!(
        message["last_error"].as_str().unwrap().contains("loopback"),
        "{message}"
    );
    assert!(receiver.received().is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_killed_mid_delivery_delivers_after_restart() {
    let stack = Stack::without_worker().await;
    let client = stack.client("killed").await;
    let receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    receiver.script([Reply::Hang(Duration::from_secs(60))]);
    let ids = stack.submit_live_async(&client, 1).await;

    let mut worker = spawn_worker(&stack);
    wait_for("the first delivery to start", || async {
        !receiver.received().is_empty()
    })
    .await;
    worker.kill().expect("SIGKILL");
    worker.wait().unwrap();
    assert_eq!(message_status(&stack, &client, ids[0]).await, "pending");

    // The claim's lease (timeout + connect timeout + 5 s) runs out; a new dispatcher takes it.
    let mut worker = spawn_worker(&stack);
    wait_for("delivery after the restart", || async {
        message_status(&stack, &client, ids[0]).await == "delivered"
    })
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(
        received[0].id, received[1].id,
        "at least once, same webhook-id"
    );
    assert_eq!(received[1].answered, Some(200));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_that_cannot_be_judged_sends_liveness_failed() {
    let stack = Stack::without_worker().await;
    let client = stack.client("failed").await;
    let receiver = Receiver::start().await;
    stack.add_endpoint(&client, &receiver.url()).await;
    let ids = stack.submit_live_async(&client, 1).await;
    // The stored capture disappears before any worker gets to it.
    let key: String = sqlx::query_scalar("SELECT packet_key FROM transactions WHERE id = $1")
        .bind(ids[0])
        .fetch_one(&stack.db)
        .await
        .unwrap();
    liveness_pipeline::storage::Storage::new(&stack.worker_config.storage)
        .delete(&key)
        .await
        .unwrap();
    let worker = LateWorker::start(stack.worker_config.clone()).await;
    wait_for("the event", || async { !receiver.received().is_empty() }).await;
    worker.stop().await;
    let event: Value = serde_json::from_str(&receiver.received()[0].body).unwrap();
    assert_eq!(event["type"], "liveness.failed");
    assert_eq!(event["data"]["status"], "failed");
    assert_eq!(event["data"]["id"], ids[0]);
    assert_eq!(event["data"]["valid"], false);
    stack.stop().await;
}
