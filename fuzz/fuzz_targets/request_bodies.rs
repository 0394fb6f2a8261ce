//! The HTTP edge's own parsing: arbitrary bytes as the submission's multipart body (read by
//! the producer's form reader, limits included) and as the token request's credentials (JSON
//! and URL-encoded). Neither may panic, and every refusal must be a client error (4xx).
#![no_main]

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use liveness_producer::form::{credentials, read_form};

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // First byte picks the boundary length, so boundaries found in the corpus stay stable.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize % 16 + 1).min(rest.len());
    let (boundary, body) = rest.split_at(n);
    let Ok(boundary) = std::str::from_utf8(boundary) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let Ok(request) = Request::builder()
            .method("POST")
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body.to_vec()))
        else {
            return;
        };
        if let Ok(form) = Multipart::from_request(request, &()).await {
            if let Err(e) = read_form(form, LIMIT).await {
                assert!(e.status().is_client_error(), "{e:?}");
            }
        }
    });
    for content_type in ["application/json", "application/x-www-form-urlencoded"] {
        if let Err(e) = credentials(content_type, body) {
            assert!(e.status().is_client_error(), "{e:?}");
        }
    }
});
