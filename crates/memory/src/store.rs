//! The in-memory store. One lock guards all state, so each port call is one atomic step —
//! the same all-or-nothing behaviour a DynamoDB transaction gives.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use oms_core::ports::{
    CommitOutcome, CreateOutcome, EventCommit, EventRecord, FulfilmentRead, IdempotencyRecord,
    InvoiceOutcome, OrderPage, OrderStore, OutboxEntry, StockLevel, StockShortage, StoreError,
    UnmatchedTracking, Upserted,
};
use oms_core::search::{EventPage, EventSearch, EventSummary, OrderSearch};
use oms_core::{Order, OrderId, Product, ProviderKind, Sku, StockRecord, Timestamp, UserId};

#[derive(Default)]
struct State {
    products: BTreeMap<Sku, Product>,
    /// Each product's stock adjustments, oldest first: record `n` is at index `n - 1`.
    stock_records: HashMap<Sku, Vec<StockRecord>>,
    orders: HashMap<OrderId, Order>,
    idempotency: HashMap<String, IdempotencyRecord>,
    /// Provider order/session/payment id → order, as the DynamoDB `PAYREF#` items.
    payment_refs: HashMap<(ProviderKind, String), OrderId>,
    events: HashMap<(ProviderKind, String), EventRecord>,
    outbox: HashMap<OrderId, OutboxEntry>,
    last_invoice: u64,
    /// AWB → order, as the DynamoDB `AWB#` items.
    awbs: HashMap<String, OrderId>,
    /// Tracking updates for unknown AWBs: the last one and how many came.
    unmatched_tracking: HashMap<String, (UnmatchedTracking, u32)>,
}

impl State {
    /// Lines of `order` that the catalog cannot cover now.
    fn shortages(&self, order: &Order) -> Vec<StockShortage> {
        order
            .lines()
            .iter()
            .filter_map(|line| {
                let available = self.products.get(&line.sku).map_or(0, |p| p.available);
                (available < line.quantity.get()).then(|| StockShortage {
                    sku: line.sku.clone(),
                    requested: line.quantity.get(),
                    available,
                })
            })
            .collect()
    }

    fn take_stock(&mut self, order: &Order) {
        for line in order.lines() {
            if let Some(p) = self.products.get_mut(&line.sku) {
                p.available -= line.quantity.get();
            }
        }
    }
}

#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl InMemoryStore {
    pub fn new(products: impl IntoIterator<Item = Product>) -> Self {
        let store = Self::default();
        store.lock().products = products.into_iter().map(|p| (p.sku.clone(), p)).collect();
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every mutation
        // below is validated first and then applied without fallible steps.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The order a provider id points at (for tests and the webhook path).
    pub fn order_for_payment_ref(&self, provider: ProviderKind, id: &str) -> Option<OrderId> {
        self.lock()
            .payment_refs
            .get(&(provider, id.to_owned()))
            .cloned()
    }

    /// Outbox entries still owed (for tests and the sweep).
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.lock().outbox.values().cloned().collect()
    }

    /// Every recorded provider event (for tests).
    pub fn events(&self) -> Vec<EventRecord> {
        self.lock().events.values().cloned().collect()
    }
}

/// Cursor = hex of `<userId>#<createdAt>#<orderId>` of the last order on the page; a cursor
/// issued for another user is refused.
/// The `limit` newest of `found` older than `before`, and the position to continue from when
/// more are left.
fn newest_page<T>(
    mut found: Vec<(String, T)>,
    before: Option<&str>,
    limit: u32,
) -> (Vec<T>, Option<String>) {
    found.retain(|(p, _)| before.is_none_or(|b| p.as_str() < b));
    found.sort_by(|a, b| b.0.cmp(&a.0));
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let last = more.then(|| found.last().map(|(p, _)| p.clone())).flatten();
    (found.into_iter().map(|(_, t)| t).collect(), last)
}

fn encode_cursor(user: &UserId, o: &Order) -> String {
    hex::encode(format!("{user}#{}#{}", o.created_at(), o.id()))
}

fn decode_cursor(user: &UserId, c: &str) -> Result<(Timestamp, OrderId), StoreError> {
    let raw = hex::decode(c).map_err(|_| StoreError::InvalidCursor)?;
    let s = String::from_utf8(raw).map_err(|_| StoreError::InvalidCursor)?;
    let mut parts = s.splitn(3, '#');
    let (Some(owner), Some(t), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(StoreError::InvalidCursor);
    };
    if owner != user.as_str() {
        return Err(StoreError::InvalidCursor);
    }
    Ok((
        Timestamp::parse(t).map_err(|_| StoreError::InvalidCursor)?,
        OrderId::parse(id).map_err(|_| StoreError::InvalidCursor)?,
    ))
}

