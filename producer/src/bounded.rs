//! The producer's calls to PostgreSQL, S3 and RabbitMQ, each bounded in time so that an
//! outage or a blocked broker turns into a 503 within a known delay instead of a hang.

use crate::AppState;
use liveness_pipeline::queue::{self, Publisher};
use liveness_pipeline::storage::StorageError;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Queue(#[from] queue::QueueError),
    /// Connecting and confirming took longer than BROKER_TIMEOUT_MS: typically a broker that
    /// blocks publishers during a memory or disk alarm.
    #[error("the broker did not confirm within {0:?}")]
    TimedOut(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("object storage did not answer within {0:?}")]
    TimedOut(Duration),
}

impl AppState {
    /// The current publisher, connecting if there is none or its channel died. The lock is
    /// held only to swap the handle: publishes (and their confirms) run concurrently.
    async fn publisher(&self) -> Result<Arc<Publisher>, queue::QueueError> {
        let mut slot = self.publisher.lock().await;
        if let Some(publisher) = slot.as_ref().filter(|p| p.is_connected()) {
            return Ok(publisher.clone());
        }
        let publisher = Arc::new(Publisher::connect(&self.config.queue).await?);
        *slot = Some(publisher.clone());
        Ok(publisher)
    }

    /// Drops the shared publisher if it is still this one, so the next request reconnects;
    /// dropping the last handle closes its connection.
    async fn forget(&self, publisher: &Arc<Publisher>) {
        let mut slot = self.publisher.lock().await;
        if slot.as_ref().is_some_and(|p| Arc::ptr_eq(p, publisher)) {
            *slot = None;
        }
    }

    /// Publishes a job; after a failure, reconnects to the broker once and tries again. The
    /// whole of it, connects included, ends within BROKER_TIMEOUT_MS.
    pub async fn publish(&self, job: &queue::Job) -> Result<(), PublishError> {
        let limit = self.config.shedding.broker_timeout;
        let deadline = Instant::now() + limit;
        let timed_out = |_| PublishError::TimedOut(limit);
        let publisher = timeout_at(deadline, self.publisher())
            .await
            .map_err(timed_out)??;
        let error = match timeout_at(deadline, publisher.publish(job)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => PublishError::Queue(e),
            Err(elapsed) => {
                // A blocked connection stays blocked: never hand it to the next request.
                self.forget(&publisher).await;
                return Err(timed_out(elapsed));
            }
        };
        tracing::warn!(error = %error, "publish failed; reconnecting to the broker");
        self.forget(&publisher).await;
        let publisher = timeout_at(deadline, self.publisher())
            .await
            .map_err(timed_out)??;
        match timeout_at(deadline, publisher.publish(job)).await {
            Ok(result) => Ok(result?),
            Err(elapsed) => {
                self.forget(&publisher).await;
                Err(timed_out(elapsed))
            }
        }
    }

    pub async fn broker_ready(&self) -> bool {
        let limit = self.config.shedding.broker_timeout;
        matches!(
            tokio::time::timeout(limit, self.publisher()).await,
            Ok(Ok(_))
        )
    }

    /// Stores a capture within STORAGE_TIMEOUT_MS.
    pub async fn put_capture(&self, key: &str, packet: Vec<u8>) -> Result<(), PutError> {
        let limit = self.config.shedding.storage_timeout;
        match tokio::time::timeout(limit, self.storage.put(key, packet)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(PutError::TimedOut(limit)),
        }
    }

    /// Deletes a capture that was not (or may not have been) stored, in the background: the
    /// key is unique to its request, so nothing waits on it, and a hung server cannot hold
    /// the client's answer.
    pub fn discard_capture(&self, key: &str) {
        let storage = self.storage.clone();
        let key = key.to_string();
        tokio::spawn(async move {
            if let Err(e) = storage.delete(&key).await {
                tracing::warn!(error = %e, key, "discarding an unqueued capture failed");
            }
        });
    }
}
