//! `liveness tenant create|set|disable|enable`: registers an API client (printing its
//! credentials once), changes its settings, and shuts it out or lets it back in.

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
    /// Change a tenant's settings.
    Set {
        #[arg(long)]
        name: String,
        /// Hosts a per-request webhook_url may name (replaces the list; repeat the flag).
        #[arg(long = "allow-webhook-host")]
        allow_webhook_hosts: Option<Vec<String>>,
        /// Web origins (https://shop.example) whose pages may use capture tokens (replaces
        /// the list; repeat the flag; an empty value clears it).
        #[arg(long = "allow-origin")]
        allow_origins: Option<Vec<String>>,
        /// Days after which captures are purged (1-3650).
        #[arg(long)]
        retention_days: Option<i32>,
        /// The model set (models/manifest.toml) that judges this tenant's faces. The tenant's
        /// face threshold becomes the set's own, unless --face-threshold is given too.
        #[arg(long)]
        model_set: Option<String>,
        /// Face P(real) below this is an attack (715).
        #[arg(long)]
        face_threshold: Option<f64>,
    },
    /// Refuse the tenant's credentials and its access tokens at once (producers are told by
    /// NOTIFY); its queued captures are failed by the worker.
    Disable {
        #[arg(long)]
        name: String,
    },
    /// Accept the tenant's credentials again.
    Enable {
        #[arg(long)]
        name: String,
    },
    /// Give the tenant a new client secret, printed now and never again; the old one keeps
    /// working for --grace-secs (default 0: refused at once).
    RotateSecret {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        grace_secs: u64,
    },
}

pub fn run(command: TenantCommand) -> anyhow::Result<()> {
    crate::database::runtime()?.block_on(async {
        let db = crate::database::open().await?;
        match command {
            TenantCommand::Create {
                name,
                face_threshold,
            } => {
                if !(0.0..=1.0).contains(&face_threshold) {
                    anyhow::bail!("--face-threshold must be between 0 and 1");
                }
                let created =
                    liveness_pipeline::db::tenants::create(&db, &name, face_threshold).await?;
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
            TenantCommand::Disable { name } => set_disabled(&db, &name, true).await?,
            TenantCommand::Enable { name } => set_disabled(&db, &name, false).await?,
            TenantCommand::RotateSecret { name, grace_secs } => {
                let tenant = crate::database::tenant_named(&db, &name).await?;
                let grace = std::time::Duration::from_secs(grace_secs);
                let client_secret =
                    liveness_pipeline::db::tenants::rotate_secret(&db, tenant.id, grace).await?;
                println!(
                    "{}",
                    json!({
                        "tenant_id": tenant.id,
                        "client_id": tenant.client_id,
                        "client_secret": client_secret,
                        "previous_secret_valid_for_secs": grace_secs,
                    })
                );
            }
            TenantCommand::Set {
                name,
                allow_webhook_hosts,
                allow_origins,
                retention_days,
                model_set,
                face_threshold,
            } => {
                let tenant = crate::database::tenant_named(&db, &name).await?;
                if face_threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
                    anyhow::bail!("--face-threshold must be between 0 and 1");
                }
                match (model_set, face_threshold) {
                    (Some(set), threshold) => {
                        let manifest = liveness_models::manifest::manifest();
                        let spec = manifest.set(&set)?;
                        if manifest.set_is_restricted(spec) {
                            eprintln!(
                                "warning: model set {set:?} uses a model whose licence restricts \
                                 its use (models/NOTICE); workers load it only with \
                                 LIVENESS_ALLOW_RESTRICTED_MODELS=true and {set} in \
                                 LIVENESS_MODEL_SETS"
                            );
                        }
                        let threshold = threshold.unwrap_or(spec.threshold);
                        liveness_pipeline::db::tenants::set_model_set(
                            &db,
                            tenant.id,
                            Some(&set),
                            threshold,
                        )
                        .await?;
                    }
                    (None, Some(threshold)) => {
                        liveness_pipeline::db::tenants::set_face_threshold(
                            &db, tenant.id, threshold,
                        )
                        .await?;
                    }
                    (None, None) => {}
                }
                if let Some(hosts) = allow_webhook_hosts {
                    liveness_pipeline::db::tenants::set_webhook_allowed_hosts(
                        &db, tenant.id, &hosts,
                    )
                    .await?;
                }
                if let Some(origins) = allow_origins {
                    let origins: Vec<String> =
                        origins.into_iter().filter(|o| !o.is_empty()).collect();
                    let origins = liveness_pipeline::db::origins::canonical_list(&origins)?;
                    liveness_pipeline::db::tenants::set_allowed_origins(&db, tenant.id, &origins)
                        .await?;
                }
                if let Some(days) = retention_days {
                    if !(1..=3650).contains(&days) {
                        anyhow::bail!("--retention-days must be between 1 and 3650");
                    }
                    liveness_pipeline::db::tenants::set_retention_days(&db, tenant.id, days)
                        .await?;
                }
                let tenant = liveness_pipeline::db::tenants::get(&db, tenant.id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("tenant {name:?} vanished"))?;
                println!(
                    "{}",
                    json!({
                        "tenant_id": tenant.id,
                        "name": tenant.name,
                        "retention_days": tenant.retention_days,
                        "webhook_allowed_hosts": tenant.webhook_allowed_hosts,
                        "allowed_origins": tenant.allowed_origins,
                        "model_set": tenant.model_set.as_deref().unwrap_or(
                            &liveness_models::manifest::manifest().default_set().name
                        ),
                        "face_threshold": tenant.face_threshold,
                    })
                );
            }
        }
        Ok(())
    })
}

async fn set_disabled(db: &sqlx::PgPool, name: &str, disabled: bool) -> anyhow::Result<()> {
    let id = liveness_pipeline::db::tenants::set_disabled(db, name, disabled)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant is named {name:?}"))?;
    println!(
        "{}",
        json!({ "tenant_id": id, "name": name, "disabled": disabled })
    );
    Ok(())
}
