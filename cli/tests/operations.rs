//! The operator commands against a real database and S3 server: tenant settings, webhook
//! endpoints, and purging captures (objects checked gone from the server).

mod support;

use liveness_pipeline::config::StorageConfig;
use liveness_pipeline::storage::{Storage, StorageError};
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::PgPool;
use support::{block_on, TestDb};

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn tenant_settings_and_webhook_endpoints() {
    let db = TestDb::new();
    let created = json(&db.ok(&["tenant", "create", "--name", "acme"], &[]));
    assert!(created["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("lvs_"));

    let set = json(&db.ok(
        &[
            "tenant",
            "set",
            "--name",
            "acme",
            "--retention-days",
            "7",
            "--allow-webhook-host",
            "Hooks.Example.com",
            "--allow-webhook-host",
            "other.example",
        ],
        &[],
    ));
    assert_eq!(set["retention_days"], 7);
    assert_eq!(
        set["webhook_allowed_hosts"],
        serde_json::json!(["hooks.example.com", "other.example"])
    );
    let refused = db.liveness(
        &["tenant", "set", "--name", "acme", "--retention-days", "0"],
        &[],
    );
    assert!(!refused.status.success());

    // A model set brings its own threshold; --face-threshold overrides it; a restricted set
    // is accepted with a warning (the worker still needs the operator's setting to load it),
    // and an unknown set is refused.
    let set = json(&db.ok(
        &[
            "tenant",
            "set",
            "--name",
            "acme",
            "--model-set",
            "minifasnet",
        ],
        &[],
    ));
    assert_eq!(
        (set["model_set"].as_str(), set["face_threshold"].as_f64()),
        (Some("minifasnet"), Some(0.5))
    );
    let opt_in = db.liveness(
        &[
            "tenant",
            "set",
            "--name",
            "acme",
            "--model-set",
            "minifasnet-facenox",
        ],
        &[],
    );
    assert!(opt_in.status.success());
    assert!(String::from_utf8_lossy(&opt_in.stderr).contains("LIVENESS_ALLOW_RESTRICTED_MODELS"));
    let set = json(&String::from_utf8_lossy(&opt_in.stdout));
    assert_eq!(set["model_set"], "minifasnet-facenox");
    assert_eq!(set["face_threshold"], 0.62);
    let set = json(&db.ok(
        &["tenant", "set", "--name", "acme", "--face-threshold", "0.7"],
        &[],
    ));
    assert_eq!(
        (set["model_set"].as_str(), set["face_threshold"].as_f64()),
        (Some("minifasnet-facenox"), Some(0.7))
    );
    let unknown = db.liveness(
        &["tenant", "set", "--name", "acme", "--model-set", "nope"],
        &[],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no model set is named"));

    // Loopback is refused unless the operator allows private addresses.
    let url = "http://127.0.0.1:9/hook";
    let refused = db.liveness(&["webhook", "add", "--tenant", "acme", "--url", url], &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));
    let allow = [("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true")];
    let added = json(&db.ok(
        &["webhook", "add", "--tenant", "acme", "--url", url],
        &allow,
    ));
    let secret = added["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = added["id"].as_i64().unwrap().to_string();

    let listed = db.ok(&["webhook", "list", "--tenant", "acme"], &[]);
    assert_eq!(listed.lines().count(), 1);
    assert!(!listed.contains("whsec_"), "listing never shows secrets");
    let rotated = json(&db.ok(&["webhook", "rotate", "--tenant", "acme", "--id", &id], &[]));
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);
    assert!(rotated["previous_expires_at"].is_string());

    // A new webhook key: listed first, with the old one still listed, then every row is
    // resealed under it; after that the old key is not needed to rotate again.
    let new_key = db.ok(&["keys", "generate", "--id", "cli-test-w2"], &[]);
    let new_key = new_key.trim();
    assert!(new_key.starts_with("cli-test-w2="));
    let both = format!("{new_key},{}", support::TEST_WEBHOOK_KEY);
    let resealed = json(&db.ok(
        &["keys", "rotate-webhook-key"],
        &[("LIVENESS_WEBHOOK_KEYS", both.as_str())],
    ));
    assert_eq!(resealed["resealed"], 1);
    assert_eq!(resealed["key_id"], "cli-test-w2");
    let (key_id, plaintext): (String, bool) = block_on(async {
        let pool = PgPool::connect(&db.url).await.unwrap();
        let row = sqlx::query_as(
            "SELECT secret_key_id, secret IS NOT NULL OR previous_secret IS NOT NULL
             FROM webhook_endpoints",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        row
    });
    assert_eq!((key_id.as_str(), plaintext), ("cli-test-w2", false));
    let only_new = [("LIVENESS_WEBHOOK_KEYS", new_key)];
    db.ok(
        &["webhook", "rotate", "--tenant", "acme", "--id", &id],
        &only_new,
    );
    // Without the key that sealed them, secrets do not open: the command says which.
    let refused = db.liveness(&["webhook", "rotate", "--tenant", "acme", "--id", &id], &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("cli-test-w2") && !stderr.contains("whsec_"),
        "{stderr}"
    );
    db.ok(
        &["webhook", "disable", "--tenant", "acme", "--id", &id],
        &[],
    );
    let listed = json(&db.ok(&["webhook", "list", "--tenant", "acme"], &[]));
    assert!(listed["disabled_at"].is_string());
    let unknown = db.liveness(&["webhook", "list", "--tenant", "nobody"], &[]);
    assert!(!unknown.status.success());
}

fn storage_config(bucket: &str) -> StorageConfig {
    StorageConfig {
        bucket: bucket.into(),
        ..StorageConfig::from_env().expect("S3_* settings")
    }
}

async fn stored_transaction(
    db: &PgPool,
    storage: &Storage,
    tenant: i64,
    age_days: i32,
) -> (i64, String) {
    let key = format!("tenant-{tenant}/{}.lvcp", rand_key());
    storage.put(&key, b"sealed".to_vec()).await.unwrap();
    let id = sqlx::query_scalar(
        "INSERT INTO transactions (tenant_id, s3_bucket, packet_key, packet_sha256, packet_bytes, status, citizen_id, created_at)
         VALUES ($1, $2, $3, '\\x00', 6, 'done', 'CIT-1', now() - make_interval(days => $4)) RETURNING id",
    )
    .bind(tenant)
    .bind(&storage.bucket)
    .bind(&key)
    .bind(age_days)
    .fetch_one(db)
    .await
    .unwrap();
    (id, key)
}

fn rand_key() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn gone(storage: &Storage, key: &str) -> bool {
    matches!(storage.get(key).await, Err(StorageError::NotFound(_)))
}

#[test]
fn purge_on_request_and_past_retention() {
    let db = TestDb::new();
    let created = json(&db.ok(&["tenant", "create", "--name", "acme"], &[]));
    let tenant = created["tenant_id"].as_i64().unwrap();
    let config = storage_config(&db.name.replace(['x', 'c'], "-"));
    let env = [
        ("S3_ENDPOINT", config.endpoint.as_str()),
        ("S3_BUCKET", config.bucket.as_str()),
        ("S3_ACCESS_KEY", config.access_key.as_str()),
        ("S3_SECRET_KEY", config.secret_key.expose_secret()),
    ];
    let storage = Storage::new(&config);
    let (fresh, old, requested) = block_on(async {
        storage
            .ensure_bucket()
            .await
            .expect("the S3 server runs (scripts/stack services)");
        let pool = PgPool::connect(&db.url).await.unwrap();
        let t = (
            stored_transaction(&pool, &storage, tenant, 1).await,
            stored_transaction(&pool, &storage, tenant, 40).await,
            stored_transaction(&pool, &storage, tenant, 2).await,
        );
        pool.close().await;
        t
    });

    let out = json(&db.ok(
        &[
            "purge",
            "--tenant",
            "acme",
            "--transaction",
            &requested.0.to_string(),
        ],
        &env,
    ));
    assert_eq!(out["purged_now"], true);
    let again = json(&db.ok(
        &[
            "purge",
            "--tenant",
            "acme",
            "--transaction",
            &requested.0.to_string(),
        ],
        &env,
    ));
    assert_eq!(again["already_purged"], true);
    let expired = json(&db.ok(&["purge", "--expired"], &env));
    assert_eq!(
        expired["purged"], 1,
        "only the 40-day-old one is past 30 days"
    );

    block_on(async {
        assert!(gone(&storage, &requested.1).await);
        assert!(gone(&storage, &old.1).await);
        assert!(!gone(&storage, &fresh.1).await, "within retention: kept");
        let pool = PgPool::connect(&db.url).await.unwrap();
        let purges: Vec<(i64, String)> =
            sqlx::query_as("SELECT transaction_id, reason FROM purges ORDER BY transaction_id")
                .fetch_all(&pool)
                .await
                .unwrap();
        let mut expected = vec![
            (old.0, "retention".to_string()),
            (requested.0, "request".to_string()),
        ];
        expected.sort();
        assert_eq!(purges, expected);
        let citizen: String =
            sqlx::query_scalar("SELECT citizen_id FROM transactions WHERE id = $1")
                .bind(old.0)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(citizen.starts_with("hmac:cli-test-p1:"), "{citizen}");
        pool.close().await;
        // The test's bucket, with the object still in it, goes away; twice is no error.
        storage.remove_bucket().await.unwrap();
        assert!(storage.list("").await.is_err(), "the bucket is gone");
        storage.remove_bucket().await.unwrap();
    });
}
