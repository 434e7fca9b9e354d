//! The application state every handler shares, and [`mount`], which wraps a Lambda's routes in
//! the common stack. A Lambda serves `mount(its routes)`; the dev server serves `mount` of all
//! of them merged — the same routers either way.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oms_core::ProviderKind;
use oms_core::app::OrderPolicy;
use oms_core::ports::{
    Clock, EventPublisher, IdGenerator, JobQueue, OrderStore, PaymentProvider, PaymentProviders,
    SecretSource,
};
use oms_memory::RandomIds;
use oms_providers::offline::OfflineProvider;
use oms_providers::razorpay::RazorpayOrders;
use oms_providers::stripe::StripeCheckout;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::{Config, ProviderMode};
use crate::error::ApiError;
use crate::identity::IdentitySource;
use crate::request_id;

/// The adapters behind the ports: in memory locally, AWS in production.
#[derive(Clone)]
pub struct Adapters {
    pub store: Arc<dyn OrderStore>,
    pub queue: Arc<dyn JobQueue>,
    pub publisher: Arc<dyn EventPublisher>,
    pub secrets: Arc<dyn SecretSource>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn OrderStore>,
    pub queue: Arc<dyn JobQueue>,
    pub publisher: Arc<dyn EventPublisher>,
    pub secrets: Arc<dyn SecretSource>,
    pub providers: PaymentProviders,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub policy: OrderPolicy,
    pub identity: IdentitySource,
    pub api_prefix: String,
    pub stripe_tolerance: std::time::Duration,
}

impl AppState {
    /// State for `config` on the given adapters and identity source, with random ids.
    /// `checkout_base` is where the offline stand-in's checkout URLs point.
    pub fn new(
        config: &Config,
        adapters: Adapters,
        identity: IdentitySource,
        checkout_base: &str,
    ) -> Self {
        let providers = providers(config, adapters.secrets.clone(), checkout_base);
        Self {
            store: adapters.store,
            queue: adapters.queue,
            publisher: adapters.publisher,
            secrets: adapters.secrets,
            providers,
            clock: adapters.clock,
            ids: Arc::new(RandomIds),
            policy: config.policy.clone(),
            identity,
            api_prefix: config.api_prefix.clone(),
            stripe_tolerance: config.stripe_tolerance,
        }
    }

    /// The ports the payment use cases need.
    pub fn outbox_ports(&self) -> oms_core::app::outbox::OutboxPorts<'_> {
        oms_core::app::outbox::OutboxPorts {
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            publisher: self.publisher.as_ref(),
            clock: self.clock.as_ref(),
        }
    }
}

/// The payment providers the configuration enables. `checkout_base` is where the offline
/// stand-in's checkout URLs point.
pub fn providers(
    config: &Config,
    secrets: Arc<dyn SecretSource>,
    checkout_base: &str,
) -> PaymentProviders {
    let mut list: Vec<Arc<dyn PaymentProvider>> = Vec::new();
    match config.provider_mode {
        ProviderMode::Offline => {
            let key_id = config
                .secrets
                .env
                .razorpay
                .key_id
                .clone()
                .unwrap_or_else(|| "rzp_test_offline".into());
            for kind in [ProviderKind::Stripe, ProviderKind::Razorpay] {
                list.push(Arc::new(OfflineProvider::new(kind, &key_id, checkout_base)));
            }
        }
        ProviderMode::Live => {
            let http = oms_providers::http_client();
            if let Some(s) = &config.stripe {
                list.push(Arc::new(StripeCheckout::new(
                    http.clone(),
                    s.clone(),
                    secrets.clone(),
                )));
            }
            if let Some(r) = &config.razorpay {
                list.push(Arc::new(RazorpayOrders::new(http, r.clone(), secrets)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use oms_memory::{InMemoryStore, SystemClock};
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_envelope_not_a_dropped_connection() {
        let config = Config::from_lookup(
            |_| None,
            crate::config::Defaults {
                provider_mode: Some(ProviderMode::Offline),
            },
        )
        .unwrap();
        let state = AppState::new(
            &config,
            crate::wiring::memory_adapters(
                Arc::new(InMemoryStore::default()),
                &config,
                Arc::new(SystemClock),
            )
            .0,
            IdentitySource::ApiGateway(None),
            "http://local",
        );
        let routes: Router<AppState> = Router::new().route(
            "/boom",
            get(|| async {
                panic!("bug");
                #[allow(unreachable_code)]
                ()
            }),
        );
        let res = mount(routes, state)
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
