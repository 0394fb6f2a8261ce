//! The job queue: a durable quorum queue whose rejected or over-delivered messages go to a
//! dead-letter queue, and the job message itself.

use crate::config::QueueConfig;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
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

pub fn dead_letter_exchange(queue: &str) -> String {
    format!("{queue}.dlx")
}

pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

pub async fn connect(config: &QueueConfig) -> Result<Connection, QueueError> {
    Ok(Connection::connect(&config.url, ConnectionProperties::default()).await?)
}

/// Deletes the queue, its dead-letter queue and exchange, with whatever they hold: for test
/// and benchmark rigs that made their own.
pub async fn remove(config: &QueueConfig) -> Result<(), QueueError> {
    let connection = connect(config).await?;
    let channel = connection.create_channel().await?;
    for queue in [config.queue.clone(), dead_letter_queue(&config.queue)] {
        channel
            .queue_delete(queue.as_str().into(), Default::default())
            .await?;
    }
    let exchange = dead_letter_exchange(&config.queue);
    channel
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await?;
    connection.close(200, "removed".into()).await?;
    Ok(())
}

/// Declares the queue, its dead-letter exchange and queue. Idempotent; both sides call it.
pub async fn declare(channel: &Channel, config: &QueueConfig) -> Result<(), QueueError> {
    let dlx = dead_letter_exchange(&config.queue);
    let dead = dead_letter_queue(&config.queue);
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            dlx.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let mut quorum = FieldTable::default();
    quorum.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    channel
        .queue_declare(dead.as_str().into(), durable, quorum.clone())
        .await?;
    channel
        .queue_bind(
            dead.as_str().into(),
            dlx.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut args = quorum;
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from(dlx.as_str())),
    );
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongUInt(config.delivery_limit),
    );
    // A quorum queue dead-letters at most once by default: RabbitMQ documents that a message
    // whose dead-lettering fails is then dropped, and a poison job is exactly the one an
    // operator wants to inspect. At least once keeps it until the dead-letter queue has
    // confirmed it; RabbitMQ requires reject-publish overflow for that strategy.
    args.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString(LongString::from("at-least-once")),
    );
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString(LongString::from("reject-publish")),
    );
    channel
        .queue_declare(config.queue.as_str().into(), durable, args)
        .await?;
    Ok(())
}

/// A connection with a channel in confirm mode: `publish` returns only once the broker has
/// the message on disk.
pub struct Publisher {
    _connection: Connection,
    channel: Channel,
    queue: ShortString,
}

impl Publisher {
    pub async fn connect(config: &QueueConfig) -> Result<Self, QueueError> {
        let connection = connect(config).await?;
        let channel = connection.create_channel().await?;
        declare(&channel, config).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            _connection: connection,
            channel,
            queue: config.queue.as_str().into(),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.channel.status().connected()
    }

    pub async fn publish(&self, job: &Job) -> Result<(), QueueError> {
        let body = serde_json::to_vec(job).expect("a job serialises");
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(job.transaction_id.to_string().into());
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.queue.clone(),
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
