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
use liveness_webhooks::endpoints::{self, EndpointError};
use liveness_webhooks::guard::AddressPolicy;
use liveness_webhooks::outbox::{self, Redelivery};
use liveness_webhooks::secrets::SecretError;
use liveness_webhooks::Url;
use serde::Deserialize;
use serde_json::{json, Value};

fn endpoint_error(e: EndpointError) -> ApiError {
    match e {
        EndpointError::Database(e) => ApiError::database(e),
        EndpointError::Duplicate => ApiError::Conflict {
            code: "endpoint_exists",
            message: e.to_string(),
        },
        other => ApiError::unprocessable("webhook_url_refused", other.to_string()),
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
    .map_err(|e| ApiError::unprocessable("webhook_url_refused", e.to_string()))?;
    Ok(parsed)
}

pub async fn list_endpoints(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Value>, ApiError> {
    let list = endpoints::list(&state.db, tenant)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(json!({ "endpoints": list })))
}

#[derive(Deserialize)]
pub struct NewEndpoint {
    url: String,
}

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
    let mut out = json!(endpoint);
    out["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

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

pub async fn rotate_secret(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "id": id,
        "secret": secret,
        "previous_expires_at": previous_expires_at.to_rfc3339(),
    })))
}

#[derive(Deserialize)]
pub struct AllowedHosts {
    hosts: Vec<String>,
}

pub async fn get_allowed_hosts(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
) -> Result<Json<Value>, ApiError> {
    let tenant = liveness_pipeline::tenants::get(&state.db, tenant)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::Unauthorized("this client is disabled"))?;
    Ok(Json(json!({ "hosts": tenant.webhook_allowed_hosts })))
}

pub async fn put_allowed_hosts(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    body: Result<Json<AllowedHosts>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(ApiError::json)?;
    if body.hosts.len() > 64
        || body
            .hosts
            .iter()
            .any(|h| h.is_empty() || h.len() > 253 || h.contains(['/', ':', '@', ' ', '\0']))
    {
        return Err(ApiError::bad_request(
            "invalid_hosts",
            "hosts must be up to 64 bare host names (no scheme, port or path)",
        ));
    }
    liveness_pipeline::tenants::set_webhook_allowed_hosts(&state.db, tenant, &body.hosts)
        .await
        .map_err(ApiError::database)?;
    get_allowed_hosts(State(state), TenantId(tenant)).await
}

#[derive(Deserialize)]
pub struct MessageFilter {
    transaction_id: Option<i64>,
    limit: Option<i64>,
}

pub async fn list_messages(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    filter: Result<Query<MessageFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(filter) =
        filter.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let messages = outbox::messages(&state.db, tenant, filter.transaction_id, limit)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(json!({ "messages": messages })))
}

pub async fn list_attempts(
    State(state): State<AppState>,
    TenantId(tenant): TenantId,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !outbox::is_message_id(&id) {
        return Err(ApiError::NotFound("webhook message"));
    }
    let attempts = outbox::attempts(&state.db, tenant, &id)
        .await
        .map_err(ApiError::database)?
        .ok_or(ApiError::NotFound("webhook message"))?;
    Ok(Json(json!({ "id": id, "attempts": attempts })))
}

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
            Json(json!({ "id": id, "status": "pending" })),
        )
            .into_response()),
        Redelivery::NotFound => Err(ApiError::NotFound("webhook message")),
        Redelivery::EndpointDisabled => Err(ApiError::Conflict {
            code: "endpoint_disabled",
            message: "the message's endpoint is disabled; enable it first".into(),
        }),
    }
}
