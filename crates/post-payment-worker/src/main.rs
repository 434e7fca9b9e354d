//! The `post-payment-worker` Lambda: SQS fulfilment jobs with partial batch failures.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use oms_aws::{S3InvoiceStorage, SecretDocuments, SecretsManagerCredentials};
use oms_http::lambda::{ColdStart, Function, cold_start, refuse};
use post_payment_worker::Worker;
use post_payment_worker::config::FulfilmentConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    oms_http::lambda::init_tracing();
    let mut fulfilment = FulfilmentConfig::from_env().map_err(refuse)?;
    let ColdStart {
        config,
        resources,
        clients,
        adapters,
    } = cold_start(Function::PostPaymentWorker).await?;
    let docs = Arc::new(SecretDocuments::new(
        clients.secrets.clone(),
        config.secrets.ttl,
        adapters.clock.clone(),
    ));
    fulfilment.use_secret_store(|arn, name| {
        Arc::new(SecretsManagerCredentials::new(docs.clone(), arn, name))
    });
    let bucket = resources.invoice_bucket.ok_or_else(|| {
        refuse(Error::from(
            "INVOICE_BUCKET is required (set by the SAM template)",
        ))
    })?;
    let http = oms_providers::http_client();
    let worker = Worker {
        store: adapters.store,
        invoices: Arc::new(S3InvoiceStorage::new(clients.s3.clone(), bucket)),
        carrier: fulfilment.carrier(http.clone()),
        publisher: adapters.publisher,
        notifier: fulfilment.notifier(http),
        clock: adapters.clock,
        seller: fulfilment.seller.clone(),
        max_receives: fulfilment.max_receives,
    };
    let worker = &worker;
    let metrics = oms_http::metrics::emf_collector(Function::PostPaymentWorker.name())?;
    metrics_cloudwatch_embedded::lambda::handler::run(
        metrics,
        move |event: LambdaEvent<SqsEvent>| async move {
            Ok::<SqsBatchResponse, Error>(worker.handle(event.payload).await)
        },
    )
    .await
}