#[async_trait]
impl OrderStore for InMemoryStore {
    async fn list_products(&self) -> Result<Vec<Product>, StoreError> {
        Ok(self.lock().products.values().cloned().collect())
    }

    async fn get_products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let s = self.lock();
        Ok(skus
            .iter()
            .filter_map(|k| s.products.get(k).cloned())
            .collect())
    }

    async fn upsert_product(&self, product: &Product) -> Result<Upserted, StoreError> {
        let mut s = self.lock();
        match s.products.get_mut(&product.sku) {
            Some(existing) => {
                existing.name = product.name.clone();
                existing.unit_price = product.unit_price;
                Ok(Upserted::Updated(existing.clone()))
            }
            None => {
                s.products.insert(product.sku.clone(), product.clone());
                Ok(Upserted::Created(product.clone()))
            }
        }
    }

    async fn get_stock(&self, sku: &Sku) -> Result<Option<StockLevel>, StoreError> {
        let s = self.lock();
        Ok(s.products.get(sku).map(|p| StockLevel {
            product: p.clone(),
            adjustments: s.stock_records.get(sku).map_or(0, |r| r.len() as u64),
        }))
    }

    async fn adjust_stock(&self, record: &StockRecord, expected: u32) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let written = s.stock_records.get(&record.sku);
        // The same record again: a retry of a call that committed (as DynamoDB may see).
        if record.number >= 1
            && written
                .and_then(|r| r.get(record.number as usize - 1))
                .is_some_and(|r| r == record)
        {
            return Ok(true);
        }
        let adjustments = written.map_or(0, |r| r.len() as u64);
        let Some(product) = s.products.get_mut(&record.sku) else {
            return Ok(false);
        };
        if product.available != expected || adjustments + 1 != record.number {
            return Ok(false);
        }
        // Both conditions hold: apply both writes.
        product.available = record.level;
        s.stock_records
            .entry(record.sku.clone())
            .or_default()
            .push(record.clone());
        Ok(true)
    }

    async fn stock_records(
        &self,
        sku: &Sku,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StockRecord>, StoreError> {
        let s = self.lock();
        Ok(s.stock_records
            .get(sku)
            .map(|all| {
                all.iter()
                    .rev()
                    .filter(|r| before.is_none_or(|b| r.number < b))
                    .take(limit as usize)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn get_idempotency(
        &self,
        scope: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self
            .lock()
            .idempotency
            .get(scope)
            .filter(|r| r.expires_at > now)
            .cloned())
    }

    async fn create_order(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<CreateOutcome, StoreError> {
        let mut s = self.lock();
        if let Some(rec) = idempotency
            && let Some(live) = s.idempotency.get(&rec.scope).filter(|r| r.expires_at > now)
        {
            return Ok(CreateOutcome::IdempotencyKeyTaken(live.clone()));
        }
        if s.orders.contains_key(order.id()) {
            return Err(StoreError::Corrupt(format!(
                "order {} already exists",
                order.id()
            )));
        }
        let shortages = s.shortages(order);
        if !shortages.is_empty() {
            return Ok(CreateOutcome::InsufficientStock(shortages));
        }
        // Every condition holds: apply all writes.
        s.take_stock(order);
        let pay = order.payment();
        s.payment_refs.insert(
            (pay.provider, pay.provider_order_id.clone()),
            order.id().clone(),
        );
        if let Some(rec) = idempotency {
            s.idempotency.insert(rec.scope.clone(), rec.clone());
        }
        s.orders.insert(order.id().clone(), order.clone());
        Ok(CreateOutcome::Created)
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.lock().orders.get(id).cloned())
    }

    async fn list_orders_for_user(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError> {
        let after = cursor.map(|c| decode_cursor(user, c)).transpose()?;
        let s = self.lock();
        let mut mine: Vec<&Order> = s
            .orders
            .values()
            .filter(|o| o.user_id() == Some(user))
            .filter(|o| match &after {
                Some((t, id)) => (o.created_at(), o.id()) < (*t, id),
                None => true,
            })
            .collect();
        mine.sort_by(|a, b| (b.created_at(), b.id()).cmp(&(a.created_at(), a.id())));
        let limit = limit as usize;
        let more = mine.len() > limit;
        mine.truncate(limit);
        let next_cursor = if more {
            mine.last().map(|o| encode_cursor(user, o))
        } else {
            None
        };
        Ok(OrderPage {
            orders: mine.into_iter().cloned().collect(),
            next_cursor,
        })
    }

    async fn find_order_by_ref(
        &self,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<OrderId>, StoreError> {
        Ok(self
            .lock()
            .payment_refs
            .get(&(provider, reference.to_owned()))
            .cloned())
    }

    async fn get_event(
        &self,
        provider: ProviderKind,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        Ok(self
            .lock()
            .events
            .get(&(provider, event_id.to_owned()))
            .cloned())
    }

    async fn commit_event(&self, c: EventCommit<'_>) -> Result<CommitOutcome, StoreError> {
        let mut s = self.lock();
        let key = (c.record.provider, c.record.event_id.clone());
        if let Some(existing) = s.events.get(&key) {
            return Ok(CommitOutcome::Duplicate(existing.clone()));
        }
        if let Some((order, expected)) = c.order {
            let current = s.orders.get(order.id()).map(Order::version);
            if current != Some(expected) {
                return Ok(CommitOutcome::VersionConflict);
            }
            if c.reserve_stock {
                let shortages = s.shortages(order);
                if !shortages.is_empty() {
                    return Ok(CommitOutcome::InsufficientStock(shortages));
                }
            }
        }
        // Every condition holds: apply all writes.
        s.events.insert(key, c.record.clone());
        if let Some(order_id) = &c.record.order_id {
            for r in c.payment_refs {
                s.payment_refs
                    .insert((c.record.provider, r), order_id.clone());
            }
        }
        if let Some((order, _)) = c.order {
            if c.reserve_stock {
                s.take_stock(order);
            }
            s.orders.insert(order.id().clone(), order.clone());
        }
        if let Some(entry) = c.outbox {
            s.outbox.insert(entry.order_id.clone(), entry);
        }
        Ok(CommitOutcome::Committed)
    }

    async fn save_order(
        &self,
        order: &Order,
        expected_version: u64,
        outbox: Option<&OutboxEntry>,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.orders.get(order.id()).map(Order::version) != Some(expected_version) {
            return Ok(false);
        }
        s.orders.insert(order.id().clone(), order.clone());
        if let Some(entry) = outbox {
            s.outbox.insert(entry.order_id.clone(), entry.clone());
        }
        Ok(true)
    }

    async fn release_order_stock(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.orders.get(order.id()).map(Order::version) != Some(expected_version) {
            return Ok(false);
        }
        for line in order.lines() {
            if let Some(p) = s.products.get_mut(&line.sku) {
                p.available += line.quantity.get();
            }
        }
        s.orders.insert(order.id().clone(), order.clone());
        Ok(true)
    }

    async fn save_shipped_order(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.orders.get(order.id()).map(Order::version) != Some(expected_version) {
            return Ok(false);
        }
        if let Some(awb) = order
            .shipment()
            .map(|x| x.awb.clone())
            .filter(|a| !a.is_empty())
        {
            s.awbs.insert(awb, order.id().clone());
        }
        s.orders.insert(order.id().clone(), order.clone());
        Ok(true)
    }

    async fn find_order_by_awb(&self, awb: &str) -> Result<Option<OrderId>, StoreError> {
        Ok(self.lock().awbs.get(awb).cloned())
    }

    async fn record_unmatched_tracking(
        &self,
        record: &UnmatchedTracking,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let entry = s
            .unmatched_tracking
            .entry(record.awb.clone())
            .or_insert_with(|| (record.clone(), 0));
        entry.0 = record.clone();
        entry.1 += 1;
        Ok(entry.1 == 1)
    }

    async fn claim_outbox(
        &self,
        order_id: &OrderId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.outbox.get_mut(order_id) {
            Some(entry) if entry.lease_until <= now => {
                entry.lease_until = lease_until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_outbox(&self, order_id: &OrderId, now: Timestamp) -> Result<(), StoreError> {
        if let Some(entry) = self.lock().outbox.get_mut(order_id) {
            entry.lease_until = now;
        }
        Ok(())
    }

    async fn clear_outbox(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.outbox
            .get(&entry.order_id)
            .is_some_and(|e| e.created_at == entry.created_at)
        {
            s.outbox.remove(&entry.order_id);
        }
        Ok(())
    }

    async fn read_for_fulfilment(&self, id: &OrderId) -> Result<FulfilmentRead, StoreError> {
        let s = self.lock();
        Ok(FulfilmentRead {
            order: s.orders.get(id).cloned(),
            last_invoice: s.last_invoice,
            outbox: s.outbox.get(id).cloned(),
        })
    }

    async fn last_invoice_number(&self) -> Result<u64, StoreError> {
        Ok(self.lock().last_invoice)
    }

    async fn issue_invoice(
        &self,
        order: &Order,
        expected_version: u64,
        number: u64,
        clear: Option<&OutboxEntry>,
    ) -> Result<InvoiceOutcome, StoreError> {
        let mut s = self.lock();
        if s.last_invoice + 1 != number {
            return Ok(InvoiceOutcome::NumberTaken);
        }
        let entry_changed = clear.is_some_and(|c| {
            s.outbox
                .get(&c.order_id)
                .is_some_and(|e| e.created_at != c.created_at)
        });
        if s.orders.get(order.id()).map(Order::version) != Some(expected_version) || entry_changed {
            return Ok(InvoiceOutcome::VersionConflict);
        }
        if let Some(c) = clear {
            s.outbox.remove(&c.order_id);
        }
        s.last_invoice = number;
        s.orders.insert(order.id().clone(), order.clone());
        Ok(InvoiceOutcome::Issued)
    }

    async fn stale_unpaid(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        let s = self.lock();
        let mut stale: Vec<&Order> = s
            .orders
            .values()
            .filter(|o| o.awaits_payment() && o.expires_at() < before)
            .collect();
        stale.sort_by_key(|o| (o.expires_at(), o.id().clone()));
        Ok(stale
            .into_iter()
            .take(limit as usize)
            .map(|o| o.id().clone())
            .collect())
    }

    async fn order_events(
        &self,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let s = self.lock();
        let mut events: Vec<EventRecord> = s
            .events
            .values()
            .filter(|e| e.order_id.as_ref() == Some(order_id))
            .cloned()
            .collect();
        events.sort_by(|a, b| (b.received_at, &b.event_id).cmp(&(a.received_at, &a.event_id)));
        events.truncate(limit as usize);
        Ok(events)
    }

    async fn search_orders(
        &self,
        search: &OrderSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError> {
        let before = cursor.map(|c| search.position_of(c)).transpose()?;
        let found: Vec<(String, Order)> = self
            .lock()
            .orders
            .values()
            .filter(|o| search.matches(o))
            .map(|o| (OrderSearch::position(o), o.clone()))
            .collect();
        let (orders, last) = newest_page(found, before.as_deref(), limit);
        Ok(OrderPage {
            orders,
            next_cursor: last.map(|p| search.cursor(&p)),
        })
    }

    async fn search_events(
        &self,
        search: &EventSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        let before = cursor.map(|c| search.position_of(c)).transpose()?;
        let found: Vec<(String, EventSummary)> = self
            .lock()
            .events
            .values()
            .map(EventSummary::from)
            .filter(|e| search.matches(e))
            .map(|e| {
                (
                    EventSearch::position(e.provider, &e.event_id, e.received_at),
                    e,
                )
            })
            .collect();
        let (events, last) = newest_page(found, before.as_deref(), limit);
        Ok(EventPage {
            events,
            next_cursor: last.map(|p| search.cursor(&p)),
        })
    }

    async fn owed_refunds(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        let s = self.lock();
        let mut owed: Vec<(Timestamp, OrderId)> = s
            .orders
            .values()
            .filter(|o| !o.awaits_payment())
            .filter_map(|o| o.refund_work_due().map(|t| (t, o.id().clone())))
            .filter(|(t, _)| *t < before)
            .collect();
        owed.sort();
        Ok(owed
            .into_iter()
            .take(limit as usize)
            .map(|(_, id)| id)
            .collect())
    }

    async fn owed_outbox(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let s = self.lock();
        let mut owed: Vec<OutboxEntry> = s
            .outbox
            .values()
            .filter(|e| e.created_at < before)
            .cloned()
            .collect();
        owed.sort_by_key(|e| (e.created_at, e.order_id.clone()));
        owed.truncate(limit as usize);
        Ok(owed)
    }
}
