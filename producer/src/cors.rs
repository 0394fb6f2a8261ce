//! CORS for the capture routes only (submitting a capture, reading the keys): a tenant's
//! capture page on its own origin (`https://shop.example`) calls the API on another
//! (`https://liveness.shop.example`). Every other route is for back ends and sends no CORS
//! headers, so browsers keep other origins' pages from reading them.
//!
//! A preflight carries no token, so it is answered for an origin that any enabled tenant
//! allows; the request that follows is then held to its own token's tenant list, and refused
//! (403, no CORS headers) before the handler runs when that list lacks the origin. Never
//! `*`, never credentials (capture tokens travel in `Authorization`, not cookies).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use liveness_contract::ErrorCode;
use liveness_pipeline::db::origins::canonical;

const ALLOW_METHODS: &str = "GET, POST";
const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, prefer";
const EXPOSE_HEADERS: &str = "location, retry-after";
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

fn refused(origin: &str) -> ApiError {
    ApiError::Refused {
        code: ErrorCode::OriginNotAllowed,
        message: if origin.is_empty() {
            "a cross-origin request needs an Origin header".into()
        } else {
            "this web origin is not on the tenant's allowed origins (liveness tenant set --allow-origin)".into()
        },
    }
}

/// Origin and Host name the same host and port: the page was served by this service (the
/// demo), which needs no allow-list.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| !host.is_empty() && authority.eq_ignore_ascii_case(host))
}

fn origin_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or_default().to_string())
}

fn allow(response: &mut Response, origin: &str) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}

/// `OPTIONS` on a capture route.
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = origin_of(&headers).unwrap_or_default();
    let method_ok = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| m == "GET" || m == "POST");
    let allowed = match canonical(&origin) {
        Err(_) => false,
        Ok(_) if same_origin(&origin, &headers) => true,
        Ok(canonical) => {
            match liveness_pipeline::db::tenants::origin_allowed_by_any(&state.db, &canonical).await
            {
                Ok(allowed) => allowed,
                Err(e) => return ApiError::database(e).into_response(),
            }
        }
    };
    if !(allowed && method_ok) {
        let mut response = refused(&origin).into_response();
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        return response;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    allow(&mut response, &origin);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS),
    );
    headers.append(
        header::VARY,
        HeaderValue::from_static("access-control-request-method, access-control-request-headers"),
    );
    response
}

/// Every non-preflight request to a capture route.
pub async fn actual(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(origin) = origin_of(request.headers()) else {
        return next.run(request).await; // not from a browser page: server to server
    };
    if request.method() == Method::OPTIONS || same_origin(&origin, request.headers()) {
        return next.run(request).await;
    }
    let Ok(canonical) = canonical(&origin) else {
        return refused(&origin).into_response();
    };
    let (mut parts, body) = request.into_parts();
    // The handler's own extractor then finds this caller and does not verify the token again.
    let caller = Caller::from_request_parts(&mut parts, &state).await.ok();
    let allowed = match caller {
        Some(caller) => liveness_pipeline::db::tenants::get(&state.db, caller.tenant())
            .await
            .map(|t| t.is_some_and(|t| t.allowed_origins.contains(&canonical))),
        // No valid token (or a disabled tenant): the handler answers 401, readable by a page
        // of an origin some tenant allows (so it can tell an expired token from a network
        // failure).
        None => liveness_pipeline::db::tenants::origin_allowed_by_any(&state.db, &canonical).await,
    };
    match allowed {
        Err(e) => ApiError::database(e).into_response(),
        Ok(false) => refused(&origin).into_response(),
        Ok(true) => {
            let mut response = next.run(Request::from_parts(parts, body)).await;
            allow(&mut response, &origin);
            response
        }
    }
}
