//! `POST /api/v3/biometrics/liveness/`: a capture checked, stored, recorded and queued; what
//! happens to it afterwards is in `transactions`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::form::{read_form, Submission};
use crate::routes::transactions::{accepted, respond_existing, wait_and_render, Audience};
use crate::AppState;
use axum::extract::{Multipart, State};
use axum::http::HeaderMap;
use axum::response::Response;
use liveness_contract::api::{Accepted, SubmissionForm};
use liveness_contract::ErrorCode;
use liveness_contract::{ErrorBody, VerdictBody};
use liveness_pipeline::db::sessions::{self, Claim};
use liveness_pipeline::db::transactions::{self, Inserted, NewTransaction};
use liveness_pipeline::queue::Job;
use sha2::{Digest, Sha256};

fn fingerprint(packet_sha256: &[u8], s: &Submission) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(packet_sha256);
    h.update(Sha256::digest(s.selfie.as_deref().unwrap_or_default()));
    for field in [&s.citizen_id, &s.device, &s.webhook_url] {
        h.update(field.as_deref().unwrap_or_default().as_bytes());
        h.update([0]);
    }
    h.finalize().to_vec()
}

/// Other paths of the submission: without the trailing slash, and the path of the Liveness
/// Plus web example's submit code, so it works unchanged. Routed and documented from here.
pub const SUBMIT_ALIASES: [&str; 2] = [
    "/api/v3/biometrics/liveness",
    "/api/v3/biometrics/nationals/",
];

/// Submits a capture. The same handler serves [`SUBMIT_ALIASES`], documented alike.
#[utoipa::path(post, path = "/api/v3/biometrics/liveness/", tag = "liveness",
    summary = "Submit a capture; waits for the verdict unless asked to answer at once (202)",
    description = "With a capture token: once per session, and the verdict shows outcomes (scores 1/0) and the kind of problem only.",
    security(("bearer" = [])),
    params(
        ("Prefer" = Option<String>, Header, description = "`respond-async`: answer 202 at once"),
        ("Idempotency-Key" = Option<String>, Header, description = "1-255 visible ASCII characters: a retry with the same key and request gets the same transaction")),
    request_body(content = SubmissionForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The verdict (valid, or a rejection 700-715)", body = VerdictBody),
        (status = 202, description = "Accepted; look it up later", body = Accepted,
            headers(("Location" = String, description = "The transaction's lookup path"))),
        (status = 400, description = "No encrypted_file (missing_file), a malformed field (invalid_field, invalid_multipart, invalid_header), not a capture packet (invalid_packet) or sealed to an unknown key (unknown_key); nothing was stored", body = ErrorBody),
        (status = 409, description = "A capture token's session already has its capture (capture_already_submitted)", body = ErrorBody),
        (status = 413, description = "Over MAX_BODY_BYTES (payload_too_large)", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data (unsupported_media_type)", body = ErrorBody),
        (status = 422, description = "An Idempotency-Key reused for another request (idempotency_key_reused), or a webhook_url refused (webhook_url_refused, webhook_host_not_allowed, webhook_not_configured)", body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(ApiError::UnsupportedMediaType("multipart/form-data"));
    }
    let tenant = caller.tenant();
    let session = match &caller {
        Caller::Tenant(_) => None,
        Caller::Capture { session, .. } => Some(session.as_str()),
    };
    let form = form.map_err(|e| ApiError::refused(ErrorCode::InvalidMultipart, e.body_text()))?;
    let mut submission = read_form(form, state.config.max_body_bytes).await?;
    let packet = submission
        .encrypted_file
        .take()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::refused(
                ErrorCode::MissingFile,
                "encrypted_file is required and must not be empty",
            )
        })?;
    check_header(&state, &packet)?;
    let prefer_async = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
        });
    let respond_async = submission.respond_async || prefer_async;
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| {
            ApiError::refused(
                ErrorCode::InvalidHeader,
                "Idempotency-Key must be visible ASCII",
            )
        })?;
    if idempotency_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.len() > 255)
    {
        return Err(ApiError::refused(
            ErrorCode::InvalidHeader,
            "Idempotency-Key must be 1-255 characters",
        ));
    }
    if let Some(url) = &submission.webhook_url {
        if session.is_some() {
            return Err(ApiError::Refused {
                code: ErrorCode::InsufficientScope,
                message: "webhook_url is the back end's setting; a capture token cannot set it"
                    .into(),
            });
        }
        admit_override(&state, tenant, url).await?;
    }
    let audience = match session {
        None => Audience::BackEnd,
        Some(_) => Audience::Browser {
            face_threshold: liveness_pipeline::db::tenants::get(&state.db, tenant)
                .await
                .map_err(ApiError::database)?
                .ok_or(ApiError::Unauthorized("the tenant is disabled"))?
                .face_threshold,
        },
    };
    let packet_sha256 = Sha256::digest(&packet).to_vec();
    let fingerprint = fingerprint(&packet_sha256, &submission);

    // A retried request with the same key is answered from the first one, before storing.
    if let Some(key) = &idempotency_key {
        if let Some(existing) = transactions::by_idempotency_key(&state.db, tenant, key)
            .await
            .map_err(ApiError::database)?
        {
            return respond_existing(
                &state,
                existing,
                &fingerprint,
                &submission,
                respond_async,
                session,
                audience,
            )
            .await;
        }
    }
    // A capture token submits once: claimed before anything is stored, given back if the
    // submission is then not stored or not queued.
    if let Some(nonce) = session {
        match sessions::claim(&state.db, tenant, nonce)
            .await
            .map_err(ApiError::database)?
        {
            Claim::Claimed => {}
            Claim::AlreadySubmitted => {
                return Err(ApiError::Refused {
                    code: ErrorCode::CaptureAlreadySubmitted,
                    message: "this capture token has already submitted its capture; start a new \
                              session for another one"
                        .into(),
                })
            }
            Claim::Gone => return Err(ApiError::TokenExpired),
        }
    }

    let day = chrono::Utc::now().format("%Y/%m/%d");
    let object = uuid::Uuid::new_v4();
    let packet_key = format!("tenant-{tenant}/{day}/{object}.lvcp");
    // The selfie is not stored: the worker takes it from the sealed frames and only checks
    // that this one is the same image.
    let selfie_sha256 = submission
        .selfie
        .take()
        .map(|selfie| Sha256::digest(selfie).to_vec());
    let packet_bytes = packet.len() as i32;
    let cleanup_objects = || async {
        state.discard_capture(&packet_key);
        if let Some(nonce) = session {
            let _ = sessions::release(&state.db, tenant, nonce).await;
        }
    };
    if let Err(e) = state.put_capture(&packet_key, packet).await {
        tracing::error!(error = %e, "storing the capture failed");
        cleanup_objects().await;
        return Err(ApiError::Unavailable {
            component: "object storage",
        });
    }
    let new = NewTransaction {
        tenant_id: tenant,
        s3_bucket: &state.storage.bucket,
        packet_key: &packet_key,
        selfie_sha256: selfie_sha256.as_deref(),
        packet_sha256: &packet_sha256,
        packet_bytes,
        citizen_id: submission.citizen_id.as_deref(),
        device: submission.device.as_deref(),
        idempotency_key: idempotency_key.as_deref(),
        request_fingerprint: &fingerprint,
        webhook_url: submission.webhook_url.as_deref(),
        capture_session: session,
    };
    let id = match transactions::insert(&state.db, &new).await {
        Ok(Inserted::New(id)) => id,
        Ok(Inserted::Existing(existing)) => {
            // A concurrent request with the same key won the race.
            cleanup_objects().await;
            return respond_existing(
                &state,
                *existing,
                &fingerprint,
                &submission,
                respond_async,
                session,
                audience,
            )
            .await;
        }
        Err(e) => {
            cleanup_objects().await;
            return Err(ApiError::database(e));
        }
    };
    tracing::Span::current().record("transaction_id", id);

    if let Err(e) = state
        .publish(&Job {
            transaction_id: id,
            tenant_id: tenant,
        })
        .await
    {
        tracing::error!(error = %e, transaction_id = id, "queueing the job failed");
        metrics::counter!("queue_publish_failures_total").increment(1);
        // Undo, so that the client's retry is a clean new submission.
        match transactions::delete_unqueued(&state.db, id).await {
            Ok(true) => {
                cleanup_objects().await;
                return Err(ApiError::Unavailable {
                    component: "the message broker",
                });
            }
            // A worker has started it: the broker had the job after all (a confirm that timed
            // out), so the capture is accepted.
            Ok(false) => {
                tracing::warn!(
                    transaction_id = id,
                    "job delivered despite the failed confirm"
                )
            }
            // Not undone: the row and its objects stay, the reconciler queues the job and the
            // capture is judged (rather than failed for a missing object).
            Err(_) => {
                return Err(ApiError::Unavailable {
                    component: "the message broker",
                })
            }
        }
    } else if let Err(e) = transactions::mark_published(&state.db, id).await {
        // The job is queued; without the mark the reconciler queues it once more after its
        // grace, which the worker's idempotence makes harmless.
        tracing::warn!(error = %e, transaction_id = id, "recording the publish failed");
    }
    tracing::info!(transaction_id = id, "capture queued");
    if respond_async {
        return Ok(accepted(id, "queued"));
    }
    wait_and_render(
        &state,
        id,
        submission.details,
        submission.return_id,
        audience,
    )
    .await
}

