//! Model sets per tenant: the set a tenant is assigned judges its captures and is recorded in
//! each verdict's model versions; a set the worker does not serve fails the capture (711)
//! instead of judging it with another set's scores and threshold.

mod support;

use liveness_pipeline::db::tenants;
use serde_json::Value;
use support::*;

const OPT_IN: &str = "minifasnet-facenox";

async fn versions(stack: &Stack, id: i64) -> (String, Value) {
    let row: (String, Value) = sqlx::query_as(
        "SELECT t.status::text, v.model_versions FROM transactions t
         JOIN verdicts v ON v.transaction_id = t.id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    row
}

async fn submit_live(stack: &Stack, client: &Client) -> (u16, Value) {
    let nonce = stack.nonce(client).await;
    let (packet, _) = stack.packet("silentface_image_T1.jpg", &nonce);
    stack
        .submit(client, form(packet).text("return_id", "true"), &[])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_is_judged_by_its_own_set_and_the_verdict_names_it() {
    let stack = Stack::start_with(Options {
        model_sets: vec![OPT_IN.into()],
        ..Options::default()
    })
    .await;
    let default_client = stack.client("default-set").await;
    let opt_in_client = stack.client("opt-in-set").await;
    tenants::set_model_set(&stack.db, opt_in_client.tenant_id, Some(OPT_IN), 0.5)
        .await
        .unwrap();

    let (status, body) = submit_live(&stack, &default_client).await;
    assert_eq!(status, 200, "{body}");
    let (_, default_versions) = versions(&stack, body["id"].as_i64().unwrap()).await;
    assert_eq!(default_versions["model_set"], "minifasnet");
    assert!(default_versions["face_antispoof_minifasnetv2se_128.onnx"].is_null());

    let (status, body) = submit_live(&stack, &opt_in_client).await;
    assert_eq!(status, 200, "{body}");
    let (_, opt_in_versions) = versions(&stack, body["id"].as_i64().unwrap()).await;
    assert_eq!(opt_in_versions["model_set"], OPT_IN);
    assert!(opt_in_versions["face_antispoof_minifasnetv2se_128.onnx"]
        .as_str()
        .unwrap()
        .starts_with("sha256:af2381b88f38"));
    // The stored per-frame scores carry all three models.
    let frames: Value = sqlx::query_scalar("SELECT frames FROM verdicts WHERE transaction_id = $1")
        .bind(body["id"].as_i64().unwrap())
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(
        frames[0]["models"]["facenox_v2se"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_the_worker_does_not_serve_fails_the_capture_rather_than_judging_it() {
    let stack = Stack::start().await;
    let client = stack.client("unserved-set").await;
    tenants::set_model_set(&stack.db, client.tenant_id, Some(OPT_IN), 0.5)
        .await
        .unwrap();
    let (status, body) = submit_live(&stack, &client).await;
    assert_eq!(body["valid"], false, "{body}");
    assert_eq!(body["error_code"], 711, "{status} {body}");
    let (state, versions) = versions(&stack, body["id"].as_i64().unwrap()).await;
    assert_eq!(state, "failed");
    assert_eq!(versions["model_set"], "minifasnet");
    stack.stop().await;
}
