//! PostgreSQL: the pool, the migrations, and one module of checked queries per table family.

pub mod housekeeping;
pub mod origins;
pub mod reports;
pub mod sessions;
pub mod tenants;
pub mod transactions;

use crate::config::DatabaseConfig;
use sqlx::postgres::{PgPool, PgPoolOptions};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// NOTIFY channel on which the worker announces each committed verdict (payload: the id).
pub const VERDICT_CHANNEL: &str = "liveness_verdicts";

/// NOTIFY channel on which a trigger announces a tenant disabled or enabled (payload: the id).
pub const TENANT_CHANNEL: &str = "liveness_tenants";

pub async fn connect(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        // Fail fast while the database is down: callers answer 503 or retry the job.
        .acquire_timeout(config.acquire_timeout)
        .connect_lazy(&config.url)
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Unavailability (connection refused, pool timeout, server shutting down) as opposed to a
/// query that is wrong for the data.
pub fn is_transient(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    ) || e
        .as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c.starts_with("57") || c.starts_with("08"))
}
