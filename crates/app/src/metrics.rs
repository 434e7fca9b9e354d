//! Business metrics in CloudWatch's embedded metric format (EMF), through the `metrics` facade:
//! handlers record with `metrics::counter!`/`histogram!`, and in Lambda a collector
//! (`metrics_cloudwatch_embedded`) writes one EMF document per invocation into the function's
//! log, which CloudWatch turns into metrics. Elsewhere (dev server, tests) nothing is installed
//! and recording costs nothing.
//!
//! Names and dimensions (namespace `Oms`, plus `function` on every metric):
//! `orders_created` (`provider`), `payments_success` (`provider`), `payment_failures`
//! (`provider`), `webhook_failures` (`provider`, `reason`), `fulfilment_failures` (`category`),
//! `order_processing_time` (milliseconds one fulfilment job took, recorded when it is done).

use metrics_cloudwatch_embedded::Collector;

pub const NAMESPACE: &str = "Oms";

/// Installs the EMF collector for this function (once, at cold start).
pub fn emf_collector(function: &'static str) -> Result<&'static Collector, lambda_runtime::Error> {
    metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("function", function)
        .lambda_cold_start_metric("cold_start")
        .with_lambda_request_id("requestId")
        .init()
        .map_err(|e| lambda_runtime::Error::from(e.to_string()))
}
