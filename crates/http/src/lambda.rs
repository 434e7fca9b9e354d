//! Running a router on AWS Lambda: the same `Router` the dev server mounts, served by
//! `lambda_http` behind the HTTP API, on the AWS adapters.

use std::sync::Arc;

use axum::Router;
pub use lambda_http::Error;
use oms_memory::SystemClock;

use crate::app::{Adapters, AppState};
use crate::config::Config;
use crate::identity::IdentitySource;
use crate::wiring::{AwsResources, aws_adapters};

/// JSON logs as Lambda's advanced logging expects (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// Everything a Lambda builds once per cold start, whatever its trigger.
pub struct ColdStart {
    pub config: Config,
    pub resources: AwsResources,
    pub clients: oms_aws::AwsClients,
    pub adapters: Adapters,
}

/// Refuses to start with one clear log line, an error the runtime reports (never a panic).
pub fn refuse<E: std::fmt::Display>(e: E) -> E {
    tracing::error!(error = %e, "refusing to start");
    e
}

/// Typed configuration from the environment, SDK clients, adapters, and the production gate:
/// the same for every function.
pub async fn cold_start() -> Result<ColdStart, Error> {
    let config = Config::from_env().map_err(refuse)?;
    let resources = AwsResources::from_env().map_err(refuse)?;
    let clients = oms_aws::AwsClients::from_env().await;
    let (adapters, _) = aws_adapters(&config, &clients, &resources, Arc::new(SystemClock));
    crate::gate::production_gate(&config, adapters.secrets.as_ref())
        .await
        .map_err(refuse)?;
    Ok(ColdStart {
        config,
        resources,
        clients,
        adapters,
    })
}

/// The state of an HTTP Lambda (and the cleanup sweep), built once per cold start.
pub async fn state_from_env() -> Result<AppState, Error> {
    let c = cold_start().await?;
    Ok(AppState::new(
        &c.config,
        c.adapters,
        IdentitySource::ApiGateway,
        "https://checkout.invalid/offline",
    ))
}

/// Serves `app` until the sandbox is shut down, flushing EMF metrics after each invocation.
pub async fn run(function: &'static str, app: Router) -> Result<(), Error> {
    let metrics = crate::metrics::emf_collector(function)?;
    metrics_cloudwatch_embedded::lambda::service::run_http(metrics, app).await
}
