//! Disabled tenants, known in memory so that checking a token costs no database round trip:
//! a trigger NOTIFYs every change, and the set is reloaded after LISTEN on each (re)connect,
//! so a change made while the listener was away is not missed.

use liveness_pipeline::db::TENANT_CHANNEL;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// `None` until the first load: callers then ask the database themselves.
#[derive(Clone, Default)]
pub struct DisabledTenants {
    ids: Arc<RwLock<Option<HashSet<i64>>>>,
}

impl DisabledTenants {
    /// Whether the tenant is disabled, if known without the database.
    pub fn is_disabled(&self, tenant_id: i64) -> Option<bool> {
        self.ids
            .read()
            .unwrap()
            .as_ref()
            .map(|ids| ids.contains(&tenant_id))
    }

    async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let ids = liveness_pipeline::db::tenants::disabled_ids(pool).await?;
        *self.ids.write().unwrap() = Some(ids.into_iter().collect());
        Ok(())
    }

    /// Runs for the life of the producer.
    pub async fn follow(self, pool: PgPool) {
        loop {
            if let Err(e) = self.listen_once(&pool).await {
                // Until the set is current again, tokens are checked against the database.
                *self.ids.write().unwrap() = None;
                tracing::warn!(error = %e, "tenant listener lost; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn listen_once(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(TENANT_CHANNEL).await?;
        self.reload(pool).await?;
        // `try_recv` reports a lost connection (where `recv` would reconnect silently and
        // drop what was sent meanwhile): start over, reloading after the new LISTEN.
        while listener.try_recv().await?.is_some() {
            self.reload(pool).await?;
        }
        Err(sqlx::Error::PoolClosed)
    }
}
