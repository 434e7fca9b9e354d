//! Running a router on AWS Lambda: the same `Router` the dev server mounts, served by
//! `lambda_http` behind the HTTP API, on the AWS adapters.

use std::sync::Arc;

use axum::Router;
pub use lambda_http::Error;
use oms_memory::SystemClock;

use crate::app::AppState;
use crate::config::Config;
use crate::identity::IdentitySource;
use crate::wiring::{AwsResources, aws_adapters};

/// JSON logs as Lambda's advanced logging expects (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// Builds the state of an HTTP Lambda once per cold start: typed configuration from the
/// environment, SDK clients, adapters. Refuses to start (one clear log line, an error the
/// runtime reports) when configuration is incomplete.
pub async fn state_from_env() -> Result<AppState, Error> {
    let config = Config::from_env().inspect_err(|e| {
        tracing::error!(error = %e, "configuration is incomplete; refusing to start");
    })?;
    let resources = AwsResources::from_env().inspect_err(|e| {
        tracing::error!(error = %e, "configuration is incomplete; refusing to start");
    })?;
    let clients = oms_aws::AwsClients::from_env().await;
    let (adapters, _) = aws_adapters(&config, &clients, &resources, Arc::new(SystemClock));
    crate::gate::production_gate(&config, adapters.secrets.as_ref())
        .await
        .inspect_err(|e| tracing::error!(error = %e, "production gate"))?;
    Ok(AppState::new(
        &config,
        adapters,
        IdentitySource::ApiGateway,
        "https://checkout.invalid/offline",
    ))
}

/// Serves `app` until the sandbox is shut down, flushing EMF metrics after each invocation.
pub async fn run(function: &'static str, app: Router) -> Result<(), Error> {
    let metrics = crate::metrics::emf_collector(function)?;
    metrics_cloudwatch_embedded::lambda::service::run_http(metrics, app).await
}
