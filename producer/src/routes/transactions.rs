//! A transaction once submitted: waiting for its verdict, answering with it or with 202, and
//! the tenant's reads and deletions of it (`GET /api/v3/biometrics/liveness/{id}`, its
//! `/selfie` and its `/capture`).

use crate::auth::TenantId;
use crate::error::ApiError;
use crate::form::Submission;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use liveness_contract::api::{Accepted, Lookup, Purged};
use liveness_contract::ErrorBody;
use liveness_contract::ErrorCode;
use liveness_pipeline::db::transactions::{self, TransactionRow};
use liveness_pipeline::retention;
use liveness_pipeline::verdict::{lookup_body, render_for_browser, verdict_body};

/// How the verdict is shown: in full to the tenant's back end, coarsely to a browser.
#[derive(Clone, Copy)]
pub(crate) enum Audience {
    BackEnd,
    Browser { face_threshold: f64 },
}

pub(crate) async fn respond_existing(
    state: &AppState,
    existing: TransactionRow,
    fingerprint: &[u8],
    s: &Submission,
    respond_async: bool,
    session: Option<&str>,
    audience: Audience,
) -> Result<Response, ApiError> {
    // A capture token's retry finds only its own session's submission: the tenant's other
    // idempotency keys are none of its business.
    if existing.request_fingerprint.as_deref() != Some(fingerprint)
        || existing.capture_session.as_deref() != session
    {
        return Err(ApiError::IdempotencyConflict);
    }
    if respond_async {
        return Ok(accepted(existing.id, &existing.status));
    }
    wait_and_render(state, existing.id, s.details, s.return_id, audience).await
}

pub(crate) fn accepted(id: i64, status: &str) -> Response {
    let location = format!("/api/v3/biometrics/liveness/{id}");
    (
        StatusCode::ACCEPTED,
        [("location", location)],
        Json(Accepted {
            id,
            status: status.to_owned(),
        }),
    )
        .into_response()
}

/// Waits for the verdict (woken by NOTIFY, no polling) up to the sync timeout; after that the
/// client gets 202 with the id to look up later.
pub(crate) async fn wait_and_render(
    state: &AppState,
    id: i64,
    details: bool,
    return_id: bool,
    audience: Audience,
) -> Result<Response, ApiError> {
    let woken = state.waiters.register(id);
    let verdict = match transactions::verdict(&state.db, id)
        .await
        .map_err(ApiError::database)?
    {
        Some(v) => Some(v),
        None => {
            let _ = tokio::time::timeout(state.config.sync_timeout, woken).await;
            transactions::verdict(&state.db, id)
                .await
                .map_err(ApiError::database)?
        }
    };
    state.waiters.forget(id);
    Ok(match verdict {
        Some(v) => Json(match audience {
            Audience::BackEnd => verdict_body(&v, id, details, return_id),
            Audience::Browser { face_threshold } => {
                render_for_browser(&v, id, details, return_id, face_threshold)
            }
        })
        .into_response(),
        None => accepted(id, "processing"),
    })
}

/// A transaction id from the path. Any id that is not ours, malformed included, is simply
/// not found: the answer tells a caller nothing about other tenants' ids.
fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound("transaction"))
}

/// The caller's transaction `id`, or 404.
async fn owned(state: &AppState, tenant: i64, id: i64) -> Result<TransactionRow, ApiError> {
    transactions::get(&state.db, tenant, id)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::NotFound("transaction"))
}

#[utoipa::path(get, path = "/api/v3/biometrics/liveness/{id}", tag = "liveness",
    summary = "A transaction: its status and, once judged, its verdict in full",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The transaction id")),
    responses(
        (status = 200, description = "The transaction", body = Lookup),
        (status = 404, description = "No such transaction for this client (not_found)", body = ErrorBody)))]
pub async fn lookup(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Json<Lookup>, ApiError> {
    let id = parse_id(&id)?;
    let row = owned(&state, tenant, id).await?;
    let verdict = transactions::verdict(&state.db, id)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(lookup_body(
        verdict.as_ref(),
        id,
        &row.status,
        row.created_at,
        row.purged_at,
    )))
}

