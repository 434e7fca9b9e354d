//! A payment's trace — the webhook's request id and the provider event id — travels with what
//! the payment causes: the outbox entry, the fulfilment job, the published events; the
//! in-memory queue and publisher keep it as SQS and SNS keep message attributes.

mod common;

use oms_core::app::webhook::{Delivery, handle_event_with};
use oms_core::ports::{DeadJobs, EventPublisher, FulfilmentJob, JobQueue, Message, Topic, Trace};
use oms_core::{OrderId, Timestamp};
use oms_memory::{InMemoryPublisher, InMemoryQueue};

fn traced_job(n: u8) -> FulfilmentJob {
    FulfilmentJob {
        order_id: OrderId::parse(&format!("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ{n}")).unwrap(),
        trace: Trace::request(format!("req_{n}")).with_event(format!("evt_{n}")),
    }
}

#[tokio::test]
async fn the_in_memory_queue_keeps_a_jobs_trace_through_the_dead_letter_list_and_back() {
    let queue = InMemoryQueue::default();
    let job = traced_job(1);
    queue.send(&job).await.unwrap();
    assert_eq!(queue.sent(), vec![job.clone()]);
    let taken = queue.try_take().expect("the job");
    assert_eq!(taken.trace, job.trace);

    queue.bury(&taken, 5);
    assert_eq!(queue.redrive(10).await.unwrap(), 1);
    assert_eq!(
        queue.try_take().expect("moved back").trace,
        job.trace,
        "a job moved back keeps its trace"
    );
}

#[tokio::test]
async fn the_in_memory_publisher_keeps_a_messages_trace() {
    let publisher = InMemoryPublisher::default();
    let message = Message {
        event_type: "order.payment_succeeded".into(),
        body: serde_json::json!({"orderId": "ord_1"}),
        trace: Trace::request("req_1").with_event("evt_1"),
    };
    publisher
        .publish(Topic::OrderEvents, &message)
        .await
        .unwrap();
    assert_eq!(publisher.of_type("order.payment_succeeded"), vec![message]);
}

#[tokio::test]
async fn a_payment_records_its_trace_on_the_outbox_entry_the_job_and_the_events() {
    let t = Timestamp::from_unix_millis(1_800_000_000_000);
    let (store, body, event) = common::captured_order(t, "evt_rzp_1").await;
    let outlets = common::Outlets::at(t);
    let ports = outlets.ports(&store, Trace::request("req_webhook_1"));
    let (queue, publisher) = (&outlets.queue, &outlets.publisher);
    handle_event_with(&ports, Delivery::default(), &event, body.as_bytes())
        .await
        .unwrap();

    // The ports named the request; the use case adds the event it applied.
    let expected = Trace::request("req_webhook_1").with_event("evt_rzp_1");
    let entries = store.outbox();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].trace, expected, "the outbox entry records it");
    let jobs = queue.sent();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].trace, expected, "the job carries it");
    let published = publisher.messages();
    assert!(!published.is_empty());
    for (_, m) in &published {
        assert_eq!(m.trace, expected, "{} carries it", m.event_type);
    }
}
