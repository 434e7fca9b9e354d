//! The fulfilment job on the in-memory adapters: every step once, whatever the redelivery,
//! concurrency or failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use oms_core::app::fulfil::{FulfilDeps, FulfilError, Fulfilment, fulfil};
use oms_core::invoice::Seller;
use oms_core::order::PaymentCapture;
use oms_core::ports::Clock;
use oms_core::ports::{
    Carrier, CarrierError, EventPublisher, InvoiceStorage, Message, Notifier, NotifyError,
    OrderStore, OutboxEntry, PublishError, StorageError, Topic,
};
use oms_core::{
    Currency, Money, Order, OrderId, OrderStatus, Product, ShipmentInfo, Sku, TimelineType,
    Timestamp,
};
use oms_memory::{InMemoryInvoices, InMemoryPublisher, InMemoryStore, ManualClock, fixtures};

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

/// A carrier stand-in that counts calls, fails on demand, and (like the real one must be) is
/// idempotent per order.
#[derive(Default)]
struct CountingCarrier {
    calls: AtomicUsize,
    fail: AtomicUsize,
}

#[async_trait]
impl Carrier for CountingCarrier {
    fn name(&self) -> &'static str {
        "test-carrier"
    }

    async fn create_shipment(&self, order: &Order) -> Result<ShipmentInfo, CarrierError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(CarrierError::Unavailable("carrier timed out".into()));
        }
        Ok(ShipmentInfo {
            carrier: "test-carrier".into(),
            shipment_id: format!("shp_{}", order.id()),
            awb: format!("AWB{}", &order.id().as_str()[4..14]),
            status: "pickup_scheduled".into(),
        })
    }

    async fn cancel_shipment(
        &self,
        _: &ShipmentInfo,
    ) -> Result<oms_core::ports::ShipmentCancel, CarrierError> {
        unreachable!("fulfilment never cancels a shipment")
    }
}

#[derive(Default)]
struct CountingNotifier(AtomicUsize, AtomicUsize);

#[async_trait]
impl Notifier for CountingNotifier {
    async fn order_fulfilled(&self, _: &Order) -> Result<(), NotifyError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Shipment messages are counted apart from the fulfilment message.
    async fn shipment_update(
        &self,
        _: &Order,
        _: oms_core::tracking::ShipmentState,
    ) -> Result<(), NotifyError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Wraps the in-memory publisher, failing on demand.
#[derive(Default)]
struct FlakyPublisher {
    inner: InMemoryPublisher,
    fail: AtomicUsize,
}

#[async_trait]
impl EventPublisher for FlakyPublisher {
    async fn publish(&self, topic: Topic, m: &Message) -> Result<(), PublishError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PublishError("sns down".into()));
        }
        self.inner.publish(topic, m).await
    }
}

#[derive(Default)]
struct FlakyInvoices {
    inner: InMemoryInvoices,
    fail: AtomicUsize,
}

#[async_trait]
impl InvoiceStorage for FlakyInvoices {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StorageError("s3 down".into()));
        }
        self.inner.put(key, body, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(key).await
    }
}

struct World {
    store: InMemoryStore,
    invoices: FlakyInvoices,
    carrier: CountingCarrier,
    publisher: FlakyPublisher,
    notifier: CountingNotifier,
    clock: ManualClock,
    seller: Seller,
}

impl World {
    fn new() -> Self {
        Self {
            store: InMemoryStore::new([Product {
                sku: Sku::parse("A").unwrap(),
                name: "A".into(),
                unit_price: inr(50_000),
                available: 100,
            }]),
            invoices: FlakyInvoices::default(),
            carrier: CountingCarrier::default(),
            publisher: FlakyPublisher::default(),
            notifier: CountingNotifier::default(),
            clock: ManualClock::at(Timestamp::from_unix_millis(1_800_000_000_000)),
            seller: Seller {
                name: "Test Shop".into(),
                address: "1 Road".into(),
                tax_id: None,
            },
        }
    }

