//! The API's routes. Each handler is registered together with its OpenAPI description
//! (`utoipa_axum::routes!` reads the path and method from the handler's `#[utoipa::path]`),
//! so a route cannot be served without being documented; the few exceptions (preflights,
//! the submission's aliases) are added to the document in `crate::openapi` from the same
//! constants that route them.

pub mod health;
pub mod liveness;
pub mod origins;
pub mod sessions;
pub mod token;
pub mod transactions;
pub mod webhooks;

use crate::AppState;
use axum::routing::post;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes a browser page may call with a capture token, from an allowed origin (CORS).
pub const CAPTURE_ROUTES: [&str; 2] = [
    "/api/v3/biometrics/liveness/",
    "/api/v3/biometrics/liveness/keys",
];

/// The API's routes in the groups that get different layers.
pub struct Api {
    /// Submission and keys: CORS and the per-tenant submission rate.
    pub capture: OpenApiRouter<AppState>,
    /// Everything else under `/api/`.
    pub tenant: OpenApiRouter<AppState>,
    /// Health, readiness and metrics: outside the in-flight limit.
    pub operations: OpenApiRouter<AppState>,
}

pub fn api() -> Api {
    let mut capture = OpenApiRouter::new()
        .routes(routes!(sessions::keys))
        .routes(routes!(liveness::submit));
    for alias in liveness::SUBMIT_ALIASES {
        capture = capture.route(alias, post(liveness::submit));
    }
    for path in CAPTURE_ROUTES.iter().chain(&liveness::SUBMIT_ALIASES) {
        capture = capture.route(path, axum::routing::options(crate::cors::preflight));
    }
    let tenant = OpenApiRouter::new()
        .routes(routes!(token::issue))
        .routes(routes!(sessions::create))
        .routes(routes!(origins::get_allowed, origins::put_allowed))
        .routes(routes!(transactions::lookup))
        .routes(routes!(transactions::selfie))
        .routes(routes!(transactions::purge_capture))
        .routes(routes!(webhooks::list_endpoints, webhooks::create_endpoint))
        .routes(routes!(webhooks::disable_endpoint))
        .routes(routes!(webhooks::enable_endpoint))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(
            webhooks::get_allowed_hosts,
            webhooks::put_allowed_hosts
        ))
        .routes(routes!(webhooks::list_messages))
        .routes(routes!(webhooks::list_attempts))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(crate::openapi::document));
    let operations = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics));
    Api {
        capture,
        tenant,
        operations,
    }
}
