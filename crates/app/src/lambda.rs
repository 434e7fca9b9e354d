//! Lambda start-up, the same for every function: JSON logs ([`crate::logs`]), configuration from
//! the environment (refused with one clear log line), the SDK clients, the ports on AWS, and the
//! production gate — then the function's handler, each invocation in a span naming the function
//! (`service`) and whether it is the cold start (`cold_start`), with EMF metrics flushed after
//! each invocation.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
pub use lambda_runtime::{Error, LambdaEvent};
use oms_aws::AwsClients;
use oms_core::ProviderKind;
use oms_core::app::Services;
use oms_http::AppState;
use oms_http::cognito::CognitoVerifier;
use oms_http::identity::IdentitySource;

use crate::config::{AwsResources, Config, Env};
use crate::logs::Invocations;
use crate::system::SystemClock;
use crate::wiring;

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
    /// API keys, webhooks and the Razorpay verify route the webhook secrets, the refund route
    /// the API keys, the sweep Stripe's key to expire sessions and both to resend owed refunds. The production gate checks exactly these at cold start, and
    /// `template.yaml` grants exactly these (a test compares them).
    pub fn reads_provider_secrets(self) -> &'static [ProviderKind] {
        match self {
            Function::CreateOrder
            | Function::PaymentWebhook
            | Function::OrdersApi
            | Function::Cleanup => &[ProviderKind::Stripe, ProviderKind::Razorpay],
            Function::PostPaymentWorker => &[],
        }
    }
}

impl Function {
    /// Whether the function lists the post-payment dead-letter queue and moves its jobs back
    /// (the ops console's routes): only it is given `DEAD_LETTER_QUEUE_URL` and may read that
    /// queue (`template.yaml`; a test compares them).
    pub fn reads_dead_letter_queue(self) -> bool {
        self == Function::OrdersApi
    }

    /// Whether the function hands out links to digital products' files
    /// (`GET /orders/{orderId}/downloads/{sku}`): only it is given `DOWNLOADS_BUCKET` and may
    /// read `downloads/*` in it (`template.yaml`).
    pub fn serves_downloads(self) -> bool {
        self == Function::OrdersApi
    }
}

/// Why a function would not start, already logged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

/// Refuses to start with one clear log line and an error that ends the process (never a panic).
pub fn refuse<E: std::fmt::Display>(e: E) -> Error {
    tracing::error!(error = %e, "refusing to start");
    Error::from(Refused(e.to_string()))
}

/// What a Lambda's `main` returns: success, or a failure exit (Lambda reports
/// `Runtime.ExitError`) with one log line — a refusal is not logged a second time.
pub fn exit(result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Refused>() => ExitCode::FAILURE,
        Err(e) => {
            tracing::error!(error = %e, "the function stopped");
            ExitCode::FAILURE
        }
    }
}

/// What a function builds once per cold start.
pub struct Started {
    pub function: Function,
    pub config: Config,
    pub resources: AwsResources,
    pub clients: AwsClients,
    pub services: Services,
}

/// JSON logs as Lambda's advanced logging expects (every line naming the function), then
/// configuration, clients, the ports on AWS and the production gate.
pub async fn start(function: Function) -> Result<Started, Error> {
    crate::logs::init(function);
    let env = Env::process();
    let config = Config::read(&env, None).map_err(refuse)?;
    let resources = AwsResources::read(&env).map_err(refuse)?;
    if function.reads_dead_letter_queue() {
        resources.dead_letter_queue_url().map_err(refuse)?;
    }
    if function.serves_downloads() {
        resources.downloads_bucket().map_err(refuse)?;
    }
    let clients = AwsClients::from_env().await;
    let services = wiring::aws_services(&config, &clients, &resources, Arc::new(SystemClock));
    let reads = function.reads_provider_secrets();
    crate::gate::production_gate(&config, services.secrets.as_ref(), reads)
        .await
        .map_err(refuse)?;
    Ok(Started {
        function,
        config,
        resources,
        clients,
        services,
    })
}

impl Started {
    /// The state of an HTTP function: callers known from API Gateway's authorizer, or — on the
    /// routes guests share — from a Cognito token verified here.
    pub fn http_state(&self) -> AppState {
        let cognito = self.config.http.cognito.clone();
        let verifier =
            cognito.map(|pool| Arc::new(CognitoVerifier::new(pool, oms_providers::http_client())));
        AppState {
            services: self.services.clone(),
            identity: IdentitySource::ApiGateway(verifier),
            api_prefix: self.config.http.api_prefix.clone(),
            stripe_tolerance: self.config.http.stripe_tolerance,
        }
    }

    /// The post-payment worker's ports: its own settings, validated here, and invoices in S3.
    #[cfg(feature = "s3")]
    pub fn fulfilment(&self) -> Result<oms_core::app::FulfilmentServices, Error> {
        let config = crate::config::FulfilmentConfig::read(&Env::process()).map_err(refuse)?;
        let bucket = self.resources.invoice_bucket().map_err(refuse)?;
        let clock = self.services.clock.clone();
        Ok(wiring::aws_fulfilment(
            config,
            self.config.secrets.ttl,
            &self.clients,
            bucket,
            clock,
        ))
    }
}

/// An HTTP function: `routes` in the common stack, served behind the HTTP API.
pub async fn serve_http(function: Function, routes: Router<AppState>) -> Result<(), Error> {
    let started = start(function).await?;
    let app = with_invocations(function, oms_http::mount(routes, started.http_state()));
    let metrics = crate::metrics::emf_collector(function.name())?;
    metrics_cloudwatch_embedded::lambda::service::run_http(metrics, app).await
}

/// A function invoked with events (the queue, the schedule): `handler` answers each.
pub async fn serve_events<A, R, F, Fut>(function: Function, handler: F) -> Result<(), Error>
where
    F: FnMut(LambdaEvent<A>) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
    A: for<'de> serde::Deserialize<'de>,
    R: serde::Serialize,
{
    let metrics = crate::metrics::emf_collector(function.name())?;
    metrics_cloudwatch_embedded::lambda::handler::run(metrics, in_invocations(function, handler))
        .await
}

/// `app` with each request — one invocation behind the HTTP API — in its invocation span
/// ([`Invocations`]): the outermost layer, so the request's own span is inside it.
pub fn with_invocations(function: Function, app: Router) -> Router {
    app.layer(axum::middleware::from_fn_with_state(
        Invocations::new(function),
        in_invocation,
    ))
}

async fn in_invocation(
    axum::extract::State(invocations): axum::extract::State<Invocations>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    next.run(request).instrument(invocations.next_span()).await
}

/// `handler` with each event — one invocation — in its invocation span ([`Invocations`]).
pub fn in_invocations<A, R, F, Fut>(
    function: Function,
    mut handler: F,
) -> impl FnMut(LambdaEvent<A>) -> tracing::instrument::Instrumented<Fut>
where
    F: FnMut(LambdaEvent<A>) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
{
    use tracing::Instrument;
    let invocations = Invocations::new(function);
    move |event| handler(event).instrument(invocations.next_span())
}