    fn deps(&self) -> FulfilDeps<'_> {
        FulfilDeps {
            store: &self.store,
            invoices: &self.invoices,
            carrier: &self.carrier,
            publisher: &self.publisher,
            notifier: &self.notifier,
            clock: &self.clock,
            seller: &self.seller,
        }
    }

    /// A paid order, as the webhook leaves it.
    async fn paid_order(&self, n: u8) -> OrderId {
        let now = Timestamp::from_unix_millis(1_800_000_000_000);
        let o = fixtures::order(
            &format!("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ{n}"),
            "u",
            &[("A", 1, 50_000)],
            now,
        );
        self.store.create_order(&o, None, now).await.unwrap();
        assert!(
            self.store
                .save_order(
                    &fixtures::paid(&o, &format!("pay_{n}"), now),
                    o.version(),
                    None
                )
                .await
                .unwrap()
        );
        o.id().clone()
    }

    /// A paid order whose job is owed through an outbox entry, as the webhook leaves it.
    async fn paid_order_owing_its_job(&self, n: u8) -> (OrderId, OutboxEntry) {
        let id = self.paid_order(n).await;
        let o = self.order(&id).await;
        let now = self.clock.now();
        let entry = OutboxEntry {
            order_id: id.clone(),
            created_at: now,
            lease_until: now.plus(Duration::from_secs(30)),
            trace: oms_core::ports::Trace::default(),
        };
        assert!(
            self.store
                .save_order(&o, o.version(), Some(&entry))
                .await
                .unwrap()
        );
        (id, entry)
    }

    async fn order(&self, id: &OrderId) -> Order {
        self.store.get_order(id).await.unwrap().unwrap()
    }

    fn fulfilled_events(&self) -> usize {
        self.publisher.inner.of_type("order.fulfilled").len()
    }
}

