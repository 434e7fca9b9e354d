//! The `cleanup` Lambda.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    oms_http::lambda::init_tracing();
    let function = oms_http::lambda::Function::Cleanup;
    let state = oms_http::lambda::state_from_env(function).await?;
    let limit = cleanup::batch_limit();
    let state = &state;
    let metrics = oms_http::metrics::emf_collector(function.name())?;
    metrics_cloudwatch_embedded::lambda::handler::run(
        metrics,
        move |_: LambdaEvent<Value>| async move {
            let report = cleanup::run(state, limit).await?;
            Ok::<Value, Error>(serde_json::to_value(report)?)
        },
    )
    .await
}
