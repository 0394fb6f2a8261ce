//! A migrated database of the test's own (`lvt...`, which CI sweeps by prefix) and the
//! `liveness` binary run against it.
#![allow(dead_code)]

use sqlx::PgPool;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// LIVENESS_WEBHOOK_KEYS and LIVENESS_PSEUDONYM_KEY of every command a test runs (test keys,
/// never used anywhere else).
pub const TEST_WEBHOOK_KEY: &str = "cli-test-w1=nEh8Npz10EnnfRjIESakDg-L1TxAJpdsZBkATK8r3zk";
pub const TEST_PSEUDONYM_KEY: &str = "cli-test-p1=8P3h51fsheDwSaEkUJMS53ymvQEnQqmtFUNJ7bZzTbU";

pub const ADMIN_DATABASE_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Dropped (with the database) when the test ends, even by a failed assertion.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "lvt{}c{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        let url = format!("postgres://postgres:postgres@127.0.0.1:5432/{name}");
        block_on(async {
            let admin = PgPool::connect(ADMIN_DATABASE_URL)
                .await
                .expect("PostgreSQL runs (scripts/stack services)");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .unwrap();
            let db = PgPool::connect(&url).await.unwrap();
            liveness_pipeline::db::MIGRATOR.run(&db).await.unwrap();
            db.close().await;
        });
        TestDb { name, url }
    }

    /// Runs `liveness ARGS` with DATABASE_URL, the test keys (and `env`) set.
    pub fn liveness(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_liveness"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            // Fixed test keys (the commands that need them read them; tests may override).
            .env("LIVENESS_WEBHOOK_KEYS", TEST_WEBHOOK_KEY)
            .env("LIVENESS_PSEUDONYM_KEY", TEST_PSEUDONYM_KEY)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Its stdout, after checking that it succeeded.
    pub fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.liveness(args, env);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 10_000)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        block_on(async move {
            if let Ok(admin) = PgPool::connect(ADMIN_DATABASE_URL).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await;
            }
        });
    }
}
