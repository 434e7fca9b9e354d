//! Fault injection: wrappers that make a port fail on demand, around any adapter (in memory or
//! AWS), for tests of what happens when a dependency is down.
//!
//! - [`FaultyQueue`]: the next `n` job sends fail, and [`FaultyCarrier`]: the carrier is down
//!   until told otherwise (the dev server's switches for tests).
//! - [`FaultPlan`] and the `Faulty…` wrappers: every call through any wrapped port is numbered
//!   in one sequence, and the call numbered `k` fails in one of three ways ([`Fault`]). A test
//!   first runs a scenario with no fault to count its calls, then once for every `k` and every
//!   kind, and checks the invariants each time.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use oms_core::ports::{
    BackfillPage, BackfillQuery, Carrier, CarrierError, CheckoutClosed, CheckoutRequest,
    CommitOutcome, CreateOutcome, DeadJob, DeadJobs, DownloadLinks, EventCommit, EventPublisher,
    EventRecord, FoundPayment, FulfilmentJob, FulfilmentRead, IdempotencyRecord, InvoiceOutcome,
    InvoiceStorage, JobQueue, LinkError, Message, Notifier, NotifyError, OrderPage, OrderStore,
    OutboxEntry, PaymentProvider, ProviderError, ProviderRefund, ProviderSecrets, PublishError,
    QueueError, RefundCall, SecretError, SecretSource, ShipmentCancel, StockLevel, StorageError,
    StoreError, Topic, UnmatchedTracking, Upserted,
};
use oms_core::search::{EventPage, EventSearch, OrderSearch};
use oms_core::{
    Order, OrderId, PaymentInfo, Product, ProviderKind, ShipmentInfo, Sku, StockRecord, Timestamp,
    UserId,
};

use crate::ManualClock;

/// A job queue whose next `n` sends fail as an unreachable queue would.
pub struct FaultyQueue {
    inner: Arc<dyn JobQueue>,
    failures: AtomicUsize,
}

impl FaultyQueue {
    pub fn new(inner: Arc<dyn JobQueue>) -> Self {
        Self {
            inner,
            failures: AtomicUsize::new(0),
        }
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl JobQueue for FaultyQueue {
    async fn send(&self, job: &FulfilmentJob) -> Result<(), QueueError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(QueueError("injected failure".into()));
        }
        self.inner.send(job).await
    }
}

/// A carrier that, while its outage is on, cannot be reached: every call answers
/// `Unavailable` (the dev server's switch for tests of jobs that fail for good).
pub struct FaultyCarrier {
    inner: Arc<dyn Carrier>,
    down: std::sync::atomic::AtomicBool,
}

