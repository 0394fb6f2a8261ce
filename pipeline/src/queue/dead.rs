//! Dead letters for operators: what died and why, and moving them back to the work queue.

use super::{connect, dead_letter_queue, declare, Job, Publisher, QueueError};
use crate::config::QueueConfig;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;

/// One message of `<queue>.dead`.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The job, when the body is one (a poison message may be anything).
    pub job: Option<Job>,
    pub body: Vec<u8>,
    /// Why RabbitMQ dead-lettered it: `rejected` (the worker gave up on it) or
    /// `delivery_limit` (delivered that often without an answer: a worker died on it).
    pub reason: Option<String>,
    /// When it died, Unix seconds.
    pub died_at: Option<u64>,
}

/// Why and when (Unix seconds) RabbitMQ dead-lettered a message: the first (most recent)
/// entry of the `x-death` header it adds.
pub fn death(properties: &BasicProperties) -> (Option<String>, Option<u64>) {
    let Some(AMQPValue::FieldArray(deaths)) = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-death").cloned())
    else {
        return (None, None);
    };
    let Some(AMQPValue::FieldTable(first)) = deaths.as_slice().first() else {
        return (None, None);
    };
    let reason = match first.inner().get("reason") {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
        _ => None,
    };
    let time = match first.inner().get("time") {
        Some(AMQPValue::Timestamp(t)) => Some(*t),
        _ => None,
    };
    (reason, time)
}

impl DeadLetter {
    fn read(body: Vec<u8>, properties: &BasicProperties) -> Self {
        let (reason, died_at) = death(properties);
        Self {
            job: serde_json::from_slice(&body).ok(),
            body,
            reason,
            died_at,
        }
    }
}

/// Messages ready in `queue`, as the broker counts them (unacknowledged ones are not counted).
pub async fn message_count(channel: &lapin::Channel, queue: &str) -> Result<u32, QueueError> {
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(declared.message_count())
}

/// Up to `limit` dead letters, left in their queue: they are read without acknowledgement,
/// and closing the channel hands them back.
pub async fn list_dead_letters(
    config: &QueueConfig,
    limit: usize,
) -> Result<Vec<DeadLetter>, QueueError> {
    let connection = connect(config).await?;
    let channel = connection.create_channel().await?;
    declare(&channel, config).await?;
    let dead = dead_letter_queue(&config.queue);
    let mut letters = Vec::new();
    while letters.len() < limit {
        let Some(message) = channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        let delivery = &message.delivery;
        letters.push(DeadLetter::read(
            delivery.data.clone(),
            &delivery.properties,
        ));
    }
    channel.close(200, "listed".into()).await?;
    connection.close(200, "listed".into()).await?;
    Ok(letters)
}

/// Moves the dead letters `select` picks back to the work queue (each acknowledged only once
/// the broker has confirmed its copy), as first attempts; the others stay. Unreadable bodies
/// are never moved: a worker could only dead-letter them again. Returns the jobs moved.
pub async fn redrive_dead_letters(
    config: &QueueConfig,
    select: impl Fn(&Job) -> bool,
) -> Result<Vec<Job>, QueueError> {
    let connection = connect(config).await?;
    let publisher = Publisher::on(&connection, config).await?;
    let channel = connection.create_channel().await?;
    let dead = dead_letter_queue(&config.queue);
    // Each message is looked at once: the ones left alone come back only when the channel
    // closes, so counting first keeps the loop from reading them again.
    let pending = message_count(&channel, &dead).await?;
    let mut moved = Vec::new();
    for _ in 0..pending {
        let Some(message) = channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        let letter = DeadLetter::read(message.delivery.data.clone(), &message.delivery.properties);
        let Some(job) = letter.job.filter(|job| select(job)) else {
            continue;
        };
        publisher.publish(&job).await?;
        message.delivery.ack(BasicAckOptions::default()).await?;
        moved.push(job);
    }
    channel.close(200, "redriven".into()).await?;
    connection.close(200, "redriven".into()).await?;
    Ok(moved)
}
