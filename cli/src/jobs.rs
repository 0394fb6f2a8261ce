//! `liveness jobs`: the jobs that did not make it: dead letters (RabbitMQ gave up on them) and
//! stuck transactions (no job on its way), and moving them back into the pipeline.

use liveness_pipeline::config::QueueConfig;
use liveness_pipeline::db::housekeeping;
use liveness_pipeline::queue::{self, Publisher};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum JobsCommand {
    /// List dead letters (left in their queue) and stuck transactions, as JSON.
    List(Window),
    /// Move dead letters back to the work queue and publish the jobs of stuck transactions
    /// again: all of them, or those of the transactions named.
    Redrive(RedriveArgs),
}

#[derive(clap::Args)]
pub struct Window {
    /// A `queued` transaction without the broker's confirm for this long is stuck.
    #[arg(long, default_value_t = 60)]
    grace_secs: u64,
    /// A `processing` transaction untouched for this long is stuck (the worker's default:
    /// its retry horizon + 300 s).
    #[arg(long, default_value_t = 1200)]
    stale_secs: u64,
    /// At most this many of each.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
}

#[derive(clap::Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    window: Window,
    /// Only these transactions (repeatable).
    #[arg(long = "transaction")]
    transactions: Vec<i64>,
    /// Also judge again the dead letters' transactions that were closed with a failed verdict
    /// (service failure): that verdict is deleted, and the new one sends its own event.
    #[arg(long)]
    reopen: bool,
}

pub fn run(command: JobsCommand) -> anyhow::Result<()> {
    crate::database::runtime()?.block_on(async {
        let db = crate::database::open().await?;
        let config = QueueConfig::from_env()?;
        match command {
            JobsCommand::List(window) => list(&db, &config, &window).await,
            JobsCommand::Redrive(args) => redrive(&db, &config, &args).await,
        }
    })
}

async fn stuck(db: &sqlx::PgPool, window: &Window) -> anyhow::Result<Vec<housekeeping::Stuck>> {
    Ok(housekeeping::stuck(
        db,
        Duration::from_secs(window.grace_secs),
        Duration::from_secs(window.stale_secs),
        window.limit as i64,
    )
    .await?)
}

async fn list(db: &sqlx::PgPool, config: &QueueConfig, window: &Window) -> anyhow::Result<()> {
    let dead = queue::list_dead_letters(config, window.limit).await?;
    let dead: Vec<_> = dead
        .iter()
        .map(|d| {
            json!({
                "transaction_id": d.job.map(|j| j.transaction_id),
                "tenant_id": d.job.map(|j| j.tenant_id),
                "reason": d.reason,
                "died_at": d.died_at,
                "readable": d.job.is_some(),
                "bytes": d.body.len(),
            })
        })
        .collect();
    let stuck: Vec<_> = stuck(db, window)
        .await?
        .iter()
        .map(|s| {
            json!({
                "transaction_id": s.id,
                "tenant_id": s.tenant_id,
                "status": s.status,
                "attempts": s.attempts,
                "created_at": s.created_at,
                "updated_at": s.updated_at,
                "published_at": s.published_at,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "dead_letters": dead, "stuck": stuck }))?
    );
    Ok(())
}

async fn redrive(
    db: &sqlx::PgPool,
    config: &QueueConfig,
    args: &RedriveArgs,
) -> anyhow::Result<()> {
    let named: BTreeSet<i64> = args.transactions.iter().copied().collect();
    let wanted = |id: i64| named.is_empty() || named.contains(&id);
    let mut reopened = Vec::new();
    if args.reopen {
        let dead: Vec<i64> = queue::list_dead_letters(config, usize::MAX)
            .await?
            .iter()
            .filter_map(|d| d.job.map(|j| j.transaction_id))
            .filter(|&id| wanted(id))
            .collect();
        reopened = housekeeping::reopen_failed(db, &dead).await?;
    }
    let redriven: Vec<i64> = queue::redrive_dead_letters(config, |job| wanted(job.transaction_id))
        .await?
        .iter()
        .map(|j| j.transaction_id)
        .collect();
    let stuck: Vec<_> = stuck(db, &args.window)
        .await?
        .into_iter()
        .filter(|s| wanted(s.id))
        .collect();
    if !stuck.is_empty() {
        let connection = queue::connect(config).await?;
        let publisher = Publisher::on(&connection, config).await?;
        for s in &stuck {
            publisher.publish(&s.job()).await?;
        }
        let _ = connection.close(200, "redriven".into()).await;
    }
    let republished: Vec<i64> = stuck.iter().map(|s| s.id).collect();
    housekeeping::mark_republished(db, &republished).await?;
    println!(
        "{}",
        json!({ "redriven": redriven, "reopened": reopened, "republished": republished })
    );
    Ok(())
}
