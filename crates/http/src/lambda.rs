//! Running a router on AWS Lambda: the same `Router` the dev server mounts, served by
//! `lambda_http` behind the HTTP API.

use std::sync::Arc;

use axum::Router;
pub use lambda_http::Error;
use oms_core::ports::{Clock, OrderStore};
use oms_memory::{InMemoryPublisher, InMemoryQueue, InMemoryStore, StaticSecrets, SystemClock};

use crate::app::{Adapters, AppState};
use crate::config::Config;
use crate::identity::IdentitySource;

/// JSON logs as Lambda's advanced logging expects (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// Builds the state of an HTTP Lambda from its environment, once per cold start. Refuses to
/// start (an error the runtime reports, logged once) on bad configuration.
pub fn state_from_env() -> Result<AppState, lambda_http::Error> {
    let config = Config::from_env().inspect_err(|e| {
        tracing::error!(error = %e, "configuration is incomplete; refusing to start");
    })?;
    // The DynamoDB store arrives with the AWS adapters; until then a Lambda keeps orders in its
    // own sandbox's memory, which is only good for a smoke test of the deployment.
    tracing::warn!("store: in-memory (per sandbox); not for production traffic");
    let store = Arc::new(InMemoryStore::new(oms_memory::demo_catalog()));
    let (adapters, _, _) = memory_adapters(store, &config, Arc::new(SystemClock));
    Ok(AppState::new(
        &config,
        adapters,
        IdentitySource::ApiGateway,
        "https://checkout.invalid/offline",
    ))
}

/// Serves `app` until the sandbox is shut down.
pub async fn run(app: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(app).await
}

/// In-memory adapters around `store`, with secrets from `config`; the queue and publisher are
/// returned too so a host (the dev server, tests) can consume what is sent.
pub fn memory_adapters(
    store: Arc<dyn OrderStore>,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> (Adapters, Arc<InMemoryQueue>, Arc<InMemoryPublisher>) {
    let queue = Arc::new(InMemoryQueue::default());
    let publisher = Arc::new(InMemoryPublisher::default());
    let secrets = StaticSecrets {
        stripe: config.secrets.env.stripe.clone(),
        razorpay: config.secrets.env.razorpay.clone(),
    };
    let adapters = Adapters {
        store,
        queue: queue.clone(),
        publisher: publisher.clone(),
        secrets: Arc::new(secrets),
        clock,
    };
    (adapters, queue, publisher)
}
