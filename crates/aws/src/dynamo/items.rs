//! Item codecs: how each record the store keeps (an order, a product and its stock, a stock
//! adjustment, a provider event, an idempotency record, an outbox entry, a payment reference,
//! the invoice counter) becomes a DynamoDB item and back. The attribute names written here are
//! the stored data (`docs/data-model.md`); `tests/stored_shape.rs` pins them, because renaming
//! one is a data migration, not a refactoring.
//!
//! The codec functions are `pub` (and the module hidden from the docs) only so that test can
//! call them; the item structs stay private.

use oms_core::ports::{
    EventOutcome, EventRecord, EventSource, IdempotencyRecord, OutboxEntry, StockLevel, StoreError,
    Trace,
};
use oms_core::search::{EventSearch, EventSummary, OrderSearch};
use oms_core::{
    Currency, Money, Order, OrderId, Product, ProviderKind, Sku, StockRecord, Timestamp, UserId,
};
use serde::{Deserialize, Serialize};

use super::errors::corrupt;
use super::keys::{
    ATTENTION, event_pk, idempotency_pk, key, order_events_pk, order_pk, outbox_pk, outcome_pk,
    payref_pk, product_pk, status_pk, stock_sk, user_pk,
};
use super::{Item, n, s};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    /// The ops console's search (`ATTENTION` or `STATUS#<status>`, `<createdAt>#<orderId>`);
    /// absent on orders written before it existed until they are next written.
    #[serde(rename = "GSI3PK", default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(rename = "GSI3SK", default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    status: String,
    /// Held for review / with an open dispute: what a search of `ATTENTION` filters on.
    #[serde(default)]
    requires_review: bool,
    #[serde(default)]
    disputed: bool,
    version: u64,
    data: Order,
}

/// An order: the domain `Order` whole in `data`, `status` and `version` beside it for conditions,
/// and the index keys of "my orders" (signed-in owners) and of the sweep (while unpaid, or while
/// refund work is owed: a call, or a check of a pending refund).
pub fn order_item(o: &Order) -> Result<Item, StoreError> {
    let user = o.user_id().map(user_pk);
    // GSI2 holds an order while the sweep owes it work: cancelling it once its payment window
    // ends (unpaid), or refund work (a paid order, so never both) — calling the provider for a
    // refund still `requested`, or asking it about one still `pending` once its check is due —
    // sorted by when that work is next due.
    let sweep = if o.awaits_payment() {
        Some(("UNPAID", o.expires_at()))
    } else {
        o.refund_work_due().map(|t| ("REFUND_OWED", t))
    };
    let item = OrderItem {
        pk: order_pk(o.id()),
        sk: "ORDER".into(),
        gsi1sk: user
            .as_ref()
            .map(|_| format!("{}#{}", o.created_at(), o.id())),
        gsi1pk: user,
        gsi2pk: sweep.map(|(p, _)| p.to_owned()),
        gsi2sk: sweep.map(|(_, t)| format!("{t}#{}", o.id())),
        gsi3pk: Some(if o.requires_review() || o.has_open_dispute() {
            ATTENTION.to_owned()
        } else {
            status_pk(o.status())
        }),
        gsi3sk: Some(OrderSearch::position(o)),
        status: o.status().as_str().into(),
        requires_review: o.requires_review(),
        disputed: o.has_open_dispute(),
        version: o.version(),
        data: o.clone(),
    };
    serde_dynamo::to_item(item).map_err(|e| corrupt("encoding an order", e))
}

/// The order in an order item.
pub fn order_from(item: Item) -> Result<Order, StoreError> {
    let it: OrderItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("decoding an order", e))?;
    Ok(it.data)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI2PK")]
    gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    gsi2sk: String,
    sku: String,
    name: String,
    unit_price: i64,
    currency: String,
    available: u32,
    /// Stock adjustments recorded for the product; absent (0) on products never adjusted.
    #[serde(default)]
    adjustments: u64,
}

/// A catalog product, as `put_products` seeds it (no adjustments yet).
pub fn product_item(p: &Product) -> Result<Item, StoreError> {
    serde_dynamo::to_item(ProductItem {
        pk: product_pk(&p.sku),
        sk: "PRODUCT".into(),
        gsi2pk: "PRODUCT".into(),
        gsi2sk: p.sku.to_string(),
        sku: p.sku.to_string(),
        name: p.name.clone(),
        unit_price: p.unit_price.minor(),
        currency: p.unit_price.currency().as_str().into(),
        available: p.available,
        adjustments: 0,
    })
    .map_err(|e| corrupt("encoding a product", e))
}

/// The product in a product item.
pub fn product_from(item: Item) -> Result<Product, StoreError> {
    stock_from(item).map(|s| s.product)
}