/// `DELETE /api/v3/biometrics/liveness/{id}/capture`: deletes the sealed capture now (a
/// data-subject request); the verdict stays and lookups say the capture is gone.
#[utoipa::path(delete, path = "/api/v3/biometrics/liveness/{id}/capture", tag = "liveness",
    summary = "Delete the sealed capture now (data-subject request); the verdict stays",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The transaction id")),
    responses(
        (status = 200, description = "Deleted (or already gone)", body = Purged),
        (status = 404, description = "No such transaction for this client (not_found)", body = ErrorBody),
        (status = 409, description = "Still being judged (not_finished)", body = ErrorBody)))]
pub async fn purge_capture(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Json<Purged>, ApiError> {
    let id = parse_id(&id)?;
    let retention::TargetState { target, purged } = retention::target(&state.db, tenant, id)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::NotFound("transaction"))?;
    if !purged {
        if matches!(target.status.as_str(), "queued" | "processing") {
            return Err(ApiError::Refused {
                code: ErrorCode::NotFinished,
                message: "the capture is still being judged; delete it once the verdict is in"
                    .into(),
            });
        }
        retention::purge(
            &state.db,
            &state.storage,
            &state.config.pseudonym_key,
            &target,
            retention::Reason::Request,
        )
        .await
        .map_err(|e| match e {
            retention::PurgeError::Database(e) => ApiError::database(e),
            retention::PurgeError::Storage(e) => {
                tracing::error!(error = %e, "deleting the capture failed");
                ApiError::Unavailable {
                    component: "object storage",
                }
            }
        })?;
    }
    let row = owned(&state, tenant, id).await?;
    Ok(Json(Purged {
        id,
        capture_purged_at: row.purged_at.map(|at| at.to_rfc3339()),
    }))
}

/// `GET /api/v3/biometrics/liveness/{id}/selfie`: the image the server chose as the selfie
/// (the middle sealed frame, exactly as sealed and judged), for face matching by the tenant's
/// back end. Kept encrypted at rest; decrypted here only for the tenant that owns it.
#[utoipa::path(get, path = "/api/v3/biometrics/liveness/{id}/selfie", tag = "liveness",
    summary = "The selfie the server chose (the middle sealed frame, exactly as judged), for face matching",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The transaction id")),
    responses(
        (status = 200, description = "The frame (JPEG bytes)", body = String, content_type = "image/jpeg"),
        (status = 404, description = "No such transaction for this client (not_found), or no selfie: the packet did not open (no_selfie)", body = ErrorBody),
        (status = 409, description = "Still being judged (not_finished)", body = ErrorBody),
        (status = 410, description = "Deleted with the capture (capture_purged)", body = ErrorBody)))]
pub async fn selfie(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let row = owned(&state, tenant, id).await?;
    if row.purged_at.is_some() {
        return Err(ApiError::Refused {
            code: ErrorCode::CapturePurged,
            message: "the capture and its selfie were deleted (retention or on request)".into(),
        });
    }
    if matches!(row.status.as_str(), "queued" | "processing") {
        return Err(ApiError::Refused {
            code: ErrorCode::NotFinished,
            message: "the capture is still being judged; the selfie is there with the verdict"
                .into(),
        });
    }
    let key = row.selfie_key.ok_or_else(|| ApiError::Refused {
        code: ErrorCode::NoSelfie,
        message: "this capture has no selfie: its packet did not open, or its middle frame is \
                  not an image"
            .into(),
    })?;
    let sealed = state
        .storage
        .get_from(&row.s3_bucket, &key)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, transaction_id = id, "reading the selfie failed");
            match e {
                liveness_pipeline::storage::StorageError::NotFound(_) => ApiError::Internal,
                liveness_pipeline::storage::StorageError::Unavailable(_) => ApiError::Unavailable {
                    component: "object storage",
                },
            }
        })?;
    let jpeg = state.config.storage_keys.open(&key, &sealed).map_err(|e| {
        tracing::error!(error = %e, transaction_id = id, "opening the selfie failed");
        ApiError::Internal
    })?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/jpeg"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    )
        .into_response())
}
