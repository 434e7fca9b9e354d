//! The worker's log lines, as the Lambda writes them (JSON), captured into a buffer. Its own
//! test binary with one test: a log-capturing subscriber set while other tests run on other
//! threads can miss callsites they register first (tracing caches a callsite's interest
//! process-wide).

mod common;

use aws_lambda_events::sqs::SqsEvent;
use common::paid_order;
use oms_core::ports::{FulfilmentJob, Trace};
use oms_memory::CapturedLogs;

fn event(jobs: &[(&FulfilmentJob, &str)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = jobs
        .iter()
        .map(|(job, id)| post_payment_worker::sqs_message(job, id, 1))
        .collect();
    event
}

#[tokio::test]
async fn every_line_a_job_logs_names_its_order_and_the_webhook_request_and_provider_event_it_carries()
 {
    let logs = CapturedLogs::default();
    tracing::subscriber::set_global_default(oms_app::logs::subscriber(
        "post-payment-worker",
        oms_app::logs::LogFormat::Json,
        Some("info"),
        logs.clone(),
    ))
    .expect("the only subscriber of this test binary");
    let common::World {
        worker,
        store,
        publisher,
    } = common::world(1);
    let a = paid_order(&store, 0).await;
    let traced = FulfilmentJob {
        order_id: a.clone(),
        trace: Trace::request("req_webhook_7").with_event("evt_paid_7"),
    };
    let res = worker.handle(event(&[(&traced, "m-7")])).await;
    assert!(res.batch_item_failures.is_empty());

    let lines = logs.take_json();
    assert!(
        lines.iter().any(|l| l["message"] == "fulfilment job done"),
        "{lines:#?}"
    );
    for line in &lines {
        assert_eq!(line["order_id"], a.as_str(), "{line}");
        assert_eq!(line["request_id"], "req_webhook_7", "{line}");
        assert_eq!(line["event_id"], "evt_paid_7", "{line}");
        assert_eq!(line["message_id"], "m-7", "{line}");
        assert_eq!(line["service"], "post-payment-worker", "{line}");
    }
    // And what the worker announces carries the trace on.
    let fulfilled = publisher.of_type("order.fulfilled");
    assert_eq!(fulfilled.len(), 1);
    assert_eq!(fulfilled[0].trace, traced.trace);

    // A job queued before traces travelled has no message attributes at all: it is fulfilled
    // the same, and its lines still name its order.
    let b = paid_order(&store, 1).await;
    let res = worker
        .handle(event(&[(&FulfilmentJob::new(b.clone()), "m-1")]))
        .await;
    assert!(res.batch_item_failures.is_empty());
    let lines = logs.take_json();
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line["order_id"], b.as_str(), "{line}");
        assert!(line.get("request_id").is_none(), "{line}");
        assert!(line.get("event_id").is_none(), "{line}");
    }
    assert_eq!(
        publisher.of_type("order.fulfilled")[1].trace,
        Trace::default()
    );
}
