//! The job queue: the job message, the connection, a confirming publisher, and the retry
//! bookkeeping that travels in message headers. The queues themselves: `topology`.

mod dead;
mod topology;

pub use dead::{death, list_dead_letters, message_count, redrive_dead_letters, DeadLetter};
pub use topology::{
    dead_letter_events_queue, dead_letter_exchange, dead_letter_queue, declare, remove, retry_queue,
};

use crate::config::QueueConfig;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};

/// One capture to judge. Everything else is in PostgreSQL and S3, so a message is tiny and a
/// redelivery re-reads the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub transaction_id: i64,
    pub tenant_id: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("message broker unavailable: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused the message (nack)")]
    Nacked,
}

pub async fn connect(config: &QueueConfig) -> Result<Connection, QueueError> {
    Ok(Connection::connect(&config.url, ConnectionProperties::default()).await?)
}

/// Header: how many transient failures the job has had so far.
pub const ATTEMPT_HEADER: &str = "x-liveness-attempt";
/// Header: when its first transient failure happened (Unix milliseconds); the retry horizon
/// counts from there.
pub const FIRST_FAILURE_HEADER: &str = "x-liveness-first-failure-ms";

/// A job's retry state, read from its headers (none on a job's first delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryState {
    pub attempt: u32,
    pub first_failure_ms: Option<u64>,
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match *value {
        AMQPValue::LongLongInt(n) => Some(n),
        AMQPValue::LongInt(n) => Some(n.into()),
        AMQPValue::LongUInt(n) => Some(n.into()),
        AMQPValue::ShortInt(n) => Some(n.into()),
        AMQPValue::ShortUInt(n) => Some(n.into()),
        AMQPValue::Timestamp(n) => i64::try_from(n).ok(),
        _ => None,
    }
}

/// An integer header of a message, whatever integer type the sender used.
pub fn header_integer(properties: &BasicProperties, name: &str) -> Option<i64> {
    properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(name).and_then(integer))
}

impl RetryState {
    pub fn of(properties: &BasicProperties) -> Self {
        Self {
            attempt: header_integer(properties, ATTEMPT_HEADER)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            first_failure_ms: header_integer(properties, FIRST_FAILURE_HEADER)
                .and_then(|n| u64::try_from(n).ok()),
        }
    }

    fn headers(self) -> FieldTable {
        let mut headers = FieldTable::default();
        headers.insert(
            ATTEMPT_HEADER.into(),
            AMQPValue::LongLongInt(self.attempt.into()),
        );
        if let Some(first) = self.first_failure_ms {
            headers.insert(
                FIRST_FAILURE_HEADER.into(),
                AMQPValue::LongLongInt(first.min(i64::MAX as u64) as i64),
            );
        }
        headers
    }
}

fn job_properties(job: &Job) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(job.transaction_id.to_string().into())
}

/// A channel in confirm mode: every publish returns only once the broker has the message on
/// disk.
pub struct Publisher {
    _connection: Option<Connection>,
    channel: Channel,
    queue: ShortString,
}

impl Publisher {
    /// Its own connection (the producer's).
    pub async fn connect(config: &QueueConfig) -> Result<Self, QueueError> {
        let connection = connect(config).await?;
        let mut publisher = Self::on(&connection, config).await?;
        publisher._connection = Some(connection);
        Ok(publisher)
    }

    /// A channel on an existing connection (the worker's consuming one).
    pub async fn on(connection: &Connection, config: &QueueConfig) -> Result<Self, QueueError> {
        let channel = connection.create_channel().await?;
        declare(&channel, config).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            _connection: None,
            channel,
            queue: config.queue.as_str().into(),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.channel.status().connected()
    }

    /// Queues a job for its first attempt.
    pub async fn publish(&self, job: &Job) -> Result<(), QueueError> {
        self.publish_to(self.queue.clone(), job, job_properties(job))
            .await
    }

    /// Parks a job in the delay queue `queue` with its retry state; the broker returns it to
    /// the work queue when the delay has passed.
    pub async fn publish_retry(
        &self,
        queue: &str,
        job: &Job,
        state: RetryState,
    ) -> Result<(), QueueError> {
        let properties = job_properties(job).with_headers(state.headers());
        self.publish_to(queue.into(), job, properties).await
    }

    async fn publish_to(
        &self,
        routing_key: ShortString,
        job: &Job,
        properties: BasicProperties,
    ) -> Result<(), QueueError> {
        let body = serde_json::to_vec(job).expect("a job serialises");
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                routing_key,
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?
            .await?;
        if confirm.is_ack() {
            Ok(())
        } else {
            Err(QueueError::Nacked)
        }
    }
}
