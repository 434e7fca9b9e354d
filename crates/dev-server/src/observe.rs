//! What a developer looks at beside the API on the dev server: the service's metrics on
//! `GET /metrics` in the Prometheus text format, the API document on `GET /openapi.yaml`, and
//! that document rendered by Swagger UI on `GET /docs`.
//!
//! Metrics: the handlers record through the `metrics` facade, which in Lambda writes
//! CloudWatch EMF (`oms_app::metrics`); here a Prometheus recorder takes the same counters and
//! histograms, under the same names and labels (`orders_created`, `payments_success`,
//! `payment_failures`, `webhook_failures`, `fulfilment_failures`, `backfill_corrections`,
//! `order_processing_time`, the milliseconds a fulfilment job took), and [`track_requests`] adds what API Gateway
//! counts in AWS: `http_requests_total` (`method`, `route`, `status`) and
//! `http_request_duration_seconds` (`method`, `route`). `route` is the route's template
//! (`/api/v1/orders/{id}`), or `unmatched`: a client cannot grow the label set by inventing
//! paths or methods.
//!
//! Docs: Swagger UI's script and style come from the `swagger-ui-dist` crate, which carries
//! them in its package (no build script, nothing fetched at build or run time); the document is
//! `docs/openapi.yaml`, built into the binary.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The API document the Lambdas implement, as served on `/openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../../docs/openapi.yaml");

/// Where the rendered document is served.
pub const DOCS_PATH: &str = "/docs";
/// Where the document itself is served.
pub const OPENAPI_PATH: &str = "/openapi.yaml";
/// Where the metrics are served.
pub const METRICS_PATH: &str = "/metrics";

/// `route` for a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Bucket bounds of `http_request_duration_seconds`: from a cached read to a slow AWS call.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Bucket bounds of `order_processing_time` (milliseconds one fulfilment job took).
const PROCESSING_BUCKETS: [f64; 10] = [
    10.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 10_000.0, 60_000.0, 300_000.0,
];
/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed as the `metrics` facade's recorder on first
/// use: one per process, shared by every dev server in it (tests run several). `None` when
/// another recorder was installed first; the metrics page then says so.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("http_request_duration_seconds".into()),
            &LATENCY_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("order_processing_time".into()),
                &PROCESSING_BUCKETS,
            )
        });
    let handle = match builder.and_then(PrometheusBuilder::install_recorder) {
        Ok(handle) => handle,
        Err(e) => {
            tracing::warn!(error = %e, "no Prometheus recorder: /metrics will be empty");
            return None;
        }
    };
    // Histogram samples wait in per-metric buffers until upkeep folds them into buckets; a
    // server nobody scrapes must not keep them for ever.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread: histograms fold in at each scrape");
    }
    Some(handle)
}

/// The `method` label: the standard methods by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts every request and times it, by method, route template and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route.clone()
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "http_requests_total",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .increment(1);
    response
}

/// `GET /metrics`: every metric in the Prometheus text exposition format (0.0.4).
async fn metrics_page() -> Response {
    let body = match recorder() {
        Some(handle) => handle.render(),
        None => "# no Prometheus recorder: another metrics recorder was installed first\n".into(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `GET /openapi.yaml`: the API document.
async fn openapi_document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        OPENAPI_YAML,
    )
        .into_response()
}

/// `/metrics`, `/openapi.yaml` and `/docs` (with Swagger UI's assets under `/docs/`).
pub fn routes() -> Router {
    // Installed with the routes, so the counters of the first requests are kept.
    let _ = recorder();
    let docs = swagger_ui_dist::ApiDefinition {
        uri_prefix: DOCS_PATH,
        api_definition: swagger_ui_dist::OpenApiSource::Uri(OPENAPI_PATH),
        title: Some("Order service API (dev server)"),
    };
    Router::new()
        .route(METRICS_PATH, get(metrics_page))
        .route(OPENAPI_PATH, get(openapi_document))
        .merge(swagger_ui_dist::generate_routes(docs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").expect("a valid token");
        assert_eq!(method_label(&odd), "other");
    }
}
