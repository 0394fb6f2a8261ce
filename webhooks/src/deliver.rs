//! One signed HTTP attempt and what its result means for the message.

use crate::config::DispatcherConfig;
use crate::guard::AddressPolicy;
use crate::outbox::{Claimed, Disposition};
use crate::schedule::{next_delay, parse_retry_after};
use crate::signing::signature_header;
use chrono::Utc;
use liveness_pipeline::storage::at_rest::StorageKeys;
use reqwest::{StatusCode, Url};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What happened on the wire.
#[derive(Debug)]
pub struct Attempt {
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    /// Worth trying again (timeouts, connection errors, 429, 5xx).
    pub transient: bool,
}

/// An HTTP client that connects only where the address policy allows, follows no redirects
/// (a redirect could lead anywhere) and ignores proxy settings.
pub fn http_client(config: &DispatcherConfig) -> reqwest::Result<reqwest::Client> {
    let policy = AddressPolicy {
        allow_private: config.allow_private,
    };
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(policy))
        .user_agent(concat!("liveness-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub async fn attempt(
    client: &reqwest::Client,
    config: &DispatcherConfig,
    keys: &StorageKeys,
    message: &Claimed,
) -> Attempt {
    let started = Instant::now();
    let failed = |error: String, transient: bool| Attempt {
        status_code: None,
        latency: started.elapsed(),
        error: Some(error),
        retry_after: None,
        transient,
    };
    let url = match Url::parse(&message.url) {
        Ok(url) => url,
        Err(e) => return failed(format!("invalid URL: {e}"), false),
    };
    let policy = AddressPolicy {
        allow_private: config.allow_private,
    };
    if let Err(e) = policy.check(&url).await {
        // DNS may come back; a private address will not turn public by waiting.
        let transient = matches!(e, crate::guard::GuardError::Unresolvable { .. });
        return failed(e.to_string(), transient);
    }
    let timestamp = Utc::now().timestamp();
    let secrets = match message.secrets.signing(keys, message.endpoint_id) {
        Ok(secrets) => secrets,
        // Transient: the operator can add the missing key (LIVENESS_WEBHOOK_KEYS) and the
        // message goes out on a later attempt.
        Err(e) => return failed(e.to_string(), true),
    };
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = match signature_header(&secrets, &message.id, timestamp, &message.body) {
        Ok(s) => s,
        Err(e) => return failed(format!("cannot sign: {e}"), false),
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &message.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(message.body.clone())
        .send()
        .await;
    match sent {
        Err(e) => failed(error_chain(&e), true),
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            Attempt {
                status_code: Some(status.as_u16()),
                latency: started.elapsed(),
                error: (!status.is_success()).then(|| format!("HTTP {status}")),
                retry_after,
                transient: status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT
                    || status.is_server_error(),
            }
        }
    }
}

/// What to do with the message after this attempt.
pub fn disposition(config: &DispatcherConfig, message: &Claimed, attempt: &Attempt) -> Disposition {
    match attempt.status_code {
        Some(code) if (200..300).contains(&code) => return Disposition::Delivered,
        Some(410) => return Disposition::EndpointGone,
        _ => {}
    }
    if !attempt.transient {
        return Disposition::Failed;
    }
    match next_delay(
        config,
        message.attempts as u32 + 1,
        attempt.retry_after,
        message.retry_from,
        Utc::now(),
    ) {
        Some(delay) => Disposition::Retry(delay),
        None => Disposition::Failed,
    }
}

/// "error sending request: ... : connection refused", not just the outermost layer.
fn error_chain(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
