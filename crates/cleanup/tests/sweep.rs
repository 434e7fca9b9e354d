//! The cleanup sweep with an injected clock, on the in-memory adapters.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use oms_app::config::Config;
use oms_app::local::Local;
use oms_app::system::RandomIds;
use oms_core::app::Services;
use oms_core::app::create_order::{Buyer, CreateOrderDeps, CreateOrderInput, create_order};
use oms_core::app::sweep::{Settled, settle_unpaid};
use oms_core::app::webhook::handle_event;
use oms_core::ports::{
    CheckoutClosed, CheckoutRequest, Clock, OrderStore, PaymentProvider, PaymentProviders,
    ProviderError,
};
use oms_core::webhook::{razorpay, simulate};
use oms_core::{
    Currency, Money, OrderId, OrderStatus, PaymentInfo, Product, ProviderKind, Sku, Timestamp,
    UserId,
};
use oms_memory::{FaultyQueue, InMemoryQueue, InMemoryStore, ManualClock};

const T0: i64 = 1_800_000_000_000;

struct World {
    services: Services,
    store: Arc<InMemoryStore>,
    queue: Arc<InMemoryQueue>,
    faults: Arc<FaultyQueue>,
    clock: Arc<ManualClock>,
}

fn world(providers: Option<PaymentProviders>) -> World {
    let inr = Currency::parse("INR").unwrap();
    let store = Arc::new(InMemoryStore::new([Product {
        sku: Sku::parse("A").unwrap(),
        name: "A".into(),
        unit_price: Money::new(1_000, inr).unwrap(),
        available: 5,
    }]));
    let clock = Arc::new(ManualClock::at(Timestamp::from_unix_millis(T0)));
    let local = Local::new(
        Config::offline(),
        store.clone(),
        clock.clone(),
        "http://local",
    );
    let queue = local.outlets.queue.clone();
    let faults = Arc::new(FaultyQueue::new(queue.clone()));
    let mut services = local.services;
    services.queue = faults.clone();
    if let Some(p) = providers {
        services.providers = p;
    }
    World {
        services,
        store,
        queue,
        faults,
        clock,
    }
}

impl World {
    async fn order(&self, provider: &str, qty: u32) -> OrderId {
        let input: CreateOrderInput = serde_json::from_value(serde_json::json!({
            "items": [{"sku": "A", "quantity": qty}], "currency": "INR", "paymentProvider": provider,
            "customer": {"email": "a@example.com", "name": "A"},
            "shippingAddress": {"name": "A", "line1": "1", "city": "C", "state": "S", "postalCode": "560001", "country": "IN"}
        }))
        .unwrap();
        let s = &self.services;
        let deps = CreateOrderDeps {
            store: s.store.as_ref(),
            providers: &s.providers,
            clock: s.clock.as_ref(),
            ids: &RandomIds,
            policy: &s.policy,
        };
        let buyer = Buyer::User {
            id: UserId::parse("u1").unwrap(),
            email: None,
        };
        create_order(deps, &buyer, input.parse().unwrap(), None, &|o, _| {
            o.id().to_string()
        })
        .await
        .unwrap()
        .order_id
    }

    async fn pay(&self, id: &OrderId) -> Result<(), oms_core::app::outbox::OutboxError> {
        let o = self.store.get_order(id).await.unwrap().unwrap();
        let body = simulate::razorpay_payment_event(
            "payment.captured",
            &format!("pay_{}", &id.as_str()[20..]),
            &o.payment().provider_order_id,
            Some(id.as_str()),
            o.total(),
        );
        let event = razorpay::normalise(body.as_bytes(), Some(&format!("e_{id}"))).unwrap();
        handle_event(&self.services.outbox_ports(), &event, body.as_bytes())
            .await
            .map(|_| ())
    }

    /// What the worker that receives an order's job writes first, as far as the outbox goes:
    /// the entry that owed the job is cleared (`oms_core::app::fulfil`).
    async fn worker_receives(&self, id: &OrderId) {
        if let Some(entry) = self.store.read_for_fulfilment(id).await.unwrap().outbox {
            self.store.clear_outbox(&entry).await.unwrap();
        }
    }

    async fn status(&self, id: &OrderId) -> OrderStatus {
        self.store.get_order(id).await.unwrap().unwrap().status()
    }

    async fn available(&self) -> u32 {
        self.store
            .get_products(&[Sku::parse("A").unwrap()])
            .await
            .unwrap()[0]
            .available
    }

    fn at_minutes(&self, m: u64) {
        self.clock
            .set(Timestamp::from_unix_millis(T0).plus(Duration::from_secs(m * 60)));
    }

    async fn sweep(&self) -> serde_json::Value {
        serde_json::to_value(cleanup::run(&self.services, 100).await.unwrap()).unwrap()
    }
}