/// A product item with its count of stock adjustments.
pub fn stock_from(item: Item) -> Result<StockLevel, StoreError> {
    let p: ProductItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("decoding a product", e))?;
    let currency = Currency::parse_any(&p.currency).map_err(|e| corrupt("product currency", e))?;
    Ok(StockLevel {
        product: Product {
            sku: Sku::parse(&p.sku).map_err(|e| corrupt("product sku", e))?,
            name: p.name,
            unit_price: Money::new(p.unit_price, currency)
                .map_err(|e| corrupt("product price", e))?,
            available: p.available,
        },
        adjustments: p.adjustments,
    })
}

/// One stock adjustment, in its product's partition: no index attribute, so the catalog query
/// (GSI2 `PRODUCT`) never sees it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StockItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    sku: Sku,
    number: u64,
    at: Timestamp,
    by: UserId,
    delta: i64,
    reason: String,
    level: u32,
}

/// One stock adjustment, under its product.
pub fn stock_item(r: &StockRecord) -> Result<Item, StoreError> {
    serde_dynamo::to_item(StockItem {
        pk: product_pk(&r.sku),
        sk: stock_sk(r.number),
        sku: r.sku.clone(),
        number: r.number,
        at: r.at,
        by: r.by.clone(),
        delta: r.delta,
        reason: r.reason.clone(),
        level: r.level,
    })
    .map_err(|e| corrupt("encoding a stock record", e))
}

/// The stock adjustment in a stock item.
pub fn stock_record_from(item: Item) -> Result<StockRecord, StoreError> {
    let i: StockItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("decoding a stock record", e))?;
    Ok(StockRecord {
        sku: i.sku,
        number: i.number,
        at: i.at,
        by: i.by,
        delta: i.delta,
        reason: i.reason,
        level: i.level,
    })
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    scope: String,
    request_hash: String,
    order_id: OrderId,
    response: String,
    created_at: Timestamp,
    expires_at: Timestamp,
    expires_at_ms: i64,
    /// DynamoDB TTL (epoch seconds).
    ttl: i64,
}

/// An idempotency record, with `expiresAtMs` for the create condition and `ttl` for DynamoDB.
pub fn idempotency_item(r: &IdempotencyRecord) -> Result<Item, StoreError> {
    serde_dynamo::to_item(IdempotencyItem {
        pk: idempotency_pk(&r.scope),
        sk: "IDEMP".into(),
        scope: r.scope.clone(),
        request_hash: r.request_hash.clone(),
        order_id: r.order_id.clone(),
        response: r.response.clone(),
        created_at: r.created_at,
        expires_at: r.expires_at,
        expires_at_ms: r.expires_at.unix_millis(),
        ttl: r.expires_at.unix_seconds(),
    })
    .map_err(|e| corrupt("encoding an idempotency record", e))
}

/// The idempotency record in an idempotency item.
pub fn idempotency_from(item: Item) -> Result<IdempotencyRecord, StoreError> {
    let i: IdempotencyItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("decoding an idempotency record", e))?;
    Ok(IdempotencyRecord {
        scope: i.scope,
        request_hash: i.request_hash,
        order_id: i.order_id,
        response: i.response,
        created_at: i.created_at,
        expires_at: i.expires_at,
    })
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    provider: ProviderKind,
    event_id: String,
    event_type: String,
    received_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order_id: Option<OrderId>,
    outcome: String,
    detail: String,
    payload: String,
    expires_at: Timestamp,
    ttl: i64,
    /// `webhook`, `reconciliation`, `replay` or `backfill`; absent on records written before it
    /// was stored, whose source their id tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    /// The order's events (`EVENTS#<orderId>`, newest first by `<receivedAt>#…`), for the
    /// ops console; absent while no order is known.
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    /// The ops console's event search (`OUTCOME#<outcome>`, `<receivedAt>#<provider>#<id>`).
    #[serde(rename = "GSI3PK", default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(rename = "GSI3SK", default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
}

/// What GSI3 projects of an event item: everything but the raw body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventSummaryItem {
    provider: ProviderKind,
    event_id: String,
    event_type: String,
    received_at: Timestamp,
    #[serde(default)]
    order_id: Option<OrderId>,
    outcome: String,
    detail: String,
    #[serde(default)]
    source: Option<String>,
}

