//! `liveness purge`: data retention from cron (`--expired`) or one transaction's capture on
//! request (`--tenant --transaction`), with the same code the worker's periodic job runs.

use liveness_pipeline::config::StorageConfig;
use liveness_pipeline::pseudonym::PseudonymKey;
use liveness_pipeline::retention::{self, Reason};
use liveness_pipeline::storage::Storage;
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Purge every transaction past its tenant's retention period.
    #[arg(long, conflicts_with_all = ["tenant", "transaction"])]
    expired: bool,
    /// Transactions per batch with --expired.
    #[arg(long, default_value_t = 500)]
    batch: i64,
    #[arg(long, requires = "transaction")]
    tenant: Option<String>,
    #[arg(long, requires = "tenant")]
    transaction: Option<i64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.expired && args.transaction.is_none() {
        anyhow::bail!("say --expired, or --tenant NAME --transaction ID");
    }
    crate::database::runtime()?.block_on(async {
        let db = crate::database::open().await?;
        let storage = Storage::new(&StorageConfig::from_env()?);
        let key = PseudonymKey::from_env()?;
        if args.expired {
            let mut total = 0;
            loop {
                let n = retention::purge_expired(&db, &storage, &key, args.batch).await?;
                total += n;
                if (n as i64) < args.batch {
                    break;
                }
            }
            println!("{}", json!({ "purged": total, "reason": "retention" }));
            return Ok(());
        }
        let (name, id) = (
            args.tenant.expect("clap requires it"),
            args.transaction.expect("checked"),
        );
        let tenant = crate::database::tenant_named(&db, &name).await?;
        let retention::TargetState {
            target,
            purged: already,
        } = retention::target(&db, tenant.id, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("tenant {name:?} has no transaction {id}"))?;
        let purged =
            !already && retention::purge(&db, &storage, &key, &target, Reason::Request).await?;
        println!(
            "{}",
            json!({ "transaction_id": id, "purged_now": purged, "already_purged": already })
        );
        Ok(())
    })
}
