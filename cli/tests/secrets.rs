//! `liveness tenant rotate-secret`: the new secret works at once, the old one only within the
//! grace given, and not at all without one.

mod support;

use liveness_pipeline::db::tenants;
use serde_json::Value;
use sqlx::PgPool;
use support::{block_on, TestDb};

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn accepted(test: &TestDb, client_id: &str, secret: &str) -> bool {
    block_on(async {
        let db = PgPool::connect(&test.url).await.unwrap();
        tenants::authenticate(&db, client_id, secret)
            .await
            .unwrap()
            .is_some()
    })
}

#[test]
fn rotated_client_secret_works_at_once_and_the_old_one_only_within_its_grace() {
    let test = TestDb::new();
    let created = json(&test.ok(&["tenant", "create", "--name", "rotating"], &[]));
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let first = created["client_secret"].as_str().unwrap().to_string();
    assert!(accepted(&test, &client_id, &first));

    let rotated = json(&test.ok(
        &[
            "tenant",
            "rotate-secret",
            "--name",
            "rotating",
            "--grace-secs",
            "3600",
        ],
        &[],
    ));
    let second = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert!(
        accepted(&test, &client_id, &second),
        "the new secret at once"
    );
    assert!(
        accepted(&test, &client_id, &first),
        "the old one within its grace"
    );
    assert!(!accepted(&test, &client_id, "lvs_not-the-secret"));

    // The grace runs out.
    block_on(async {
        let db = PgPool::connect(&test.url).await.unwrap();
        sqlx::query("UPDATE tenants SET previous_secret_expires_at = now() - interval '1 second'")
            .execute(&db)
            .await
            .unwrap();
    });
    assert!(
        !accepted(&test, &client_id, &first),
        "the old one after its grace"
    );
    assert!(accepted(&test, &client_id, &second));

    // Without a grace, the secret before is refused at once.
    let third = json(&test.ok(&["tenant", "rotate-secret", "--name", "rotating"], &[]))
        ["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(accepted(&test, &client_id, &third));
    assert!(!accepted(&test, &client_id, &second));
    assert!(!accepted(&test, &client_id, &first));
}
