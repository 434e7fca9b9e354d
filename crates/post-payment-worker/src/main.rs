//! The `post-payment-worker` Lambda: SQS fulfilment jobs with partial batch failures.

use std::process::ExitCode;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use oms_app::lambda::{Error, Function, LambdaEvent, exit, serve_events, start};
use post_payment_worker::Worker;

#[tokio::main]
async fn main() -> ExitCode {
    exit(run().await)
}

async fn run() -> Result<(), Error> {
    let started = start(Function::PostPaymentWorker).await?;
    let worker = &Worker::new(&started.services, started.fulfilment()?);
    serve_events(
        Function::PostPaymentWorker,
        move |event: LambdaEvent<SqsEvent>| async move {
            Ok::<SqsBatchResponse, Error>(worker.handle(event.payload).await)
        },
    )
    .await
}
