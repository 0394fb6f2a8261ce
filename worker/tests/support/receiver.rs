//! A real webhook receiver in the test process: records every request and answers from a
//! script (then 200), can hang, and can go down and come back on the same port.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with a `Retry-After` header value.
    RetryAfter(u16, String),
    /// Never answer within the dispatcher's timeout.
    Hang(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub at: Instant,
    /// What this request was answered with (`None`: it hung).
    pub answered: Option<u16>,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    received: Vec<Received>,
    /// Requests whose answer has been sent (a hanging one only once it stops hanging).
    finished: usize,
}

pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    server: Option<JoinHandle<()>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let reply = inner.lock().unwrap().script.pop_front();
    let answered = match &reply {
        Some(Reply::Status(code)) | Some(Reply::RetryAfter(code, _)) => Some(*code),
        Some(Reply::Hang(_)) => None,
        None => Some(200),
    };
    inner.lock().unwrap().received.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
        answered,
    });
    let response = match reply {
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        Some(Reply::RetryAfter(code, after)) => (
            StatusCode::from_u16(code).unwrap(),
            [("retry-after", after)],
        )
            .into_response(),
        Some(Reply::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        None => StatusCode::OK.into_response(),
    };
    inner.lock().unwrap().finished += 1;
    response
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut receiver = Receiver {
            addr,
            inner: Arc::default(),
            server: None,
        };
        receiver.serve(listener);
        receiver
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(handle))
            .with_state(self.inner.clone());
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answers for the next requests, in order; 200 after that.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().unwrap().script.extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits (up to a minute) until an event of this type has arrived.
    pub async fn wait_for_event(&self, event_type: &str) {
        let needle = format!("\"{event_type}\"");
        super::wait_for(event_type, || async {
            self.received().iter().any(|r| r.body.contains(&needle))
        })
        .await
    }

    /// How many requests have been answered so far (hanging ones count once they end).
    pub fn finished(&self) -> usize {
        self.inner.lock().unwrap().finished
    }

    /// Stops listening: connections are refused until `up`.
    pub async fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    pub async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

/// Waits (up to two minutes) until every webhook message of the stack is delivered, then
/// checks there is one per verdict (`verdicts`) and the receiver saw each webhook-id; the
/// number of events.
pub async fn assert_every_event_delivered(
    stack: &super::Stack,
    receiver: &Receiver,
    verdicts: usize,
) -> usize {
    let wait = Instant::now() + Duration::from_secs(120);
    let messages: Vec<(String, String)> = loop {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, status::text FROM webhook_messages")
                .fetch_all(&stack.db)
                .await
                .unwrap();
        if rows.iter().all(|m| m.1 == "delivered") || Instant::now() > wait {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(messages.len(), verdicts, "one event per verdict");
    assert!(
        messages.iter().all(|m| m.1 == "delivered"),
        "undelivered: {messages:?}"
    );
    let seen: std::collections::HashSet<String> =
        receiver.received().into_iter().map(|r| r.id).collect();
    let expected: std::collections::HashSet<String> = messages.into_iter().map(|m| m.0).collect();
    assert_eq!(seen, expected, "the receiver saw every webhook-id");
    expected.len()
}

/// For each request, the indices of the secrets it verifies under, according to the official
/// Standard Webhooks libraries for Python and for Node.js, which must agree.
pub fn verify(secrets: &[&str], received: &[Received]) -> Vec<Vec<usize>> {
    let job = json!({
        "secrets": secrets,
        "requests": received.iter().map(|r| json!({
            "id": r.id, "timestamp": r.timestamp, "signature": r.signature, "body": r.body,
        })).collect::<Vec<_>>(),
    });
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let python = std::env::var("LIVENESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let by_python = run_verifier(
        std::process::Command::new(python).arg(format!("{root}/scripts/py/verify_webhooks.py")),
        &job,
    );
    let by_node = run_verifier(
        std::process::Command::new("node").arg(format!("{root}/web/test/verify-webhooks.mjs")),
        &job,
    );
    assert_eq!(
        by_python, by_node,
        "the Python and Node.js verifiers disagree"
    );
    by_python
}

fn run_verifier(command: &mut std::process::Command, job: &Value) -> Vec<Vec<usize>> {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the verifier runs (scripts/test installs python and node packages)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "verifier {command:?} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}