/// A provider event's dedupe and audit record, with `ttl` for DynamoDB.
pub fn event_item(r: &EventRecord) -> Result<Item, StoreError> {
    serde_dynamo::to_item(EventItem {
        pk: event_pk(r.provider, &r.event_id),
        sk: "EVENT".into(),
        provider: r.provider,
        event_id: r.event_id.clone(),
        event_type: r.event_type.clone(),
        received_at: r.received_at,
        order_id: r.order_id.clone(),
        outcome: r.outcome.as_str().into(),
        detail: r.detail.clone(),
        payload: r.payload.clone(),
        expires_at: r.expires_at,
        ttl: r.expires_at.unix_seconds(),
        source: Some(r.source.as_str().into()),
        gsi1pk: r.order_id.as_ref().map(order_events_pk),
        gsi1sk: r
            .order_id
            .as_ref()
            .map(|_| format!("{}#{}#{}", r.received_at, r.provider.as_str(), r.event_id)),
        gsi3pk: Some(outcome_pk(r.outcome)),
        gsi3sk: Some(EventSearch::position(
            r.provider,
            &r.event_id,
            r.received_at,
        )),
    })
    .map_err(|e| corrupt("encoding an event record", e))
}

/// The event record in an event item.
pub fn event_from(item: Item) -> Result<EventRecord, StoreError> {
    let e: EventItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("decoding an event", e))?;
    let source = match &e.source {
        Some(s) => EventSource::parse(s).ok_or_else(|| corrupt("event source", s))?,
        None => EventSource::of(&e.event_id),
    };
    Ok(EventRecord {
        source,
        provider: e.provider,
        event_id: e.event_id,
        event_type: e.event_type,
        received_at: e.received_at,
        order_id: e.order_id,
        outcome: EventOutcome::parse(&e.outcome)
            .ok_or_else(|| corrupt("event outcome", &e.outcome))?,
        detail: e.detail,
        payload: e.payload,
        expires_at: e.expires_at,
    })
}

/// An event as GSI3 projects it (or a whole event item), without its raw body.
pub fn event_summary_from(item: Item) -> Result<EventSummary, StoreError> {
    let e: EventSummaryItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("decoding an event summary", e))?;
    let source = match &e.source {
        Some(s) => EventSource::parse(s).ok_or_else(|| corrupt("event source", s))?,
        None => EventSource::of(&e.event_id),
    };
    Ok(EventSummary {
        provider: e.provider,
        event_id: e.event_id,
        event_type: e.event_type,
        received_at: e.received_at,
        order_id: e.order_id,
        outcome: EventOutcome::parse(&e.outcome)
            .ok_or_else(|| corrupt("event outcome", &e.outcome))?,
        source,
        detail: e.detail,
    })
}

/// An outbox entry, indexed (GSI2 `OUTBOX`, all attributes) for the sweep; the trace it
/// records as `requestId` and `eventId`, each only when known.
pub fn outbox_item(o: &OutboxEntry) -> Item {
    let mut item = key(outbox_pk(&o.order_id), "OUTBOX");
    item.insert("orderId".into(), s(o.order_id.as_str()));
    item.insert("createdAt".into(), s(o.created_at.to_string()));
    item.insert("leaseUntil".into(), n(o.lease_until.unix_millis()));
    for (name, value) in o.trace.attributes() {
        item.insert(name.into(), s(value));
    }
    item.insert("GSI2PK".into(), s("OUTBOX"));
    item.insert(
        "GSI2SK".into(),
        s(format!("{}#{}", o.created_at, o.order_id)),
    );
    item
}

/// The outbox entry in an outbox item (or in its GSI2 projection).
pub fn outbox_from(it: &Item) -> Result<OutboxEntry, StoreError> {
    let id = it
        .get("orderId")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("outbox", "no orderId"))?;
    let created = it
        .get("createdAt")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("outbox", "no createdAt"))?;
    let lease = it
        .get("leaseUntil")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(OutboxEntry {
        order_id: OrderId::parse(id).map_err(|e| corrupt("outbox order id", e))?,
        created_at: Timestamp::parse(created).map_err(|e| corrupt("outbox createdAt", e))?,
        lease_until: Timestamp::from_unix_millis(lease),
        // An entry written before traces were recorded has none.
        trace: Trace::from_attributes(|name| {
            it.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
        }),
    })
}

/// A payment reference: a provider's id of an order's payment, pointing at the order.
pub fn payref_item(provider: ProviderKind, reference: &str, order_id: &OrderId) -> Item {
    let mut item = key(payref_pk(provider, reference), "PAYREF");
    item.insert("orderId".into(), s(order_id.as_str()));
    item
}

/// The order a payment reference points at.
pub fn payref_order_from(item: &Item) -> Result<OrderId, StoreError> {
    let id = item
        .get("orderId")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("payment reference", "no orderId"))?;
    OrderId::parse(id).map_err(|e| corrupt("payment reference", e))
}

/// The last invoice number issued: 0 until the counter item exists.
pub(super) fn counter_value(item: Option<&Item>) -> u64 {
    item.and_then(|it| it.get("value"))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
