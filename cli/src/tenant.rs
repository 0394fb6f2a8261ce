//! `liveness tenant create`: registers an API client and prints its credentials once.

use liveness_pipeline::config::DatabaseConfig;
use serde_json::json;

#[derive(clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; its client secret is printed now and never again.
    Create {
        #[arg(long)]
        name: String,
        /// Face P(real) below this is an attack (715).
        #[arg(long, default_value_t = 0.5)]
        face_threshold: f64,
    },
}

pub fn run(command: TenantCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let db = liveness_pipeline::db::connect(&DatabaseConfig::from_env()?).await?;
        liveness_pipeline::db::migrate(&db).await?;
        match command {
            TenantCommand::Create {
                name,
                face_threshold,
            } => {
                if !(0.0..=1.0).contains(&face_threshold) {
                    anyhow::bail!("--face-threshold must be between 0 and 1");
                }
                let created =
                    liveness_pipeline::tenants::create(&db, &name, face_threshold).await?;
                println!(
                    "{}",
                    json!({
                        "tenant_id": created.tenant.id,
                        "name": created.tenant.name,
                        "client_id": created.tenant.client_id,
                        "client_secret": created.client_secret,
                        "face_threshold": created.tenant.face_threshold,
                    })
                );
            }
        }
        Ok(())
    })
}
