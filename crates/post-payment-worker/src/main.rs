//! The `post-payment-worker` Lambda: SQS fulfilment jobs with partial batch failures.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use oms_aws::S3InvoiceStorage;
use oms_http::config::Config;
use oms_http::wiring::{AwsResources, aws_adapters};
use oms_memory::SystemClock;
use post_payment_worker::Worker;
use post_payment_worker::config::FulfilmentConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    oms_http::lambda::init_tracing();
    let refuse = |e: &dyn std::fmt::Display| tracing::error!(error = %e, "configuration is incomplete; refusing to start");
    let config = Config::from_env().inspect_err(|e| refuse(e))?;
    let resources = AwsResources::from_env().inspect_err(|e| refuse(e))?;
    let fulfilment = FulfilmentConfig::from_env().inspect_err(|e| refuse(e))?;
    let bucket = resources
        .invoice_bucket
        .clone()
        .ok_or_else(|| Error::from("INVOICE_BUCKET is required (set by the SAM template)"))
        .inspect_err(|e| refuse(e))?;
    let clients = oms_aws::AwsClients::from_env().await;
    let clock = Arc::new(SystemClock);
    let (adapters, _) = aws_adapters(&config, &clients, &resources, clock.clone());
    oms_http::gate::production_gate(&config, adapters.secrets.as_ref())
        .await
        .inspect_err(|e| refuse(e))?;
    let http = oms_providers::http_client();
    let worker = Worker {
        store: adapters.store,
        invoices: Arc::new(S3InvoiceStorage::new(clients.s3.clone(), bucket)),
        carrier: fulfilment.carrier(http.clone()),
        publisher: adapters.publisher,
        notifier: fulfilment.notifier(http),
        clock,
        seller: fulfilment.seller.clone(),
        max_receives: fulfilment.max_receives,
    };
    let worker = &worker;
    let metrics = oms_http::metrics::emf_collector("post-payment-worker")?;
    metrics_cloudwatch_embedded::lambda::handler::run(
        metrics,
        move |event: LambdaEvent<SqsEvent>| async move {
            Ok::<SqsBatchResponse, Error>(worker.handle(event.payload).await)
        },
    )
    .await
}
