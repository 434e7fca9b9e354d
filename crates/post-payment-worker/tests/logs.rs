//! The worker's log lines, as the Lambda writes them (JSON), captured into a buffer. Its own
//! test binary with one test: a log-capturing subscriber set while other tests run on other
//! threads can miss callsites they register first (tracing caches a callsite's interest
//! process-wide).

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use oms_app::config::{Env, FulfilmentConfig};
use oms_core::ports::{FulfilmentJob, OrderStore, Trace};
use oms_core::{Currency, Money, OrderId, Product, Sku, Timestamp};
use oms_memory::{
    CapturedLogs, InMemoryInvoices, InMemoryPublisher, InMemoryStore, ManualClock, fixtures,
};
use post_payment_worker::Worker;

fn inr(m: i64) -> Money {
    Money::new(m, Currency::parse("INR").unwrap()).unwrap()
}

fn worker(store: Arc<InMemoryStore>, publisher: Arc<InMemoryPublisher>) -> Worker {
    let config = FulfilmentConfig::read(&Env::from_pairs(&[])).unwrap();
    Worker {
        store,
        publisher,
        carrier: oms_app::wiring::carrier(&oms_app::config::Config::offline().shipping),
        clock: Arc::new(ManualClock::at(Timestamp::from_unix_millis(
            1_800_000_000_000,
        ))),
        ports: oms_app::wiring::fulfilment(&config, Arc::new(InMemoryInvoices::default())),
    }
}

async fn paid_order(store: &InMemoryStore, n: u8) -> OrderId {
    let t = Timestamp::from_unix_millis(1_800_000_000_000);
    let o = fixtures::order(
        &format!("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ{n}"),
        "u",
        &[("A", 1, 1_000)],
        t,
    );
    store.create_order(&o, None, t).await.unwrap();
    let paid = fixtures::paid(&o, &format!("pay_{n}"), t);
    assert!(store.save_order(&paid, o.version(), None).await.unwrap());
    o.id().clone()
}

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
    let store = Arc::new(InMemoryStore::new([Product {
        sku: Sku::parse("A").unwrap(),
        name: "A".into(),
        unit_price: inr(1_000),
        available: 10,
    }]));
    let publisher = Arc::new(InMemoryPublisher::default());
    let worker = worker(store.clone(), publisher.clone());
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