#[tokio::test]
async fn stale_orders_are_cancelled_with_their_stock_back_and_others_left_alone() {
    let w = world(None);
    let stale = w.order("razorpay", 2).await;
    let paid = w.order("razorpay", 1).await;
    w.pay(&paid).await.unwrap();
    w.worker_receives(&paid).await;
    w.at_minutes(20);
    let fresh = w.order("stripe", 1).await;
    assert_eq!(w.available().await, 1);

    w.at_minutes(29);
    assert_eq!(
        w.sweep().await,
        serde_json::json!({"cancelled": 0, "reenqueued": 0, "refundsSent": 0, "reconciled": 0, "refundsChecked": 0, "refundsReconciled": 0}),
        "nothing is stale yet"
    );

    w.at_minutes(31);
    assert_eq!(
        w.sweep().await,
        serde_json::json!({"cancelled": 1, "reenqueued": 0, "refundsSent": 0, "reconciled": 0, "refundsChecked": 0, "refundsReconciled": 0})
    );
    assert_eq!(w.status(&stale).await, OrderStatus::Cancelled);
    assert_eq!(
        w.status(&paid).await,
        OrderStatus::Paid,
        "a paid order is never cancelled"
    );
    assert_eq!(w.status(&fresh).await, OrderStatus::PendingPayment);
    assert_eq!(
        w.available().await,
        3,
        "the stale order's two units are back"
    );

    w.at_minutes(51);
    assert_eq!(w.sweep().await["cancelled"], 1);
    assert_eq!(w.status(&fresh).await, OrderStatus::Cancelled);
    assert_eq!(w.available().await, 4);
    assert_eq!(
        w.sweep().await["cancelled"],
        0,
        "each order is cancelled once"
    );
}

#[tokio::test]
async fn a_paid_order_whose_job_was_never_queued_is_reenqueued_until_a_worker_has_it() {
    let w = world(None);
    let id = w.order("razorpay", 1).await;
    w.faults.fail_next(1);
    assert!(
        w.pay(&id).await.is_err(),
        "the queue was down: the webhook answers 5xx"
    );
    assert_eq!(w.status(&id).await, OrderStatus::Paid);
    assert!(w.queue.sent().is_empty());

    assert_eq!(
        w.sweep().await["reenqueued"],
        0,
        "a job this young is still the webhook's to send"
    );
    w.clock.advance(Duration::from_secs(61));
    assert_eq!(w.sweep().await["reenqueued"], 1);
    assert_eq!(w.queue.sent().len(), 1);
    assert_eq!(w.queue.sent()[0].order_id, id);
    assert_eq!(
        w.sweep().await["reenqueued"],
        0,
        "the sweep holds the entry's lease"
    );
    // Until a worker receives the job, it is still owed: once the sweep's lease runs out, the
    // next sweep sends another copy (the worker's claims make the copy a no-op).
    w.clock.advance(Duration::from_secs(31));
    assert_eq!(w.sweep().await["reenqueued"], 1);
    assert_eq!(w.queue.sent().len(), 2);
    w.worker_receives(&id).await;
    w.clock.advance(Duration::from_secs(600));
    assert_eq!(w.sweep().await["reenqueued"], 0);
    assert_eq!(w.queue.sent().len(), 2, "nothing more once a worker has it");
}

/// A Stripe stand-in whose session was paid meanwhile.
struct PaidMeanwhile;

#[async_trait]
impl PaymentProvider for PaidMeanwhile {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Stripe
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        Ok(PaymentInfo {
            provider: ProviderKind::Stripe,
            provider_order_id: format!("cs_test_{}", req.order_id),
            provider_payment_id: None,
            checkout_url: None,
            key_id: None,
            captured: None,
        })
    }

    async fn close_checkout(&self, _: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        Ok(CheckoutClosed::AlreadyPaid)
    }

    /// Stripe's session says it was paid: its PaymentIntent, for the whole amount.
    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<oms_core::ports::FoundPayment>, ProviderError> {
        Ok(vec![oms_core::ports::FoundPayment {
            payment_id: format!("pi_{}", &payment.provider_order_id[8..20]),
            amount: oms_core::Money::new(1_000, oms_core::Currency::parse("INR").expect("INR"))
                .expect("amount"),
            status: oms_core::ports::FoundPaymentStatus::Captured,
        }])
    }

    async fn refund(
        &self,
        _: &oms_core::ports::RefundCall,
    ) -> Result<oms_core::ports::ProviderRefund, ProviderError> {
        unreachable!("the sweep never refunds an order whose checkout it is closing")
    }

    async fn get_refund(
        &self,
        _: &str,
        _: &str,
    ) -> Result<oms_core::ports::ProviderRefund, ProviderError> {
        unreachable!("an order whose checkout it is closing has no refund to look up")
    }
}

#[tokio::test]
async fn an_order_whose_checkout_was_paid_meanwhile_is_paid_from_the_provider_not_cancelled() {
    let w = world(Some(PaymentProviders::new(vec![Arc::new(PaidMeanwhile)])));
    let id = w.order("stripe", 1).await;
    w.at_minutes(45);
    let report = w.sweep().await;
    assert_eq!(
        (report["cancelled"].clone(), report["reconciled"].clone()),
        (0.into(), 1.into())
    );
    assert_eq!(
        w.status(&id).await,
        OrderStatus::Paid,
        "the payment its webhook would have brought, fetched from Stripe"
    );
}

#[tokio::test]
async fn an_order_held_for_review_after_the_sweep_listed_it_is_left_for_a_person() {
    let w = world(None);
    let id = w.order("razorpay", 2).await;
    w.at_minutes(31);
    let listed = w.store.stale_unpaid(w.clock.now(), 10).await.unwrap();
    assert_eq!(listed, vec![id.clone()], "the sweep would list it");
    // Between the listing and the sweep's read, an unreadable capture holds it for a person.
    let order = w.store.get_order(&id).await.unwrap().unwrap();
    let mut held = order.clone();
    held.hold_unreadable("amount unreadable", w.clock.now())
        .unwrap();
    assert!(
        w.store
            .save_order(&held, order.version(), None)
            .await
            .unwrap()
    );

    let settled = settle_unpaid(&w.services, &id).await;
    assert!(
        matches!(settled, Ok(Settled::Left)),
        "not cancelled, not an error: {settled:?}"
    );
    assert_eq!(w.status(&id).await, OrderStatus::PendingPayment);
    assert_eq!(w.available().await, 3, "its stock stays with it");
}
