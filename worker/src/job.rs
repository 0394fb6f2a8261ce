//! One job, start to verdict. Failures are classified where they happen: `Retry` (a
//! dependency is down: the message goes back to the queue after a backoff) or `Abort` (the
//! capture cannot be judged: a failed verdict is recorded and the message acknowledged).

use crate::decide::service_failure;
use crate::Worker;
use liveness_capture::{assess_packet, AssessError, Submission};
use liveness_contract::RejectionCode;
use liveness_pipeline::db::sessions::PgCaptureStores;
use liveness_pipeline::db::{self, transactions};
use liveness_pipeline::queue::Job;
use liveness_pipeline::storage::StorageError;
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
    let packet = fetch_packet(worker, &tx.packet_key, &started_job.packet_sha256).await?;
    let fetched = started.elapsed();

    let stores = PgCaptureStores {
        pool: &worker.db,
        tenant_id: tx.tenant_id,
        transaction_id: tx.id,
        bound_session: tx.capture_session.as_deref(),
    };
    let id = tx.id.to_string();
    let submission = Submission {
        packet: &packet,
        selfie_sha256: tx.selfie_sha256.as_deref().and_then(|d| d.try_into().ok()),
        id: &id,
        // Judged as of intake: time spent in the queue never counts against the capture.
        received_at_ms: tx.created_at.timestamp_millis().max(0) as u64,
    };
    let mut assessment = match assess_packet(submission, &worker.keys, &worker.policy, &stores)
        .await
    {
        Ok(assessment) => assessment,
        Err(AssessError::Store(e)) => return Err(JobError::Retry(format!("capture stores: {e}"))),
        // Intake checked this header against the producer's keys: the two disagree.
        Err(AssessError::Header(e)) => {
            return Err(JobError::Abort {
                code: RejectionCode::UnknownError,
                reason: format!("{e} (the worker's capture keys differ from the producer's)"),
            })
        }
    };
    let assessed = started.elapsed();

    let frames = crate::judge::admitted_frames(assessment.payload.as_ref(), worker.max_job_pixels);
    // A set this worker does not serve is an operator's configuration error, not the
    // client's: the capture gets a failed verdict (it can be sent again) and the log says why.
    let model_set = started_job.model_set.clone();
    if let Err(e) = worker.engine.model_set(model_set.as_deref()) {
        return Err(JobError::Abort {
            code: RejectionCode::EngineError,
            reason: e.to_string(),
        });
    }
    let engine = worker.engine.clone();
    let (judged, model_versions) = tokio::task::spawn_blocking(move || {
        let set = engine
            .model_set(model_set.as_deref())
            .expect("checked above; the engine's sets never change");
        let judged = crate::judge::analyze_frames(&engine, set, &frames);
        (judged, set.model_versions().clone())
    })
    .await
    .map_err(|e| JobError::Abort {
        code: RejectionCode::EngineError,
        reason: format!("inference task failed: {e}"),
    })?;
    let mut verdict = judged
        .verdict(
            &mut assessment,
            &worker.policy,
            started_job.face_threshold,
            &model_versions,
        )
        .map_err(|reason| JobError::Abort {
            code: RejectionCode::EngineError,
            reason,
        })?;
    let views = judged.views();
    let judged_at = started.elapsed();
    let selfie_key = keep_selfie(worker, &tx, &assessment, &views).await?;
    verdict.timings_ms = serde_json::json!({
        "fetch": fetched.as_secs_f64() * 1e3,
        "capture": (assessed - fetched).as_secs_f64() * 1e3,
        "faces": (judged_at - assessed).as_secs_f64() * 1e3,
        "selfie": (started.elapsed() - judged_at).as_secs_f64() * 1e3,
        "total": started.elapsed().as_secs_f64() * 1e3,
    });
    transactions::complete(
        &worker.db,
        tx.id,
        tx.tenant_id,
        tx.created_at,
        &verdict,
        selfie_key.as_deref(),
    )
    .await
    .map_err(from_db)?;
    Ok(Outcome::Decided {
        valid: verdict.valid,
    })
}

/// Stores the selfie the server chose (the middle sealed frame, as sealed: the bytes that were
/// judged), encrypted under the storage key, when the packet opened and that frame decodes.
/// Its key is derived from the packet's, so a redelivered job overwrites the same object.
async fn keep_selfie(
    worker: &Worker,
    tx: &transactions::TransactionRow,
    assessment: &liveness_capture::Assessment,
    views: &[Option<&image::RgbImage>],
) -> Result<Option<String>, JobError> {
    let Some(payload) = &assessment.payload else {
        return Ok(None);
    };
    let index = payload.selfie_index();
    let (Some(frame), Some(Some(_))) = (payload.frames.get(index), views.get(index)) else {
        return Ok(None);
    };
    let key = liveness_pipeline::storage::selfie_key(&tx.packet_key);
    let sealed = worker.storage_keys.seal(&key, &frame.jpeg);
    worker
        .storage
        .put_to(&tx.s3_bucket, &key, sealed)
        .await
        .map_err(from_storage)?;
    Ok(Some(key))
}

/// Records a failed verdict for a job that cannot succeed.
pub async fn record_failure(
    worker: &Worker,
    job: Job,
    code: RejectionCode,
    reason: &str,
) -> Result<(), JobError> {
    let verdict = service_failure(code, reason, worker.engine.default_set().model_versions());
    let Some(tx) = transactions::by_id(&worker.db, job.transaction_id)
        .await
        .map_err(from_db)?
    else {
        return Ok(()); // nothing left to judge: the transaction itself is gone
    };
    transactions::complete(
        &worker.db,
        tx.id,
        tx.tenant_id,
        tx.created_at,
        &verdict,
        None,
    )
    .await
    .map_err(from_db)
}
