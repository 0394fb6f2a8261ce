//! The queues and exchange behind one job queue name, and their declaration.
//!
//! ```text
//! producer ──► <name> ──► worker ──(transient failure)──► <name>.retry.<ms> ──(TTL)──┐
//!                ▲  │                                                                 │
//!                └──┼─────────────────────────────────────────────────────────────────┘
//!                   └─(rejected, or delivered `delivery_limit` times)──► <name>.dlx (fanout)
//!                                                             ├──► <name>.dead         (kept for operators: `liveness jobs`)
//!                                                             └──► <name>.dead.events  (the worker records a failed verdict)
//! ```

use super::QueueError;
use crate::config::QueueConfig;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};
use std::time::Duration;

pub fn dead_letter_exchange(queue: &str) -> String {
    format!("{queue}.dlx")
}

/// Dead letters as they died, for operators to list and redrive.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

/// A copy of every dead letter, consumed by the workers to close the transaction with a
/// failed verdict; the copy in `dead_letter_queue` stays.
pub fn dead_letter_events_queue(queue: &str) -> String {
    format!("{queue}.dead.events")
}

/// Where a job waits `delay` before it returns to `queue`.
pub fn retry_queue(queue: &str, delay: Duration) -> String {
    format!("{queue}.retry.{}", delay.as_millis())
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// Quorum queues (replicated, and durable on a single node) that dead-letter at least once.
/// A quorum queue dead-letters at most once by default: RabbitMQ documents that a message
/// whose dead-lettering fails is then dropped, and a poison job is exactly the one an operator
/// wants to inspect. At least once keeps it until the target has confirmed it; RabbitMQ
/// requires reject-publish overflow for that strategy.
fn quorum(dead_letter_exchange: Option<&str>) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    if let Some(exchange) = dead_letter_exchange {
        args.insert("x-dead-letter-exchange".into(), long_string(exchange));
        args.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
        args.insert("x-overflow".into(), long_string("reject-publish"));
    }
    args
}

/// Declares the work queue, its delay queues and its dead letters. Idempotent; both sides
/// call it.
pub async fn declare(channel: &Channel, config: &QueueConfig) -> Result<(), QueueError> {
    let dlx = dead_letter_exchange(&config.queue);
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
    for dead in [
        dead_letter_queue(&config.queue),
        dead_letter_events_queue(&config.queue),
    ] {
        channel
            .queue_declare(dead.as_str().into(), durable, quorum(None))
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
    }
    let mut work = quorum(Some(&dlx));
    work.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongUInt(config.delivery_limit),
    );
    channel
        .queue_declare(config.queue.as_str().into(), durable, work)
        .await?;
    // A delay queue has no consumer: its messages expire after the delay and are
    // dead-lettered through the default exchange straight back to the work queue. One queue
    // per delay, since a queue expires messages only from its head.
    for delay in distinct(&config.retry_delays) {
        let mut args = quorum(Some(""));
        args.insert(
            "x-dead-letter-routing-key".into(),
            long_string(&config.queue),
        );
        args.insert(
            "x-message-ttl".into(),
            AMQPValue::LongUInt(delay.as_millis().min(u32::MAX as u128) as u32),
        );
        channel
            .queue_declare(
                retry_queue(&config.queue, delay).as_str().into(),
                durable,
                args,
            )
            .await?;
    }
    Ok(())
}

fn distinct(delays: &[Duration]) -> Vec<Duration> {
    let mut delays = delays.to_vec();
    delays.sort();
    delays.dedup();
    delays
}

/// Deletes every queue and the exchange of `config.queue`, with whatever they hold: for test
/// and benchmark rigs that made their own.
pub async fn remove(config: &QueueConfig) -> Result<(), QueueError> {
    let connection = super::connect(config).await?;
    let channel = connection.create_channel().await?;
    let mut queues = vec![
        config.queue.clone(),
        dead_letter_queue(&config.queue),
        dead_letter_events_queue(&config.queue),
    ];
    queues.extend(
        distinct(&config.retry_delays)
            .into_iter()
            .map(|d| retry_queue(&config.queue, d)),
    );
    for queue in queues {
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