/// The packet's clear-text header, checked before anything is stored: a file that is not a
/// capture packet, or one sealed to a key this service never issued, is the integration's
/// mistake and gets a 400 now, rather than an "attack" verdict later.
fn check_header(state: &AppState, packet: &[u8]) -> Result<(), ApiError> {
    let header = liveness_capture::inspect_header(packet).map_err(|e| {
        ApiError::refused(
            ErrorCode::InvalidPacket,
            format!("encrypted_file is not a capture packet: {e}"),
        )
    })?;
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    if !state.config.capture_keys.accepts(header.key_id, now_ms) {
        return Err(ApiError::refused(
            ErrorCode::UnknownKey,
            format!(
                "encrypted_file is sealed to key id {:?}, which this service does not accept \
                 (never issued, or retired); seal to the first key of \
                 GET /api/v3/biometrics/liveness/keys",
                header.key_id
            ),
        ));
    }
    Ok(())
}

/// A per-request `webhook_url` may only name a host the tenant allowed, and needs one of the
/// tenant's endpoints for the secret that signs it.
async fn admit_override(state: &AppState, tenant: i64, url: &str) -> Result<(), ApiError> {
    let parsed = crate::routes::webhooks::admit_url(state, url).await?;
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let settings = liveness_pipeline::db::tenants::get(&state.db, tenant)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::Unauthorized("this client is disabled"))?;
    if !settings.webhook_allowed_hosts.contains(&host) {
        return Err(ApiError::refused(
            ErrorCode::WebhookHostNotAllowed,
            format!("webhook_url host {host:?} is not in this client's allowed hosts"),
        ));
    }
    if !liveness_webhooks::endpoints::has_enabled(&state.db, tenant)
        .await
        .map_err(ApiError::database)?
    {
        return Err(ApiError::refused(
            ErrorCode::WebhookNotConfigured,
            "register a webhook endpoint first: its secret signs the events sent to webhook_url",
        ));
    }
    Ok(())
}
