//! The application state every handler shares, and [`mount`], which wraps a Lambda's routes in
//! the common stack. A Lambda serves `mount(its routes)`; the dev server serves `mount` of all
//! of them merged — the same routers either way.

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oms_core::app::Services;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::identity::IdentitySource;
use crate::request_id;

/// What every handler shares: the ports, and how this host identifies callers and mounts the API.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub identity: IdentitySource,
    /// Where the routes are nested (`/api/v1`).
    pub api_prefix: String,
    /// How far a Stripe signature's timestamp may be from now.
    pub stripe_tolerance: std::time::Duration,
}

impl FromRef<AppState> for IdentitySource {
    fn from_ref(state: &AppState) -> Self {
        state.identity.clone()
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on our side; it has been logged",
    )
    .into_response()
}

/// `routes` under the API prefix, with the error-envelope fallbacks (404, 405), panic capture
/// (500 envelope), and request ids with one log line per request.
pub fn mount(routes: Router<AppState>, state: AppState) -> Router {
    let prefix = state.api_prefix.clone();
    let minter = request_id::Minter::new(state.services.ids.clone(), state.services.clock.clone());
    wrap(routes.with_state(state), &prefix, minter)
}

/// The common stack around routes whose state is already given.
fn wrap(routes: Router, prefix: &str, minter: request_id::Minter) -> Router {
    Router::new()
        .nest(
            prefix,
            routes.method_not_allowed_fallback(method_not_allowed),
        )
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(
            minter,
            request_id::middleware,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_envelope_not_a_dropped_connection() {
        let routes: Router<()> = Router::new().route(
            "/boom",
            get(|| async {
                panic!("bug");
                #[allow(unreachable_code)]
                ()
            }),
        );
        let res = wrap(routes, "/api/v1", request_id::testing::minter())
            .oneshot(Request::get("/api/v1/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal");
        assert_eq!(v["error"]["requestId"], rid.as_str());
        assert!(
            !v.to_string().contains("bug"),
            "the panic message is not sent to the client"
        );
    }
}
