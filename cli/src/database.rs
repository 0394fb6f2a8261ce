//! What the database commands share: a one-thread runtime, the database at DATABASE_URL
//! (migrated), and tenants named on the command line.

use liveness_pipeline::config::DatabaseConfig;
use liveness_pipeline::db::tenants::Tenant;
use sqlx::PgPool;

pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The database at DATABASE_URL, migrated to this version's schema.
pub async fn open() -> anyhow::Result<PgPool> {
    let db = liveness_pipeline::db::connect(&DatabaseConfig::from_env()?).await?;
    liveness_pipeline::db::migrate(&db).await?;
    Ok(db)
}

pub async fn tenant_named(db: &PgPool, name: &str) -> anyhow::Result<Tenant> {
    liveness_pipeline::db::tenants::by_name(db, name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no enabled tenant named {name:?}"))
}
