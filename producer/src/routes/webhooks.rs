//! `/api/v3/webhooks/...`: a tenant manages its endpoints and secrets, the hosts a
//! per-request `webhook_url` may name, and sees and redoes deliveries.

use crate::auth::TenantId;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use liveness_contract::api::{Hosts, NewEndpoint, Redelivery as Redelivered, RotatedSecret};
use liveness_contract::webhooks::{AttemptList, CreatedEndpoint, EndpointList, MessageList};
use liveness_contract::ErrorBody;
use liveness_contract::ErrorCode;
use liveness_webhooks::endpoints::{self, EndpointError};
use liveness_webhooks::guard::AddressPolicy;
use liveness_webhooks::outbox::{self, Redelivery};
use liveness_webhooks::secrets::SecretError;
use liveness_webhooks::Url;
use serde::Deserialize;
use utoipa::IntoParams;

fn endpoint_error(e: EndpointError) -> ApiError {
    match e {
        EndpointError::Database(e) => ApiError::database(e),
        EndpointError::Duplicate => ApiError::Refused {
            code: ErrorCode::EndpointExists,
            message: e.to_string(),
        },
        other => ApiError::refused(ErrorCode::WebhookUrlRefused, other.to_string()),
    }
}

fn endpoint_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound("endpoint"))
}

/// Checks where a tenant-supplied URL points, as the dispatcher will.
pub async fn admit_url(state: &AppState, url: &str) -> Result<Url, ApiError> {
    let parsed = endpoints::parse_url(url).map_err(endpoint_error)?;
    AddressPolicy {
        allow_private: state.config.webhook_allow_private,
    }
    .check(&parsed)
    .await
    .map_err(|e| ApiError::refused(ErrorCode::WebhookUrlRefused, e.to_string()))?;
    Ok(parsed)
}

#[utoipa::path(get, path = "/api/v3/webhooks/endpoints", tag = "webhooks",
    summary = "This tenant's webhook endpoints (never their secrets)",
    security(("bearer" = [])),
    responses((status = 200, description = "The endpoints", body = EndpointList)))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<EndpointList>, ApiError> {
    let list = endpoints::list(&state.db, tenant)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(EndpointList { endpoints: list }))
}

#[utoipa::path(post, path = "/api/v3/webhooks/endpoints", tag = "webhooks",
    summary = "Register an endpoint; the answer holds its signing secret, shown once",
    security(("bearer" = [])),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "Registered", body = CreatedEndpoint),
        (status = 400, description = "Malformed body (invalid_json)", body = ErrorBody),
        (status = 409, description = "Already registered (endpoint_exists)", body = ErrorBody),
        (status = 415, description = "Not JSON (unsupported_media_type)", body = ErrorBody),
        (status = 422, description = "A malformed URL or a refused address (webhook_url_refused)", body = ErrorBody)))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    body: Result<Json<NewEndpoint>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(ApiError::json)?;
    let url = admit_url(&state, &body.url).await?;
    let (endpoint, secret) =
        endpoints::create(&state.db, &state.config.webhook_keys, tenant, url.as_str())
            .await
            .map_err(endpoint_error)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint,
            secret: secret.to_string(),
        }),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/v3/webhooks/endpoints/{id}", tag = "webhooks",
    summary = "Disable an endpoint (its pending messages fail)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 204, description = "Disabled"),
        (status = 404, description = "No such endpoint (not_found)", body = ErrorBody)))]
pub async fn disable_endpoint(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = endpoint_id(&id)?;
    match endpoints::disable(&state.db, tenant, id, "removed by the tenant").await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound("endpoint")),
        Err(e) => Err(ApiError::database(e)),
    }
}

#[utoipa::path(post, path = "/api/v3/webhooks/endpoints/{id}/enable", tag = "webhooks",
    summary = "Enable an endpoint again",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 204, description = "Enabled"),
        (status = 404, description = "No such endpoint (not_found)", body = ErrorBody)))]
pub async fn enable_endpoint(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = endpoint_id(&id)?;
    match endpoints::enable(&state.db, tenant, id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound("endpoint")),
        Err(e) => Err(ApiError::database(e)),
    }
}

#[utoipa::path(post, path = "/api/v3/webhooks/endpoints/{id}/rotate", tag = "webhooks",
    summary = "A new signing secret; the previous one keeps signing for a grace period",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        (status = 404, description = "No such endpoint (not_found)", body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let id = endpoint_id(&id)?;
    let (secret, previous_expires_at) = endpoints::rotate(
        &state.db,
        &state.config.webhook_keys,
        tenant,
        id,
        state.config.webhook_rotation_grace,
    )
    .await
    .map_err(|e| match e {
        SecretError::Database(e) => ApiError::database(e),
        // The operator's key configuration, not the tenant's request: logged in full,
        // answered without the details.
        other => {
            tracing::error!(error = %other, "rotating a webhook secret failed");
            ApiError::Internal
        }
    })?
    .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(Json(RotatedSecret {
        id,
        secret: secret.to_string(),
        previous_expires_at: previous_expires_at.to_rfc3339(),
    }))
}

