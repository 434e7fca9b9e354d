//! The application state every handler shares, and [`mount`], which wraps a Lambda's routes in
//! the common stack. A Lambda serves `mount(its routes)`; the dev server serves `mount` of all
//! of them merged — the same routers either way.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oms_core::ProviderKind;
use oms_core::app::OrderPolicy;
use oms_core::ports::{Clock, IdGenerator, OrderStore, PaymentProvider, PaymentProviders};
use oms_providers::offline::OfflineProvider;
use oms_providers::razorpay::RazorpayOrders;
use oms_providers::stripe::StripeCheckout;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::{Config, ProviderMode};
use crate::error::ApiError;
use crate::identity::IdentitySource;
use crate::request_id;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn OrderStore>,
    pub providers: PaymentProviders,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub policy: OrderPolicy,
    pub identity: IdentitySource,
    pub api_prefix: String,
}

/// The payment providers the configuration enables. `checkout_base` is where the offline
/// stand-in's checkout URLs point.
pub fn providers(config: &Config, checkout_base: &str) -> PaymentProviders {
    let mut list: Vec<Arc<dyn PaymentProvider>> = Vec::new();
    match config.provider_mode {
        ProviderMode::Offline => {
            for kind in [ProviderKind::Stripe, ProviderKind::Razorpay] {
                list.push(Arc::new(OfflineProvider::new(
                    kind,
                    &config.offline_razorpay_key_id,
                    checkout_base,
                )));
            }
        }
        ProviderMode::Live => {
            let http = oms_providers::http_client();
            if let Some(s) = &config.stripe {
                list.push(Arc::new(StripeCheckout::new(http.clone(), s.clone())));
            }
            if let Some(r) = &config.razorpay {
                list.push(Arc::new(RazorpayOrders::new(http, r.clone())));
            }
        }
    }
    PaymentProviders::new(list)
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
    Router::new()
        .nest(
            &prefix,
            routes.method_not_allowed_fallback(method_not_allowed),
        )
        .fallback(not_found)
        .with_state(state)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(request_id::middleware))
}
