//! `liveness keys`: the service's own symmetric keys (what LIVENESS_STORAGE_KEYS,
//! LIVENESS_WEBHOOK_KEYS and LIVENESS_PSEUDONYM_KEY hold), and re-encryption after a rotation.

use liveness_pipeline::storage::at_rest::StorageKeys;
use liveness_webhooks::secrets::{reseal, Reseal};
use serde_json::json;

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Print a new random key entry, `KEY_ID=BASE64URL` (32 bytes), for any of
    /// LIVENESS_STORAGE_KEYS, LIVENESS_WEBHOOK_KEYS or LIVENESS_PSEUDONYM_KEY.
    Generate {
        #[arg(long)]
        id: String,
    },
    /// Re-encrypt every webhook endpoint secret under the first key of LIVENESS_WEBHOOK_KEYS
    /// (after putting a new key first; the old key must stay listed until this has run).
    RotateWebhookKey {
        /// Endpoints per database transaction.
        #[arg(long, default_value_t = 100)]
        batch: i64,
    },
}

pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { id } => {
            let entry = StorageKeys::generate_entry(&id);
            // Checked as the services will parse it, so a bad id fails here, not at start-up.
            StorageKeys::parse(&entry).map_err(anyhow::Error::msg)?;
            println!("{entry}");
            Ok(())
        }
        KeysCommand::RotateWebhookKey { batch } => {
            let keys = StorageKeys::from_env_var("LIVENESS_WEBHOOK_KEYS")?;
            crate::database::runtime()?.block_on(async {
                let db = crate::database::open().await?;
                let resealed = reseal(&db, &keys, Reseal::NotUnderCurrentKey, batch.max(1)).await?;
                println!(
                    "{}",
                    json!({ "resealed": resealed, "key_id": keys.current_id() })
                );
                Ok(())
            })
        }
    }
}
