//! One job, start to verdict. Failures are classified where they happen: `Retry` (a
//! dependency is down: the message goes back to the queue after a backoff) or `Abort` (the
//! capture cannot be judged: a failed verdict is recorded and the message acknowledged).

use crate::decide::{decide, service_failure};
use crate::Worker;
use liveness_capture::{assess_packet, Submission};
use liveness_contract::RejectionCode;
use liveness_pipeline::queue::Job;
use liveness_pipeline::sessions::PgCaptureStores;
use liveness_pipeline::storage::StorageError;
use liveness_pipeline::{db, transactions};
use sha2::{Digest, Sha256};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("transient: {0}")]
    Retry(String),
    #[error("permanent ({code}): {reason}")]
    Abort { code: RejectionCode, reason: String },
}

fn from_db(e: sqlx::Error) -> JobError {
    if db::is_transient(&e) {
        JobError::Retry(format!("database: {e}"))
    } else {
        JobError::Abort {
            code: RejectionCode::UnknownError,
            reason: format!("database: {e}"),
        }
    }
}

fn from_storage(e: StorageError) -> JobError {
    match e {
        StorageError::NotFound(key) => JobError::Abort {
            code: RejectionCode::UnknownError,
            reason: format!("capture object {key} is missing"),
        },
        StorageError::Unavailable(_) => JobError::Retry(e.to_string()),
    }
}

/// The sealed packet as the producer received it. A transfer error is worth one more fetch;
/// an object that still differs is never judged, since its verdict would be about bytes the
/// client did not send: the client gets a failed verdict and can submit again.
async fn fetch_packet(worker: &Worker, key: &str, sha256: &[u8]) -> Result<Vec<u8>, JobError> {
    for attempt in 1..=2 {
        let packet = worker.storage.get(key).await.map_err(from_storage)?;
        if Sha256::digest(&packet).as_slice() == sha256 {
            return Ok(packet);
        }
        tracing::warn!(
            key,
            attempt,
            "stored capture differs from what was received"
        );
    }
    Err(JobError::Abort {
        code: RejectionCode::UnknownError,
        reason: format!("stored capture {key} differs from what was received"),
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub enum Outcome {
    Decided {
        valid: bool,
    },
    /// A verdict already existed (a redelivery after commit): nothing written.
    AlreadyDone,
}

pub async fn process(worker: &Worker, job: Job) -> Result<Outcome, JobError> {
    let started = Instant::now();
    let Some(started_job) = transactions::start(&worker.db, job.transaction_id)
        .await
        .map_err(from_db)?
    else {
        return Ok(Outcome::AlreadyDone);
    };
    if !started_job.tenant_enabled {
        return Err(JobError::Abort {
            code: RejectionCode::UnknownError,
            reason: "the tenant is disabled".into(),
        });
    }
    let tx = started_job.tx;

    // Both objects at once: fetching is waiting, not work.
    let selfie_fetch = async {
        match &tx.selfie_key {
            Some(key) => worker.storage.get(key).await.map(Some),
            None => Ok(None),
        }
    };
    let (packet, selfie) = tokio::join!(
        fetch_packet(worker, &tx.packet_key, &started_job.packet_sha256),
        selfie_fetch
    );
    let (packet, selfie) = (packet?, selfie.map_err(from_storage)?);
    let fetched = started.elapsed();

    let stores = PgCaptureStores {
        pool: &worker.db,
        tenant_id: tx.tenant_id,
        transaction_id: tx.id,
    };
    let id = tx.id.to_string();
    let submission = Submission {
        packet: &packet,
        selfie: selfie.as_deref(),
        id: &id,
    };
    let mut assessment = assess_packet(submission, &worker.keys, &worker.policy, &stores, now_ms())
        .await
        .map_err(|e| JobError::Retry(format!("capture stores: {e}")))?;
    let assessed = started.elapsed();

    // Every frame decoded once, on the inference pool and off the async threads: the pixels
    // serve the capture's frame checks and the face models alike.
    let frames: Vec<Vec<u8>> = assessment
        .payload
        .as_ref()
        .map(|p| p.frames.iter().map(|f| f.jpeg.clone()).collect())
        .unwrap_or_default();
    let engine = worker.engine.clone();
    let (decoded, analyses) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let decoded = engine.decode_many(&refs);
        let analyses = engine.analyze_decoded(&decoded);
        (decoded, analyses)
    })
    .await
    .map_err(|e| JobError::Abort {
        code: RejectionCode::EngineError,
        reason: format!("inference task failed: {e}"),
    })?;
    let views: Vec<Option<&image::RgbImage>> = decoded.iter().map(|d| d.as_ref().ok()).collect();
    assessment.check_frames(&views, &worker.policy);
    if let Some(failure) = analyses
        .iter()
        .filter_map(|a| a.rejection.as_ref())
        .find(|r| r.code == RejectionCode::ProcessingError)
    {
        return Err(JobError::Abort {
            code: RejectionCode::EngineError,
            reason: failure.detail.clone(),
        });
    }

    let mut verdict = decide(
        &assessment,
        &analyses,
        started_job.face_threshold,
        &worker.model_versions,
    );
    verdict.timings_ms = serde_json::json!({
        "fetch": fetched.as_secs_f64() * 1e3,
        "capture": (assessed - fetched).as_secs_f64() * 1e3,
        "faces": (started.elapsed() - assessed).as_secs_f64() * 1e3,
        "total": started.elapsed().as_secs_f64() * 1e3,
    });
    transactions::complete(&worker.db, tx.id, tx.tenant_id, tx.created_at, &verdict)
        .await
        .map_err(from_db)?;
    Ok(Outcome::Decided {
        valid: verdict.valid,
    })
}

/// Records a failed verdict for a job that cannot succeed.
pub async fn record_failure(
    worker: &Worker,
    job: Job,
    code: RejectionCode,
    reason: &str,
) -> Result<(), JobError> {
    let verdict = service_failure(code, reason, &worker.model_versions);
    let Some(tx) = transactions::by_id(&worker.db, job.transaction_id)
        .await
        .map_err(from_db)?
    else {
        return Ok(()); // nothing left to judge: the transaction itself is gone
    };
    transactions::complete(&worker.db, tx.id, tx.tenant_id, tx.created_at, &verdict)
        .await
        .map_err(from_db)
}
