//! Request ids: taken from API Gateway's context in Lambda, from a well-formed `x-request-id`
//! header otherwise, or minted. Each request runs inside a span carrying it, the id is echoed
//! in the `x-request-id` response header, and every error envelope includes it.

use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use oms_core::ports::{Clock, IdGenerator};
use tracing::Instrument;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one HTTP request, as the response's `x-request-id` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

impl RequestId {
    /// The id of the request being handled on this task, if any.
    pub fn current() -> Option<RequestId> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// The trace of what this request causes: the jobs it sends and the messages it
    /// publishes carry its id.
    pub fn trace(&self) -> oms_core::ports::Trace {
        oms_core::ports::Trace::request(&self.0)
    }

    fn acceptable(s: &str) -> bool {
        (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    }

    fn from_parts(req: &Request, minter: &Minter) -> RequestId {
        #[allow(irrefutable_let_patterns)]
        if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
            req.extensions()
                .get::<lambda_http::request::RequestContext>()
            && let Some(id) = ctx.request_id.as_deref().filter(|s| Self::acceptable(s))
        {
            return RequestId(id.to_owned());
        }
        if let Some(id) = req
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|s| Self::acceptable(s))
        {
            return RequestId(id.to_owned());
        }
        RequestId(format!("req_{}", minter.ids.ulid(minter.clock.now())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .or_else(RequestId::current)
            .unwrap_or_else(|| RequestId("unknown".into())))
    }
}

/// Mints the id of a request that arrives without one: `req_` and a ULID from the host's ids.
#[derive(Clone)]
pub struct Minter {
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
}

impl Minter {
    pub fn new(ids: Arc<dyn IdGenerator>, clock: Arc<dyn Clock>) -> Self {
        Self { ids, clock }
    }
}

/// Middleware (with a [`Minter`] as its state): assigns the id, runs the rest of the stack in
/// its span and task-local scope, logs one line per request, and sets the response header.
pub async fn middleware(State(minter): State<Minter>, mut req: Request, next: Next) -> Response {
    let id = RequestId::from_parts(&req, &minter);
    req.extensions_mut().insert(id.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, path = %path);
    let started = std::time::Instant::now();
    let mut res = CURRENT
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    res
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use oms_core::Timestamp;
    use oms_core::ports::{Clock, IdGenerator};

    use super::Minter;

    struct Counter(AtomicU64);

    impl IdGenerator for Counter {
        fn ulid(&self, _: Timestamp) -> String {
            format!("01J{:023}", self.0.fetch_add(1, Ordering::SeqCst))
        }
        fn secret(&self) -> String {
            String::new()
        }
    }

    struct Fixed;

    impl Clock for Fixed {
        fn now(&self) -> Timestamp {
            Timestamp::from_unix_millis(1_800_000_000_000)
        }
    }

    /// Request ids counted from 0, for the crate's own router tests.
    pub fn minter() -> Minter {
        Minter::new(Arc::new(Counter(AtomicU64::new(0))), Arc::new(Fixed))
    }
}
