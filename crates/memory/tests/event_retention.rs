//! Recorded provider events are kept as long as the policy says (`EVENT_RETENTION_DAYS`,
//! 35 by default: past Stripe's 30-day event list, so a backfill finds what it applied).

use std::sync::Arc;
use std::time::Duration;

use oms_core::app::outbox::OutboxPorts;
use oms_core::app::webhook::{Delivery, EVENT_RETENTION, handle_event_with};
use oms_core::ports::OrderStore;
use oms_core::webhook::{PaymentEvent, razorpay, simulate};
use oms_core::{Product, Sku, Timestamp};
use oms_memory::fixtures::{inr, order};
use oms_memory::{InMemoryPublisher, InMemoryQueue, InMemoryStore, ManualClock};

async fn record_one(keep: Option<Duration>) -> (Timestamp, Timestamp) {
    let t = Timestamp::from_unix_millis(1_800_000_000_000);
    let store = Arc::new(InMemoryStore::new([Product {
        sku: Sku::parse("A").unwrap(),
        name: "A".into(),
        unit_price: inr(1_000),
        available: 5,
    }]));
    let o = order("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0", "u", &[("A", 1, 1_000)], t);
    store.create_order(&o, None, t).await.unwrap();
    let body = simulate::razorpay_payment_event(
        "payment.captured",
        "pay_1",
        &o.payment().provider_order_id,
        Some(o.id().as_str()),
        inr(1_000),
    );
    let event: PaymentEvent = razorpay::normalise(body.as_bytes(), Some("evt_1")).unwrap();
    let (queue, publisher, clock) = (
        InMemoryQueue::default(),
        InMemoryPublisher::default(),
        ManualClock::at(t),
    );
    let ports = OutboxPorts {
        store: store.as_ref(),
        queue: &queue,
        publisher: &publisher,
        clock: &clock,
        trace: oms_core::ports::Trace::default(),
    };
    let mut delivery = Delivery::default();
    if let Some(keep) = keep {
        delivery.event_retention = keep;
    }
    handle_event_with(&ports, delivery, &event, body.as_bytes())
        .await
        .unwrap();
    let rec = store.events().pop().expect("the event is recorded");
    (rec.received_at, rec.expires_at)
}

#[tokio::test]
async fn an_event_is_kept_35_days_by_default_and_as_long_as_configured() {
    assert_eq!(EVENT_RETENTION, Duration::from_secs(35 * 86_400));
    let (at, until) = record_one(None).await;
    assert_eq!(until, at.plus(Duration::from_secs(35 * 86_400)));
    let (at, until) = record_one(Some(Duration::from_secs(90 * 86_400))).await;
    assert_eq!(until, at.plus(Duration::from_secs(90 * 86_400)));
}