impl FaultyCarrier {
    pub fn new(inner: Arc<dyn Carrier>) -> Self {
        Self {
            inner,
            down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Starts (`true`) or ends (`false`) the outage.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), CarrierError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(CarrierError::Unavailable("injected outage".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Carrier for FaultyCarrier {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn create_shipment(&self, order: &Order) -> Result<ShipmentInfo, CarrierError> {
        self.check()?;
        self.inner.create_shipment(order).await
    }

    async fn cancel_shipment(
        &self,
        shipment: &ShipmentInfo,
    ) -> Result<ShipmentCancel, CarrierError> {
        self.check()?;
        self.inner.cancel_shipment(shipment).await
    }
}

/// How the chosen call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The dependency refuses or cannot be reached: nothing is applied, the caller gets an
    /// error.
    Refused,
    /// The call hangs past the caller's patience — the injected clock moves on by
    /// [`FaultPlan::TIMEOUT`], longer than the outbox lease — is applied late, and the caller
    /// gets an error.
    Timeout,
    /// The call is applied, but its answer is lost: the caller gets an error for work that
    /// was done.
    LostAnswer,
}

impl Fault {
    pub const ALL: [Fault; 3] = [Fault::Refused, Fault::Timeout, Fault::LostAnswer];
}

/// Numbers every call through the wrappers that share it, and fails the chosen one.
#[derive(Debug)]
pub struct FaultPlan {
    target: Option<(usize, Fault)>,
    clock: Arc<ManualClock>,
    calls: Mutex<Vec<&'static str>>,
}

impl FaultPlan {
    /// How long a [`Fault::Timeout`] hangs on the injected clock.
    pub const TIMEOUT: Duration = Duration::from_secs(35);

    /// A plan that fails call `k` (0-based) with `fault`, or none with `None`.
    pub fn new(target: Option<(usize, Fault)>, clock: Arc<ManualClock>) -> Arc<Self> {
        Arc::new(Self {
            target,
            clock,
            calls: Mutex::new(Vec::new()),
        })
    }

    /// Every call made so far, by port and operation (`store.get_order`, …), in order.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The operation the fault was injected into, once it has been.
    pub fn injected_at(&self) -> Option<(&'static str, Fault)> {
        let (k, fault) = self.target?;
        self.calls().get(k).map(|op| (*op, fault))
    }

    fn next(&self, op: &'static str) -> Option<Fault> {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let n = calls.len();
        calls.push(op);
        match self.target {
            Some((k, fault)) if k == n => Some(fault),
            _ => None,
        }
    }

    /// Runs `call` (a lazy future: dropping it unpolled means it never happened) as the plan
    /// says.
    async fn run<T, E>(
        &self,
        op: &'static str,
        error: impl FnOnce(String) -> E,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        match self.next(op) {
            None => call.await,
            Some(Fault::Refused) => Err(error(format!("injected: {op} refused"))),
            Some(Fault::Timeout) => {
                self.clock.advance(Self::TIMEOUT);
                let _ = call.await;
                Err(error(format!("injected: {op} timed out")))
            }
            Some(Fault::LostAnswer) => {
                let _ = call.await;
                Err(error(format!("injected: the answer of {op} was lost")))
            }
        }
    }
}

/// Wraps an adapter so that its calls go through a [`FaultPlan`].
pub struct Faulty<P: ?Sized> {
    inner: Arc<P>,
    plan: Arc<FaultPlan>,
}

impl<P: ?Sized> Faulty<P> {
    pub fn new(inner: Arc<P>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

fn store_err(m: String) -> StoreError {
    StoreError::Unavailable(m)
}

#[async_trait]
impl<P: OrderStore + ?Sized> OrderStore for Faulty<P> {
    async fn list_products(&self) -> Result<Vec<Product>, StoreError> {
        let call = self.inner.list_products();
        self.plan.run("store.list_products", store_err, call).await
    }

    async fn get_products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let call = self.inner.get_products(skus);
        self.plan.run("store.get_products", store_err, call).await
    }

    async fn upsert_product(&self, product: &Product) -> Result<Upserted, StoreError> {
        let call = self.inner.upsert_product(product);
        self.plan.run("store.upsert_product", store_err, call).await
    }

    async fn get_stock(&self, sku: &Sku) -> Result<Option<StockLevel>, StoreError> {
        let call = self.inner.get_stock(sku);
        self.plan.run("store.get_stock", store_err, call).await
    }

    async fn adjust_stock(&self, record: &StockRecord, expected: u32) -> Result<bool, StoreError> {
        let call = self.inner.adjust_stock(record, expected);
        self.plan.run("store.adjust_stock", store_err, call).await
    }

    async fn stock_records(
        &self,
        sku: &Sku,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StockRecord>, StoreError> {
        let call = self.inner.stock_records(sku, before, limit);
        self.plan.run("store.stock_records", store_err, call).await
    }

    async fn get_idempotency(
        &self,
        scope: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let call = self.inner.get_idempotency(scope, now);
        self.plan
            .run("store.get_idempotency", store_err, call)
            .await
    }

    async fn create_order(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<CreateOutcome, StoreError> {
        let call = self.inner.create_order(order, idempotency, now);
        self.plan.run("store.create_order", store_err, call).await
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let call = self.inner.get_order(id);
        self.plan.run("store.get_order", store_err, call).await
    }

    async fn list_orders_for_user(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError> {
        let call = self.inner.list_orders_for_user(user, limit, cursor);
        self.plan
            .run("store.list_orders_for_user", store_err, call)
            .await
    }

    async fn find_order_by_ref(
        &self,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<OrderId>, StoreError> {
        let call = self.inner.find_order_by_ref(provider, reference);
        self.plan
            .run("store.find_order_by_ref", store_err, call)
            .await
    }

    async fn get_event(
        &self,
        provider: ProviderKind,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        let call = self.inner.get_event(provider, event_id);
        self.plan.run("store.get_event", store_err, call).await
    }

    async fn commit_event(&self, commit: EventCommit<'_>) -> Result<CommitOutcome, StoreError> {
        let call = self.inner.commit_event(commit);
        self.plan.run("store.commit_event", store_err, call).await
    }

    async fn save_order(
        &self,
        order: &Order,
        expected_version: u64,
        outbox: Option<&OutboxEntry>,
    ) -> Result<bool, StoreError> {
        let call = self.inner.save_order(order, expected_version, outbox);
        self.plan.run("store.save_order", store_err, call).await
    }

    async fn release_order_stock(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let call = self.inner.release_order_stock(order, expected_version);
        self.plan
            .run("store.release_order_stock", store_err, call)
            .await
    }

    async fn save_shipped_order(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let call = self.inner.save_shipped_order(order, expected_version);
        self.plan
            .run("store.save_shipped_order", store_err, call)
            .await
    }

    async fn find_order_by_awb(&self, awb: &str) -> Result<Option<OrderId>, StoreError> {
        let call = self.inner.find_order_by_awb(awb);
        self.plan
            .run("store.find_order_by_awb", store_err, call)
            .await
    }

    async fn record_unmatched_tracking(
        &self,
        record: &UnmatchedTracking,
    ) -> Result<bool, StoreError> {
        let call = self.inner.record_unmatched_tracking(record);
        self.plan
            .run("store.record_unmatched_tracking", store_err, call)
            .await
    }

    async fn claim_outbox(
        &self,
        order_id: &OrderId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, StoreError> {
        let call = self.inner.claim_outbox(order_id, now, lease_until);
        self.plan.run("store.claim_outbox", store_err, call).await
    }

    async fn release_outbox(&self, order_id: &OrderId, now: Timestamp) -> Result<(), StoreError> {
        let call = self.inner.release_outbox(order_id, now);
        self.plan.run("store.release_outbox", store_err, call).await
    }

    async fn clear_outbox(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let call = self.inner.clear_outbox(entry);
        self.plan.run("store.clear_outbox", store_err, call).await
    }

    async fn stale_unpaid(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        let call = self.inner.stale_unpaid(before, limit);
        self.plan.run("store.stale_unpaid", store_err, call).await
    }

    async fn order_events(
        &self,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let call = self.inner.order_events(order_id, limit);
        self.plan.run("store.order_events", store_err, call).await
    }

    async fn search_orders(
        &self,
        search: &OrderSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError> {
        let call = self.inner.search_orders(search, limit, cursor);
        self.plan.run("store.search_orders", store_err, call).await
    }

    async fn search_events(
        &self,
        search: &EventSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        let call = self.inner.search_events(search, limit, cursor);
        self.plan.run("store.search_events", store_err, call).await
    }

    async fn owed_refunds(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        let call = self.inner.owed_refunds(before, limit);
        self.plan.run("store.owed_refunds", store_err, call).await
    }

    async fn owed_outbox(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let call = self.inner.owed_outbox(before, limit);
        self.plan.run("store.owed_outbox", store_err, call).await
    }

    async fn last_invoice_number(&self) -> Result<u64, StoreError> {
        let call = self.inner.last_invoice_number();
        self.plan
            .run("store.last_invoice_number", store_err, call)
            .await
    }

    async fn read_for_fulfilment(&self, id: &OrderId) -> Result<FulfilmentRead, StoreError> {
        let call = self.inner.read_for_fulfilment(id);
        self.plan
            .run("store.read_for_fulfilment", store_err, call)
            .await
    }

    async fn issue_invoice(
        &self,
        order: &Order,
        expected_version: u64,
        number: u64,
        clear: Option<&OutboxEntry>,
    ) -> Result<InvoiceOutcome, StoreError> {
        let call = self
            .inner
            .issue_invoice(order, expected_version, number, clear);
        self.plan.run("store.issue_invoice", store_err, call).await
    }
}

#[async_trait]
impl<P: JobQueue + ?Sized> JobQueue for Faulty<P> {
    async fn send(&self, job: &FulfilmentJob) -> Result<(), QueueError> {
        let call = self.inner.send(job);
        self.plan.run("queue.send", QueueError, call).await
    }
}

#[async_trait]
impl<P: DeadJobs + ?Sized> DeadJobs for Faulty<P> {
    async fn list(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError> {
        let call = self.inner.list(limit);
        self.plan.run("dead_jobs.list", QueueError, call).await
    }

    async fn redrive(&self, limit: u32) -> Result<u32, QueueError> {
        let call = self.inner.redrive(limit);
        self.plan.run("dead_jobs.redrive", QueueError, call).await
    }
}

#[async_trait]
impl<P: EventPublisher + ?Sized> EventPublisher for Faulty<P> {
    async fn publish(&self, topic: Topic, message: &Message) -> Result<(), PublishError> {
        let call = self.inner.publish(topic, message);
        self.plan.run("publisher.publish", PublishError, call).await
    }
}

#[async_trait]
impl<P: SecretSource + ?Sized> SecretSource for Faulty<P> {
    async fn provider(&self, kind: ProviderKind) -> Result<ProviderSecrets, SecretError> {
        let call = self.inner.provider(kind);
        self.plan.run("secrets.provider", SecretError, call).await
    }
}

#[async_trait]
impl<P: InvoiceStorage + ?Sized> InvoiceStorage for Faulty<P> {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        let call = self.inner.put(key, body, content_type);
        self.plan.run("invoices.put", StorageError, call).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let call = self.inner.get(key);
        self.plan.run("invoices.get", StorageError, call).await
    }
}

#[async_trait]
impl<P: DownloadLinks + ?Sized> DownloadLinks for Faulty<P> {
    async fn link(&self, sku: &Sku, ttl: Duration, now: Timestamp) -> Result<String, LinkError> {
        let call = self.inner.link(sku, ttl, now);
        self.plan.run("downloads.link", LinkError, call).await
    }
}

#[async_trait]
impl<P: Carrier + ?Sized> Carrier for Faulty<P> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn create_shipment(&self, order: &Order) -> Result<ShipmentInfo, CarrierError> {
        let call = self.inner.create_shipment(order);
        self.plan
            .run("carrier.create_shipment", CarrierError::Unavailable, call)
            .await
    }

    async fn cancel_shipment(
        &self,
        shipment: &ShipmentInfo,
    ) -> Result<ShipmentCancel, CarrierError> {
        let call = self.inner.cancel_shipment(shipment);
        self.plan
            .run("carrier.cancel_shipment", CarrierError::Unavailable, call)
            .await
    }
}

#[async_trait]
impl<P: Notifier + ?Sized> Notifier for Faulty<P> {
    async fn order_fulfilled(&self, order: &Order) -> Result<(), NotifyError> {
        let call = self.inner.order_fulfilled(order);
        self.plan
            .run("notifier.order_fulfilled", NotifyError, call)
            .await
    }

    async fn shipment_update(
        &self,
        order: &Order,
        state: oms_core::tracking::ShipmentState,
    ) -> Result<(), NotifyError> {
        let call = self.inner.shipment_update(order, state);
        self.plan
            .run("notifier.shipment_update", NotifyError, call)
            .await
    }
}

#[async_trait]
impl<P: PaymentProvider + ?Sized> PaymentProvider for Faulty<P> {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        let call = self.inner.create_checkout(req);
        self.plan
            .run("provider.create_checkout", ProviderError::Unavailable, call)
            .await
    }

    async fn close_checkout(&self, payment: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        let call = self.inner.close_checkout(payment);
        self.plan
            .run("provider.close_checkout", ProviderError::Unavailable, call)
            .await
    }

    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<FoundPayment>, ProviderError> {
        let call = self.inner.find_payments(payment);
        self.plan
            .run("provider.find_payments", ProviderError::Unavailable, call)
            .await
    }

    async fn refund(&self, call: &RefundCall) -> Result<ProviderRefund, ProviderError> {
        let inner = self.inner.refund(call);
        self.plan
            .run("provider.refund", ProviderError::Unavailable, inner)
            .await
    }

    async fn get_refund(
        &self,
        payment_id: &str,
        provider_refund_id: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let call = self.inner.get_refund(payment_id, provider_refund_id);
        self.plan
            .run("provider.get_refund", ProviderError::Unavailable, call)
            .await
    }

    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        let call = self.inner.backfill_page(query);
        self.plan
            .run("provider.backfill_page", ProviderError::Unavailable, call)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryQueue;
    use oms_core::ports::Clock;

    fn job() -> FulfilmentJob {
        FulfilmentJob::new(OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap())
    }

    #[tokio::test]
    async fn a_stock_adjustment_is_two_numbered_calls_and_a_failure_in_either_is_reported() {
        use crate::InMemoryStore;
        use oms_core::app::catalog::{self, StockInput};
        use oms_core::{Currency, Money, UserId};

        let clock = Arc::new(ManualClock::at(Timestamp::from_unix_millis(0)));
        let sku = Sku::parse("CHAI").unwrap();
        let admin = UserId::parse("ops").unwrap();
        let seeded = || {
            Arc::new(InMemoryStore::new([Product {
                sku: sku.clone(),
                name: "Chai".into(),
                unit_price: Money::new(100, Currency::parse("INR").unwrap()).unwrap(),
                available: 5,
            }]))
        };
        let write_off = || StockInput {
            delta: -2,
            reason: "damaged".into(),
        };

        let plan = FaultPlan::new(None, clock.clone());
        let faulty = Faulty::new(seeded(), plan.clone());
        catalog::adjust_stock(&faulty, clock.as_ref(), &admin, "CHAI", write_off())
            .await
            .unwrap();
        assert_eq!(plan.calls(), vec!["store.get_stock", "store.adjust_stock"]);
        faulty.stock_records(&sku, None, 10).await.unwrap();
        faulty
            .upsert_product(
                &faulty
                    .get_products(std::slice::from_ref(&sku))
                    .await
                    .unwrap()[0],
            )
            .await
            .unwrap();
        assert_eq!(
            plan.calls()[2..],
            [
                "store.stock_records",
                "store.get_products",
                "store.upsert_product"
            ]
        );

        for k in 0..2 {
            for fault in Fault::ALL {
                let inner = seeded();
                let plan = FaultPlan::new(Some((k, fault)), clock.clone());
                let faulty = Faulty::new(inner.clone(), plan.clone());
                let result =
                    catalog::adjust_stock(&faulty, clock.as_ref(), &admin, "CHAI", write_off())
                        .await;
                assert!(result.is_err(), "call {k} fails ({fault:?})");
                // Only the write itself can have been applied, and then exactly once.
                let applied = k == 1 && fault != Fault::Refused;
                let level = inner.get_stock(&sku).await.unwrap().unwrap();
                let kept = inner.stock_records(&sku, None, 10).await.unwrap();
                assert_eq!(
                    (level.product.available, level.adjustments, kept.len()),
                    if applied { (3, 1, 1) } else { (5, 0, 0) },
                    "call {k} ({fault:?})"
                );
            }
        }
    }

    #[tokio::test]
    async fn only_the_chosen_call_fails_and_each_kind_fails_its_own_way() {
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix_millis(0)));
        for (fault, applied) in [
            (Fault::Refused, 1),
            (Fault::Timeout, 2),
            (Fault::LostAnswer, 2),
        ] {
            let inner = Arc::new(InMemoryQueue::default());
            let plan = FaultPlan::new(Some((1, fault)), clock.clone());
            let q = Faulty::new(inner.clone(), plan.clone());
            let before = clock.now();
            assert!(q.send(&job()).await.is_ok(), "call 0 is not the target");
            assert!(q.send(&job()).await.is_err(), "call 1 fails ({fault:?})");
            assert!(q.send(&job()).await.is_ok(), "call 2 is not the target");
            assert_eq!(inner.sent().len(), applied + 1, "{fault:?}");
            assert_eq!(plan.calls(), vec!["queue.send"; 3]);
            assert_eq!(plan.injected_at(), Some(("queue.send", fault)));
            let moved = clock.now().unix_millis() - before.unix_millis();
            let expected = if fault == Fault::Timeout { 35_000 } else { 0 };
            assert_eq!(moved, expected, "{fault:?}");
        }
    }
}
