//! Synchronous requests wait for their verdict without polling: one LISTEN connection per
//! producer receives the worker's NOTIFY for every committed verdict and wakes the waiters.

use liveness_pipeline::db::VERDICT_CHANNEL;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

#[derive(Clone, Default)]
pub struct Waiters {
    pending: Arc<Mutex<HashMap<i64, Vec<oneshot::Sender<()>>>>>,
}

impl Waiters {
    /// Registers interest in a transaction; the receiver fires when its verdict is committed.
    /// Register before checking the database, so that a verdict landing in between is not
    /// missed.
    pub fn register(&self, id: i64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().entry(id).or_default().push(tx);
        rx
    }

    pub fn forget(&self, id: i64) {
        self.pending.lock().unwrap().remove(&id);
    }

    fn wake(&self, id: i64) {
        for waiter in self.pending.lock().unwrap().remove(&id).unwrap_or_default() {
            let _ = waiter.send(());
        }
    }

    /// Runs for the life of the producer. sqlx's listener reconnects by itself; a
    /// notification lost during an outage only delays a waiter to its timeout, after which
    /// the database is read once more.
    pub async fn listen(self, pool: PgPool) {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "verdict listener cannot connect; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(VERDICT_CHANNEL).await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        if let Ok(id) = n.payload().parse() {
                            self.wake(id);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "verdict listener lost its connection");
                        break;
                    }
                }
            }
        }
    }
}
