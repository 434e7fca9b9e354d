//! A minimal AWS Lambda Runtime API on loopback: what a function's runtime client talks to
//! between `exec` and its first answer. One emulator serves one process: it hands out a fixed
//! list of invocations in order through `GET …/invocation/next`, and reports every answer
//! (`…/response`, `…/error`, `…/init/error`) with the instant it arrived. A fresh emulator per
//! process means a killed process's dangling poll can never take another start's event.
//!
//! Only what the official runtime clients use is served: the `next` headers
//! `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and `-Trace-Id`,
//! and `202 Accepted` for every report, as the real API answers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";
pub const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

/// One event for the function, with what the `next` headers say about it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub event: Vec<u8>,
    /// Unix milliseconds at which the invocation times out.
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
}

impl Invocation {
    /// An invocation of `function_arn` with `event`, timing out `timeout_ms` from now; the
    /// request and trace ids are fresh and shaped like Lambda's.
    pub fn new(function_arn: &str, event: Vec<u8>, timeout_ms: u64) -> Self {
        let now = unix_millis();
        Self {
            request_id: request_id(),
            event,
            deadline_ms: now + timeout_ms,
            function_arn: function_arn.to_owned(),
            trace_id: format!(
                "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
                now / 1000,
                u128::from(unique()) << 32 | u128::from(std::process::id()),
                unique()
            ),
        }
    }
}

/// What the function reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// `POST …/invocation/{id}/response`
    Response,
    /// `POST …/invocation/{id}/error`
    Error,
    /// `POST /runtime/init/error`: the function failed before asking for an event.
    InitError,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    /// `None` for an init error.
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Function-Error-Type`, when an error names one.
    pub error_type: Option<String>,
    pub body: Bytes,
    /// When the report's request reached the emulator.
    pub at: Instant,
}

impl Outcome {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

struct Shared {
    pending: Mutex<VecDeque<Invocation>>,
    /// Request ids handed out and not yet answered.
    open: Mutex<Vec<String>>,
    first_poll: OnceLock<Instant>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    closed: watch::Receiver<()>,
}

/// A running emulator; dropping it stops the server and ends any poll still waiting.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    _close: watch::Sender<()>,
}

impl Emulator {
    /// Binds a free port on 127.0.0.1 and serves `invocations`, in order.
    pub async fn start(invocations: Vec<Invocation>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, outcomes) = mpsc::unbounded_channel();
        let (close, closed) = watch::channel(());
        let shared = Arc::new(Shared {
            pending: Mutex::new(invocations.into()),
            open: Mutex::new(Vec::new()),
            first_poll: OnceLock::new(),
            outcomes: tx,
            closed: closed.clone(),
        });
        let app = Router::new()
            .route(NEXT, get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route(INIT_ERROR, post(init_error))
            .with_state(shared.clone());
        let mut stop = closed;
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            });
            if let Err(e) = serve.await {
                eprintln!("runtime API emulator stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            shared,
            outcomes,
            _close: close,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`host:port`, no scheme).
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an event: its init was done.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }

    /// The next report, in arrival order (cancel-safe).
    pub async fn next_outcome(&mut self) -> Option<Outcome> {
        self.outcomes.recv().await
    }
}

fn header(v: impl AsRef<str>) -> HeaderValue {
    HeaderValue::from_str(v.as_ref()).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    let _ = s.first_poll.set(Instant::now());
    let popped = s.pending.lock().map(|mut q| q.pop_front()).ok().flatten();
    let Some(inv) = popped else {
        // No more events: like a frozen sandbox, hold the poll until the process is killed or
        // the emulator stops.
        let mut closed = s.closed.clone();
        let _ = closed.changed().await;
        return StatusCode::GONE.into_response();
    };
    if let Ok(mut open) = s.open.lock() {
        open.push(inv.request_id.clone());
    }
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("lambda-runtime-aws-request-id", header(&inv.request_id));
    headers.insert(
        "lambda-runtime-deadline-ms",
        header(inv.deadline_ms.to_string()),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header(&inv.function_arn),
    );
    headers.insert("lambda-runtime-trace-id", header(&inv.trace_id));
    (StatusCode::OK, headers, inv.event).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

/// Records a report for `id` if it is an open invocation; the real API refuses unknown ids.
fn report(s: &Shared, id: String, report: Report, headers: &HeaderMap, body: Bytes) -> Response {
    let at = Instant::now();
    let known = s
        .open
        .lock()
        .map(|mut open| match open.iter().position(|o| *o == id) {
            Some(i) => {
                open.swap_remove(i);
                true
            }
            None => false,
        })
        .unwrap_or(false);
    if !known {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
            ),
        )
            .into_response();
    }
    let _ = s.outcomes.send(Outcome {
        report,
        request_id: Some(id),
        error_type: error_type(headers),
        body,
        at,
    });
    accepted()
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn response(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    report(&s, id, Report::Response, &headers, body)
}

async fn error(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    report(&s, id, Report::Error, &headers, body)
}

async fn init_error(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let _ = s.outcomes.send(Outcome {
        report: Report::InitError,
        request_id: None,
        error_type: error_type(&headers),
        body,
        at: Instant::now(),
    });
    accepted()
}

pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A number no other call in this process returns: a counter mixed with the clock.
fn unique() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    (n << 32) ^ u64::from(nanos)
}

/// A UUID-shaped request id, as Lambda sends.
fn request_id() -> String {
    let a = unique();
    let b = unix_millis() ^ u64::from(std::process::id()) << 40;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a as u32,
        (a >> 32) as u16,
        (b >> 48) & 0xfff,
        (b >> 36) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}
