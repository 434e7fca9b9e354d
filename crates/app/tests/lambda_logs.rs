//! The Lambdas' log lines, captured into a buffer: every line names the function (`service`),
//! and `cold_start` is true on the lines of the first invocation only. One test in its own
//! binary: log-capturing subscribers set while other tests run on other threads can miss
//! callsites those register first (tracing caches a callsite's interest process-wide).

use lambda_runtime::{Context, Error, LambdaEvent};
use oms_app::Function;
use oms_app::lambda::{in_invocations, with_invocations};
use oms_app::logs::{Invocations, LogFormat, subscriber};
use oms_memory::CapturedLogs;
use serde_json::{Value, json};
use tower::ServiceExt;

#[tokio::test]
async fn every_line_names_the_service_and_only_the_first_invocation_is_a_cold_start() {
    // An event function (the worker, the sweep), in JSON as the template configures it.
    let logs = CapturedLogs::default();
    let events = tracing::subscriber::set_default(subscriber(
        Function::PostPaymentWorker.name(),
        LogFormat::Json,
        Some("info"),
        logs.clone(),
    ));
    tracing::info!("started");
    let mut handler = in_invocations(
        Function::PostPaymentWorker,
        |event: LambdaEvent<Value>| async move {
            let n = event.payload["n"].as_u64().unwrap_or_default();
            let span = tracing::info_span!("message", order_id = "ord_1", request_id = "req_1");
            let _in = span.enter();
            tracing::info!(n, "handled");
            tracing::debug!("below the level");
            Ok::<_, Error>(n)
        },
    );
    for n in [1, 2] {
        let event = LambdaEvent::new(json!({ "n": n }), Context::default());
        assert_eq!(handler(event).await.unwrap(), n);
    }
    let lines = logs.take_json();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for line in &lines {
        assert_eq!(line["service"], "post-payment-worker", "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'), "{line}");
    }
    assert_eq!(lines[0]["message"], "started");
    assert!(
        lines[0].get("cold_start").is_none(),
        "start-up is before any invocation: {}",
        lines[0]
    );
    assert_eq!(lines[1]["cold_start"], true, "{}", lines[1]);
    assert_eq!(lines[2]["cold_start"], false, "{}", lines[2]);
    for (line, n) in lines[1..].iter().zip([1, 2]) {
        assert_eq!(line["message"], "handled");
        assert_eq!(line["n"], n);
        // An inner span's fields reach the top level too.
        assert_eq!(line["order_id"], "ord_1");
        assert_eq!(line["request_id"], "req_1");
    }
    drop(events);

    // An HTTP function: each request is an invocation.
    let http = tracing::subscriber::set_default(subscriber(
        Function::OrdersApi.name(),
        LogFormat::Json,
        None,
        logs.clone(),
    ));
    let app = with_invocations(
        Function::OrdersApi,
        axum::Router::new().route(
            "/ping",
            axum::routing::get(|| async {
                tracing::info!("pinged");
                "pong"
            }),
        ),
    );
    for _ in 0..2 {
        let req = axum::http::Request::get("/ping")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(app.clone().oneshot(req).await.unwrap().status(), 200);
    }
    let lines = logs.take_json();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines.iter().all(|l| l["service"] == "orders-api"));
    assert_eq!(lines[0]["cold_start"], true);
    assert_eq!(lines[1]["cold_start"], false);
    drop(http);

    // Text, when AWS_LAMBDA_LOG_FORMAT is not JSON: the invocation span shows on each line.
    let _text = tracing::subscriber::set_default(subscriber(
        Function::Cleanup.name(),
        LogFormat::Text,
        None,
        logs.clone(),
    ));
    let invocations = Invocations::new(Function::Cleanup);
    invocations.next_span().in_scope(|| tracing::info!("swept"));
    let lines = logs.take_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("invocation{service=\"cleanup\" cold_start=true}"),
        "{}",
        lines[0]
    );
}
