//! The producer process starts and serves with nothing but public capture keys: a folder of
//! `KEY_ID.pub` files. A private key file beside them (even one the worker would refuse for
//! its mode) is never read.

use liveness_capture::{render_key_file, KeyId, KeySchedule, PrivateKey};
use liveness_pipeline::storage::at_rest::StorageKeys;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

/// The producer process, killed when the test ends however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_runs_on_public_keys_alone() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("lvtpub{}x{nanos}", std::process::id());
    let admin = sqlx::PgPool::connect(ADMIN).await.expect("PostgreSQL runs");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    let database_url = format!("postgres://postgres:postgres@127.0.0.1:5432/{name}");

    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let key = PrivateKey::generate(KeyId::parse("k-public").unwrap());
    let schedule = KeySchedule::default();
    std::fs::write(
        dir.join("k-public.pub"),
        render_key_file("public", &key.public().to_tagged(), &schedule),
    )
    .unwrap();
    let stray = PrivateKey::generate(KeyId::parse("k-stray").unwrap());
    let stray_path = dir.join("k-stray.key");
    std::fs::write(
        &stray_path,
        render_key_file("private", &stray.to_base64(), &schedule),
    )
    .unwrap();
    std::fs::set_permissions(&stray_path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _producer = Killed(
        Command::new(env!("CARGO_BIN_EXE_liveness-producer"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &database_url)
            .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
            .env("LIVENESS_QUEUE", format!("{name}.jobs"))
            .env("S3_ENDPOINT", "http://127.0.0.1:8014")
            .env("S3_BUCKET", name.replace('x', "-"))
            .env(
                "JWT_SECRET",
                format!("{name}-jwt-secret-of-at-least-32-bytes"),
            )
            .env("LIVENESS_CAPTURE_PUBLIC_KEY_DIR", &dir)
            .env("LIVENESS_STORAGE_KEYS", StorageKeys::generate_entry("s1"))
            .env("LIVENESS_WEBHOOK_KEYS", StorageKeys::generate_entry("w1"))
            .env("LIVENESS_PSEUDONYM_KEY", StorageKeys::generate_entry("p1"))
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the producer binary starts"),
    );

    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the producer did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The producer migrated the database at start; a tenant for the token.
    let db = sqlx::PgPool::connect(&database_url).await.unwrap();
    let created = liveness_pipeline::db::tenants::create(&db, "public-keys", 0.5)
        .await
        .unwrap();
    let token: Value = http
        .post(format!("{base}/api/v3/auth/token"))
        .json(&json!({ "client_id": created.tenant.client_id, "client_secret": created.client_secret }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys: Value = http
        .get(format!("{base}/api/v3/biometrics/liveness/keys"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys["keys"],
        json!([{ "key_id": "k-public", "public_key": key.public().to_base64(),
                 "suite": "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-128-GCM" }])
    );

    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}
