//! Running a router on AWS Lambda: the same `Router` the dev server mounts, served by
//! `lambda_http` behind the HTTP API, on the AWS adapters.

use std::sync::Arc;

use axum::Router;
pub use lambda_http::Error;
use oms_core::ProviderKind;
use oms_memory::SystemClock;

use crate::app::{Adapters, AppState};
use crate::cognito::CognitoVerifier;
use crate::config::Config;
use crate::identity::IdentitySource;
use crate::wiring::{AwsResources, aws_adapters};

/// The five functions of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    CreateOrder,
    OrdersApi,
    PaymentWebhook,
    PostPaymentWorker,
    Cleanup,
}

impl Function {
    pub const ALL: [Function; 5] = [
        Function::CreateOrder,
        Function::OrdersApi,
        Function::PaymentWebhook,
        Function::PostPaymentWorker,
        Function::Cleanup,
    ];

    /// The binary's name, also the `function` dimension of its metrics.
    pub fn name(self) -> &'static str {
        match self {
            Function::CreateOrder => "create-order",
            Function::OrdersApi => "orders-api",
            Function::PaymentWebhook => "payment-webhook",
            Function::PostPaymentWorker => "post-payment-worker",
            Function::Cleanup => "cleanup",
        }
    }

    /// The payment providers whose secrets the function reads: creating a checkout needs the
    /// API keys, webhooks and the Razorpay verify route the webhook secrets, the sweep Stripe's
    /// key to expire sessions. The production gate checks exactly these at cold start, and
    /// `template.yaml` grants exactly these (a test compares them).
    pub fn reads_provider_secrets(self) -> &'static [ProviderKind] {
        match self {
            Function::CreateOrder | Function::PaymentWebhook => {
                &[ProviderKind::Stripe, ProviderKind::Razorpay]
            }
            Function::Cleanup => &[ProviderKind::Stripe],
            Function::OrdersApi | Function::PostPaymentWorker => &[],
        }
    }
}

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
pub async fn cold_start(function: Function) -> Result<ColdStart, Error> {
    let config = Config::from_env().map_err(refuse)?;
    let resources = AwsResources::from_env().map_err(refuse)?;
    let clients = oms_aws::AwsClients::from_env().await;
    let (adapters, _) = aws_adapters(&config, &clients, &resources, Arc::new(SystemClock));
    crate::gate::production_gate(
        &config,
        adapters.secrets.as_ref(),
        function.reads_provider_secrets(),
    )
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
pub async fn state_from_env(function: Function) -> Result<AppState, Error> {
    let c = cold_start(function).await?;
    let cognito = c
        .config
        .cognito
        .clone()
        .map(|pool| Arc::new(CognitoVerifier::new(pool, oms_providers::http_client())));
    Ok(AppState::new(
        &c.config,
        c.adapters,
        IdentitySource::ApiGateway(cognito),
        "https://checkout.invalid/offline",
    ))
}

/// Serves `app` until the sandbox is shut down, flushing EMF metrics after each invocation.
pub async fn run(function: Function, app: Router) -> Result<(), Error> {
    let metrics = crate::metrics::emf_collector(function.name())?;
    metrics_cloudwatch_embedded::lambda::service::run_http(metrics, app).await
}
