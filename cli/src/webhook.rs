//! `liveness webhook ...`: an operator's view of a tenant's endpoints and deliveries (the same
//! operations tenants have under /api/v3/webhooks).

use liveness_pipeline::config::env_or;
use liveness_pipeline::storage::at_rest::StorageKeys;
use liveness_webhooks::endpoints;
use liveness_webhooks::guard::AddressPolicy;
use liveness_webhooks::outbox::{self, Redelivery};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint; its signing secret is printed now and never again.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        url: String,
    },
    /// List a tenant's endpoints (without secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// New signing secret; the old one keeps signing for the grace period.
    Rotate {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: i64,
        #[arg(long, default_value_t = 86_400)]
        grace_secs: u64,
    },
    /// Stop deliveries to an endpoint (waiting messages are failed).
    Disable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: i64,
    },
    /// Resume deliveries to an endpoint (e.g. after a 410 disabled it).
    Enable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: i64,
    },
    /// Messages (newest first) with every attempt, optionally for one transaction.
    Messages {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        transaction: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Send a message again, same webhook-id, fresh retry schedule (all of a transaction's
    /// messages with --transaction).
    Redeliver {
        #[arg(long)]
        tenant: String,
        #[arg(long, required_unless_present = "transaction")]
        message: Option<String>,
        #[arg(long)]
        transaction: Option<i64>,
    },
}

async fn tenant_id(db: &PgPool, name: &str) -> anyhow::Result<i64> {
    Ok(crate::database::tenant_named(db, name).await?.id)
}

pub fn run(command: WebhookCommand) -> anyhow::Result<()> {
    crate::database::runtime()?.block_on(async {
        let db = crate::database::open().await?;
        match command {
            WebhookCommand::Add { tenant, url } => {
                let tenant = tenant_id(&db, &tenant).await?;
                let parsed = endpoints::parse_url(&url)?;
                AddressPolicy {
                    allow_private: env_or("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", false)?,
                }
                .check(&parsed)
                .await?;
                let keys = StorageKeys::from_env_var("LIVENESS_WEBHOOK_KEYS")?;
                let (endpoint, secret) =
                    endpoints::create(&db, &keys, tenant, parsed.as_str()).await?;
                let mut out = json!(endpoint);
                out["secret"] = json!(secret);
                println!("{out}");
            }
            WebhookCommand::List { tenant } => {
                let tenant = tenant_id(&db, &tenant).await?;
                for endpoint in endpoints::list(&db, tenant).await? {
                    println!("{}", json!(endpoint));
                }
            }
            WebhookCommand::Rotate {
                tenant,
                id,
                grace_secs,
            } => {
                let tenant = tenant_id(&db, &tenant).await?;
                let keys = StorageKeys::from_env_var("LIVENESS_WEBHOOK_KEYS")?;
                let (secret, until) =
                    endpoints::rotate(&db, &keys, tenant, id, Duration::from_secs(grace_secs))
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no endpoint {id} for this tenant"))?;
                println!(
                    "{}",
                    json!({ "id": id, "secret": secret, "previous_expires_at": until })
                );
            }
            WebhookCommand::Disable { tenant, id } => {
                let tenant = tenant_id(&db, &tenant).await?;
                if !endpoints::disable(&db, tenant, id, "disabled by an operator").await? {
                    anyhow::bail!("no endpoint {id} for this tenant");
                }
            }
            WebhookCommand::Enable { tenant, id } => {
                let tenant = tenant_id(&db, &tenant).await?;
                if !endpoints::enable(&db, tenant, id).await? {
                    anyhow::bail!("no endpoint {id} for this tenant");
                }
            }
            WebhookCommand::Messages {
                tenant,
                transaction,
                limit,
            } => {
                let tenant = tenant_id(&db, &tenant).await?;
                for message in outbox::messages(&db, tenant, transaction, limit).await? {
                    let attempts = outbox::attempts(&db, tenant, &message.id)
                        .await?
                        .unwrap_or_default();
                    let mut out = json!(message);
                    out["attempt_log"] = json!(attempts);
                    println!("{out}");
                }
            }
            WebhookCommand::Redeliver {
                tenant,
                message,
                transaction,
            } => {
                let tenant = tenant_id(&db, &tenant).await?;
                let ids: Vec<String> = match (message, transaction) {
                    (Some(id), _) => vec![id],
                    (None, transaction) => outbox::messages(&db, tenant, transaction, 1000)
                        .await?
                        .into_iter()
                        .map(|m| m.id)
                        .collect(),
                };
                if ids.is_empty() {
                    anyhow::bail!("no webhook messages for this transaction");
                }
                for id in ids {
                    match outbox::redeliver(&db, tenant, &id).await? {
                        Redelivery::Scheduled => {
                            println!("{}", json!({ "id": id, "status": "pending" }))
                        }
                        Redelivery::NotFound => {
                            anyhow::bail!("no webhook message {id} for this tenant")
                        }
                        Redelivery::EndpointDisabled => {
                            anyhow::bail!("the endpoint of {id} is disabled; enable it first")
                        }
                    }
                }
            }
        }
        Ok(())
    })
}
