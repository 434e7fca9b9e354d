//! The `cleanup` Lambda: one bounded sweep per invocation, whatever the event.

use std::process::ExitCode;

use oms_app::lambda::{Error, Function, LambdaEvent, exit, serve_events, start};
use serde_json::Value;

#[tokio::main]
async fn main() -> ExitCode {
    exit(run().await)
}

async fn run() -> Result<(), Error> {
    let started = start(Function::Cleanup).await?;
    let (services, limit) = (&started.services, started.config.cleanup.batch_limit);
    serve_events(Function::Cleanup, move |_: LambdaEvent<Value>| async move {
        Ok(serde_json::to_value(cleanup::run(services, limit).await?)?)
    })
    .await
}
