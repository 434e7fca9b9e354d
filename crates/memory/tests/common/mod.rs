//! What more than one of this crate's test binaries sets up.

use std::sync::Arc;

use oms_core::app::outbox::OutboxPorts;
use oms_core::ports::{OrderStore, Trace};
use oms_core::webhook::{PaymentEvent, razorpay, simulate};
use oms_core::{Product, Sku, Timestamp};
use oms_memory::fixtures::{inr, order};
use oms_memory::{InMemoryPublisher, InMemoryQueue, InMemoryStore, ManualClock};

/// A store selling `A` (₹10.00, 5 in stock) with one order for one `A` created at `at`, and
/// Razorpay's `payment.captured` for that order (event id `event_id`): the store, the raw
/// body and the event read from it.
pub async fn captured_order(
    at: Timestamp,
    event_id: &str,
) -> (Arc<InMemoryStore>, String, PaymentEvent) {
    let store = Arc::new(InMemoryStore::new([Product {
        sku: Sku::parse("A").unwrap(),
        name: "A".into(),
        unit_price: inr(1_000),
        available: 5,
    }]));
    let o = order(
        "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0",
        "u",
        &[("A", 1, 1_000)],
        at,
    );
    store.create_order(&o, None, at).await.unwrap();
    let body = simulate::razorpay_payment_event(
        "payment.captured",
        "pay_1",
        &o.payment().provider_order_id,
        Some(o.id().as_str()),
        inr(1_000),
    );
    let event = razorpay::normalise(body.as_bytes(), Some(event_id)).unwrap();
    (store, body, event)
}

/// The queue, publisher and clock a change acts through, kept so a test can look at them.
pub struct Outlets {
    pub queue: InMemoryQueue,
    pub publisher: InMemoryPublisher,
    pub clock: ManualClock,
}

impl Outlets {
    /// Empty outlets, the clock at `at`.
    pub fn at(at: Timestamp) -> Self {
        Self {
            queue: InMemoryQueue::default(),
            publisher: InMemoryPublisher::default(),
            clock: ManualClock::at(at),
        }
    }

    /// The ports of a change to `store` that came from `trace`.
    pub fn ports<'a>(&'a self, store: &'a InMemoryStore, trace: Trace) -> OutboxPorts<'a> {
        OutboxPorts {
            store,
            queue: &self.queue,
            publisher: &self.publisher,
            clock: &self.clock,
            trace,
        }
    }
}
