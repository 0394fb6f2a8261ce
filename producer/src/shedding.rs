//! Load shedding: what one producer instance takes on is bounded, and the rest is refused at
//! once with a `Retry-After` (429 over a client's rate, 503 over the instance's capacity)
//! instead of queueing without bound. Every bound is per instance.

use crate::auth::Caller;
use crate::config::{RateLimit, SheddingConfig};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a client is asked to wait when the instance, not the client, is the limit.
const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

/// Forgotten keys are swept this often, so that a flood of made-up client ids cannot grow
/// the limiters' maps for ever.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// A rate per key, or nothing when the limit is off.
struct Limiter<K: Hash + Eq + Clone>(Option<DefaultKeyedRateLimiter<K>>);

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(limit: RateLimit) -> Self {
        Self(
            NonZeroU32::new(limit.per_second)
                .zip(NonZeroU32::new(limit.burst))
                .map(|(rate, burst)| {
                    DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
                }),
        )
    }

    fn check(&self, key: &K, route: &'static str) -> Result<(), ApiError> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            metrics::counter!("requests_shed_total", "reason" => "rate_limited", "route" => route)
                .increment(1);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after: wait.as_secs_f64().ceil() as u64,
            }
        })
    }

    fn sweep(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

pub struct Shedding {
    in_flight: Option<Arc<Semaphore>>,
    request_timeout: Duration,
    submissions: Limiter<i64>,
    token_clients: Limiter<String>,
    token_peers: Limiter<IpAddr>,
    hashing: Arc<Semaphore>,
    hash_wait: Duration,
}

impl Shedding {
    pub fn new(config: &SheddingConfig) -> Arc<Self> {
        let shedding = Arc::new(Self {
            in_flight: (config.max_in_flight > 0)
                .then(|| Arc::new(Semaphore::new(config.max_in_flight))),
            request_timeout: config.request_timeout,
            submissions: Limiter::new(config.submit_rate),
            token_clients: Limiter::new(config.token_rate),
            token_peers: Limiter::new(config.token_ip_rate),
            hashing: Arc::new(Semaphore::new(config.hash_slots())),
            hash_wait: config.hash_wait,
        });
        let weak = Arc::downgrade(&shedding);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_INTERVAL);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(shedding) = weak.upgrade() else {
                    return; // the application is gone
                };
                shedding.submissions.sweep();
                shedding.token_clients.sweep();
                shedding.token_peers.sweep();
            }
        });
        shedding
    }

    /// A token request, checked by its peer's address and then by the client id it names
    /// (unauthenticated, so anyone can spend a client's allowance; the per-address limit
    /// keeps one peer from spending all of them).
    pub fn admit_token_request(&self, peer: IpAddr, client_id: &str) -> Result<(), ApiError> {
        self.token_peers.check(&peer, "token")?;
        self.token_clients.check(&client_id.to_string(), "token")
    }

    /// A slot for one password verification (Argon2, ~19 MiB and tens of ms of a core), or
    /// 503 when none frees up within the short wait.
    pub async fn hashing_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(self.hash_wait, self.hashing.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("requests_shed_total", "reason" => "hashing", "route" => "token")
                    .increment(1);
                Err(ApiError::Overloaded {
                    retry_after: OVERLOADED_RETRY_AFTER_SECS,
                })
            }
        }
    }
}

/// The API routes (not health, readiness and metrics, which must answer under load): past
/// the in-flight limit a request is refused at once instead of waiting in line.
pub async fn limit_in_flight(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(in_flight) = &state.shedding.in_flight else {
        return next.run(request).await;
    };
    match in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            metrics::counter!("requests_shed_total", "reason" => "in_flight", "route" => "api")
                .increment(1);
            ApiError::Overloaded {
                retry_after: OVERLOADED_RETRY_AFTER_SECS,
            }
            .into_response()
        }
    }
}

/// A whole request, its upload included. Every dependency call is bounded well below this, so
/// what it cuts is in practice a client that sends its body too slowly.
pub async fn limit_duration(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.shedding.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("requests_shed_total", "reason" => "request_timeout", "route" => "api")
                .increment(1);
            ApiError::RequestTimeout(limit.as_secs()).into_response()
        }
    }
}

/// Submissions per tenant. Runs inside the CORS check, so a browser page can read the 429.
/// A request without a valid token passes through: its handler answers 401.
pub async fn limit_submissions(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // The handler's own extractor then finds this caller and does not verify the token again.
    if let Ok(caller) = Caller::from_request_parts(&mut parts, &state).await {
        if let Err(refused) = state.shedding.submissions.check(&caller.tenant(), "submit") {
            return refused.into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}