fn kinds(o: &Order) -> Vec<TimelineType> {
    o.timeline().iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn a_paid_order_is_invoiced_shipped_fulfilled_and_announced() {
    let w = World::new();
    let id = w.paid_order(0).await;
    assert_eq!(fulfil(&w.deps(), &id).await.unwrap(), Fulfilment::Done);
    let o = w.order(&id).await;
    assert_eq!(o.status(), OrderStatus::Fulfilled);
    assert_eq!(
        kinds(&o)[2..],
        [
            TimelineType::InvoiceIssued,
            TimelineType::ShipmentCreated,
            TimelineType::Fulfilled
        ]
    );
    let inv = o.invoice().unwrap();
    assert_eq!(inv.number, "INV-000001");
    let doc = String::from_utf8(w.invoices.get(&inv.key).await.unwrap().unwrap()).unwrap();
    assert!(doc.contains("INV-000001") && doc.contains("Test Shop"));
    assert_eq!(o.shipment().unwrap().carrier, "test-carrier");
    assert!(o.notified_at().is_some());
    assert_eq!(
        (w.fulfilled_events(), w.notifier.0.load(Ordering::SeqCst)),
        (1, 1)
    );
    let m = &w.publisher.inner.of_type("order.fulfilled")[0];
    assert_eq!(m.body["invoice"]["number"], "INV-000001");
}

#[tokio::test]
async fn a_job_delivered_twice_does_every_step_once() {
    let w = World::new();
    let id = w.paid_order(0).await;
    fulfil(&w.deps(), &id).await.unwrap();
    let after_first = w.order(&id).await;
    assert_eq!(fulfil(&w.deps(), &id).await.unwrap(), Fulfilment::Done);
    assert_eq!(w.order(&id).await, after_first);
    assert_eq!(w.carrier.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        (w.fulfilled_events(), w.notifier.0.load(Ordering::SeqCst)),
        (1, 1)
    );
    assert_eq!(w.store.last_invoice_number().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_copies_processed_at_once_do_every_step_once() {
    let w = Arc::new(World::new());
    let id = w.paid_order(0).await;
    let (da, db) = (w.deps(), w.deps());
    let (a, b) = tokio::join!(fulfil(&da, &id), fulfil(&db, &id));
    let outcomes = [a, b];
    assert!(
        outcomes.iter().any(|r| matches!(r, Ok(Fulfilment::Done))),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|r| matches!(r, Ok(Fulfilment::Done) | Err(FulfilError::Busy))),
        "{outcomes:?}"
    );
    // The queue redelivers the copy that found the order busy.
    assert_eq!(fulfil(&w.deps(), &id).await.unwrap(), Fulfilment::Done);
    assert_eq!(
        w.store.last_invoice_number().await.unwrap(),
        1,
        "one invoice number"
    );
    assert_eq!(w.carrier.calls.load(Ordering::SeqCst), 1, "one shipment");
    assert_eq!(
        (w.fulfilled_events(), w.notifier.0.load(Ordering::SeqCst)),
        (1, 1),
        "one notification"
    );
}

#[tokio::test]
async fn a_failure_at_each_step_then_a_retry_ends_with_every_step_done_once() {
    for step in ["invoice storage", "carrier", "publish"] {
        let w = World::new();
        let id = w.paid_order(0).await;
        match step {
            "invoice storage" => w.invoices.fail.store(1, Ordering::SeqCst),
            "carrier" => w.carrier.fail.store(1, Ordering::SeqCst),
            _ => w.publisher.fail.store(1, Ordering::SeqCst),
        }
        let err = fulfil(&w.deps(), &id).await.unwrap_err();
        let category = err.category();
        assert_eq!(
            fulfil(&w.deps(), &id).await.unwrap(),
            Fulfilment::Done,
            "{step}: the retry finishes"
        );
        let o = w.order(&id).await;
        assert_eq!(o.status(), OrderStatus::Fulfilled, "{step}");
        assert_eq!(
            kinds(&o)
                .iter()
                .filter(|k| **k == TimelineType::InvoiceIssued)
                .count(),
            1,
            "{step}"
        );
        assert_eq!(
            kinds(&o)
                .iter()
                .filter(|k| **k == TimelineType::ShipmentCreated)
                .count(),
            1,
            "{step}"
        );
        assert_eq!(
            w.store.last_invoice_number().await.unwrap(),
            1,
            "{step}: no gap, no second number"
        );
        assert_eq!(
            (w.fulfilled_events(), w.notifier.0.load(Ordering::SeqCst)),
            (1, 1),
            "{step}"
        );
        if step == "carrier" {
            assert_eq!(category, "delivery");
        }
    }
}

#[tokio::test]
async fn invoice_numbers_are_sequential_across_orders() {
    let w = World::new();
    let mut numbers = Vec::new();
    for n in 0..3 {
        let id = w.paid_order(n).await;
        fulfil(&w.deps(), &id).await.unwrap();
        numbers.push(w.order(&id).await.invoice().unwrap().number.clone());
    }
    assert_eq!(numbers, ["INV-000001", "INV-000002", "INV-000003"]);
}

#[tokio::test]
async fn orders_under_review_or_fully_refunded_are_never_fulfilled() {
    let w = World::new();
    let id = w.paid_order(0).await;
    let o = w.order(&id).await;
    let mut refunded = o.clone();
    refunded
        .record_refunds(
            &oms_core::webhook::RefundReport {
                payment_id: None,
                refunds: vec![("rfnd_1".into(), inr(50_000))],
                charge: None,
                our_ids: Vec::new(),
            },
            Timestamp::from_unix_millis(1_800_000_001_000),
        )
        .unwrap();
    assert!(
        w.store
            .save_order(&refunded, o.version(), None)
            .await
            .unwrap()
    );
    assert!(matches!(
        fulfil(&w.deps(), &id).await.unwrap(),
        Fulfilment::Skipped(_)
    ));

    let id2 = w.paid_order(1).await;
    let o2 = w.order(&id2).await;
    let mut dup = o2.clone();
    dup.record_payment(
        &PaymentCapture {
            provider_payment_id: "pay_other".into(),
            amount: inr(50_000),
        },
        Timestamp::from_unix_millis(1_800_000_001_000),
    )
    .unwrap();
    assert!(dup.requires_review());
    assert!(w.store.save_order(&dup, o2.version(), None).await.unwrap());
    assert_eq!(
        fulfil(&w.deps(), &id2).await.unwrap(),
        Fulfilment::Skipped("held for review".into())
    );
    assert_eq!(w.carrier.calls.load(Ordering::SeqCst), 0);
    assert_eq!(w.store.last_invoice_number().await.unwrap(), 0);
    w.clock.advance(Duration::from_secs(1));
}

#[tokio::test]
async fn a_job_for_an_unknown_order_is_an_error_for_the_dead_letter_queue() {
    let w = World::new();
    let id = OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ9").unwrap();
    assert!(matches!(
        fulfil(&w.deps(), &id).await,
        Err(FulfilError::NoSuchOrder(_))
    ));
}

#[tokio::test]
async fn the_job_clears_the_outbox_entry_that_owed_it() {
    let w = World::new();
    let (id, _) = w.paid_order_owing_its_job(0).await;
    assert_eq!(w.store.outbox().len(), 1);
    assert_eq!(fulfil(&w.deps(), &id).await.unwrap(), Fulfilment::Done);
    assert!(
        w.store.outbox().is_empty(),
        "cleared in the job's first write"
    );
    assert_eq!(w.store.last_invoice_number().await.unwrap(), 1);

    // An order held for review gets no fulfilment, and its entry goes too: the sweep must not
    // send its job again and again.
    let (held, entry) = w.paid_order_owing_its_job(1).await;
    let o = w.order(&held).await;
    let mut dup = o.clone();
    dup.record_payment(
        &PaymentCapture {
            provider_payment_id: "pay_other".into(),
            amount: inr(50_000),
        },
        w.clock.now(),
    )
    .unwrap();
    assert!(
        w.store
            .save_order(&dup, o.version(), Some(&entry))
            .await
            .unwrap()
    );
    assert_eq!(
        fulfil(&w.deps(), &held).await.unwrap(),
        Fulfilment::Skipped("held for review".into())
    );
    assert!(w.store.outbox().is_empty());
    assert_eq!(w.carrier.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_carrier_is_never_called_before_the_invoice_document_is_stored() {
    let w = World::new();
    let id = w.paid_order(0).await;
    w.invoices.fail.store(1, Ordering::SeqCst);
    assert!(matches!(
        fulfil(&w.deps(), &id).await,
        Err(FulfilError::Storage(_))
    ));
    let o = w.order(&id).await;
    let inv = o
        .invoice()
        .expect("the number is issued with the lease")
        .clone();
    assert_eq!(inv.number, "INV-000001");
    assert_eq!(w.invoices.get(&inv.key).await.unwrap(), None);
    assert_eq!(
        w.carrier.calls.load(Ordering::SeqCst),
        0,
        "no document, no parcel"
    );

    // The retry stores the document of the invoice as recorded, then ships.
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(fulfil(&w.deps(), &id).await.unwrap(), Fulfilment::Done);
    let o = w.order(&id).await;
    assert_eq!(o.invoice(), Some(&inv), "the same invoice");
    let doc = String::from_utf8(w.invoices.get(&inv.key).await.unwrap().unwrap()).unwrap();
    assert!(doc.contains("INV-000001"), "{doc}");
    assert_eq!(w.carrier.calls.load(Ordering::SeqCst), 1);
    assert_eq!(w.store.last_invoice_number().await.unwrap(), 1);
}