#[utoipa::path(get, path = "/api/v3/webhooks/allowed-hosts", tag = "webhooks",
    summary = "Hosts a per-request webhook_url may name",
    security(("bearer" = [])),
    responses((status = 200, description = "The hosts", body = Hosts)))]
pub async fn get_allowed_hosts(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Hosts>, ApiError> {
    let tenant = liveness_pipeline::db::tenants::get(&state.db, tenant)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::Unauthorized("this client is disabled"))?;
    Ok(Json(Hosts {
        hosts: tenant.webhook_allowed_hosts,
    }))
}

#[utoipa::path(put, path = "/api/v3/webhooks/allowed-hosts", tag = "webhooks",
    summary = "Replace the allowed hosts",
    security(("bearer" = [])),
    request_body = Hosts,
    responses(
        (status = 200, description = "The hosts now allowed", body = Hosts),
        (status = 400, description = "Malformed body (invalid_json) or hosts (invalid_hosts)", body = ErrorBody),
        (status = 415, description = "Not JSON (unsupported_media_type)", body = ErrorBody)))]
pub async fn put_allowed_hosts(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    body: Result<Json<Hosts>, JsonRejection>,
) -> Result<Json<Hosts>, ApiError> {
    let Json(body) = body.map_err(ApiError::json)?;
    if body.hosts.len() > 64
        || body
            .hosts
            .iter()
            .any(|h| h.is_empty() || h.len() > 253 || h.contains(['/', ':', '@', ' ', '\0']))
    {
        return Err(ApiError::refused(
            ErrorCode::InvalidHosts,
            "hosts must be up to 64 bare host names (no scheme, port or path)",
        ));
    }
    liveness_pipeline::db::tenants::set_webhook_allowed_hosts(&state.db, tenant, &body.hosts)
        .await
        .map_err(ApiError::database)?;
    get_allowed_hosts(State(state), TenantId(tenant)).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageFilter {
    /// Only this transaction's messages.
    transaction_id: Option<i64>,
    /// At most this many (1-1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v3/webhooks/messages", tag = "webhooks",
    summary = "Webhook messages, newest first",
    security(("bearer" = [])),
    params(MessageFilter),
    responses(
        (status = 200, description = "The messages", body = MessageList),
        (status = 400, description = "Malformed query (invalid_query)", body = ErrorBody)))]
pub async fn list_messages(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    filter: Result<Query<MessageFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MessageList>, ApiError> {
    let Query(filter) =
        filter.map_err(|e| ApiError::refused(ErrorCode::InvalidQuery, e.body_text()))?;
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let messages = outbox::messages(&state.db, tenant, filter.transaction_id, limit)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(MessageList { messages }))
}

#[utoipa::path(get, path = "/api/v3/webhooks/messages/{id}/attempts", tag = "webhooks",
    summary = "Every delivery attempt of a message",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook-id")),
    responses(
        (status = 200, description = "The attempts", body = AttemptList),
        (status = 404, description = "No such message (not_found)", body = ErrorBody)))]
pub async fn list_attempts(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Json<AttemptList>, ApiError> {
    if !outbox::is_message_id(&id) {
        return Err(ApiError::NotFound("webhook message"));
    }
    let attempts = outbox::attempts(&state.db, tenant, &id)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::NotFound("webhook message"))?;
    Ok(Json(AttemptList { id, attempts }))
}

#[utoipa::path(post, path = "/api/v3/webhooks/messages/{id}/redeliver", tag = "webhooks",
    summary = "Send a message again (same webhook-id, a fresh retry schedule)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook-id")),
    responses(
        (status = 202, description = "Scheduled", body = Redelivered),
        (status = 404, description = "No such message (not_found)", body = ErrorBody),
        (status = 409, description = "Its endpoint is disabled (endpoint_disabled)", body = ErrorBody)))]
pub async fn redeliver(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !outbox::is_message_id(&id) {
        return Err(ApiError::NotFound("webhook message"));
    }
    match outbox::redeliver(&state.db, tenant, &id)
        .await
        .map_err(ApiError::database)?
    {
        Redelivery::Scheduled => Ok((
            StatusCode::ACCEPTED,
            Json(Redelivered {
                id,
                status: "pending".into(),
            }),
        )
            .into_response()),
        Redelivery::NotFound => Err(ApiError::NotFound("webhook message")),
        Redelivery::EndpointDisabled => Err(ApiError::Refused {
            code: ErrorCode::EndpointDisabled,
            message: "the message's endpoint is disabled; enable it first".into(),
        }),
    }
}
