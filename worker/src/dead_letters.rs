//! The dead-letter consumer: a job RabbitMQ gave up on (delivered `delivery_limit` times
//! without an answer, or rejected after its retry horizon) still closes its transaction, with
//! a failed verdict (712) and its `liveness.failed` event. The job's copy in `<queue>.dead`
//! stays for operators (`liveness jobs`).

use crate::consume::ack;
use crate::job;
use crate::Worker;
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use liveness_contract::RejectionCode;
use liveness_pipeline::queue::{self, Job};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

fn explanation(reason: &str) -> String {
    match reason {
        "delivery_limit" => {
            "the job was delivered to workers repeatedly without an answer (a worker died on it each time) and was dead-lettered".into()
        }
        "rejected" => "the job was dead-lettered after its retries ran out".into(),
        other => format!("the job was dead-lettered ({other})"),
    }
}

impl Worker {
    pub(crate) async fn consume_dead_letters(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let connection = queue::connect(&self.config.queue).await?;
        let channel = connection.create_channel().await?;
        queue::declare(&channel, &self.config.queue).await?;
        channel.basic_qos(4, BasicQosOptions::default()).await?;
        let events = queue::dead_letter_events_queue(&self.config.queue.queue);
        let mut consumer = channel
            .basic_consume(
                events.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let result = loop {
            tokio::select! {
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => self.close_dead_job(delivery).await,
                    Some(Err(e)) => break Err(e.into()),
                    None => break Err(anyhow::anyhow!("dead-letter consumer stream ended")),
                },
                _ = shutdown.changed() => break Ok(()),
            }
        };
        let _ = connection.close(200, "bye".into()).await;
        result
    }

    async fn close_dead_job(&self, delivery: Delivery) {
        metrics::counter!("worker_dead_letters_total").increment(1);
        let Ok(job) = serde_json::from_slice::<Job>(&delivery.data) else {
            // No transaction to close: the copy in the dead-letter queue is all there is.
            ack(&delivery).await;
            return;
        };
        let reason = queue::death(&delivery.properties)
            .0
            .unwrap_or_else(|| "unknown".into());
        let span = tracing::error_span!("dead_letter", transaction_id = job.transaction_id, reason = %reason);
        async {
            match job::record_failure(
                self,
                job,
                RejectionCode::UnknownError,
                &explanation(&reason),
            )
            .await
            {
                Ok(()) => {
                    tracing::error!("dead-lettered job closed with a failed verdict");
                    ack(&delivery).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record the failed verdict yet; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let _ = delivery
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..Default::default()
                        })
                        .await;
                }
            }
        }
        .instrument(span)
        .await
    }
}
