//! The key schema of `docs/data-model.md`: how each item's partition key is spelled (`ORDER#…`,
//! `PRODUCT#…`, `STOCK#` and its 20-digit number, …), the key map of a `GetItem`, and the page
//! cursor that carries an index position between requests.

use std::collections::HashMap;

use oms_core::ports::EventOutcome;
use oms_core::{OrderId, OrderStatus, ProviderKind, Sku, UserId};
use serde::{Deserialize, Serialize};

use super::{Item, s};

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// The gapless invoice counter's partition key (`value`: the last number issued).
pub(super) const INVOICE_COUNTER_PK: &str = "COUNTER#invoice";

pub(super) fn order_pk(id: &OrderId) -> String {
    format!("ORDER#{id}")
}

pub(super) fn product_pk(sku: &Sku) -> String {
    format!("PRODUCT#{sku}")
}

/// A stock adjustment's sort key: the number zero-padded, so the records of a product sort in
/// the order they were made.
pub(super) fn stock_sk(number: u64) -> String {
    format!("STOCK#{number:020}")
}

pub(super) fn payref_pk(provider: ProviderKind, reference: &str) -> String {
    format!("PAYREF#{}#{reference}", provider.as_str())
}

/// A carrier's tracking number, pointing at the order shipped under it.
pub(super) fn awb_pk(awb: &str) -> String {
    format!("AWB#{awb}")
}

/// Tracking updates for an AWB no order has.
pub(super) fn unmatched_tracking_pk(awb: &str) -> String {
    format!("TRACKING#{awb}")
}

pub(super) fn event_pk(provider: ProviderKind, event_id: &str) -> String {
    format!("EVENT#{}#{event_id}", provider.as_str())
}

/// An order's events in GSI1 (the ops console's "events of this order").
pub(super) fn order_events_pk(order_id: &OrderId) -> String {
    format!("EVENTS#{order_id}")
}

/// GSI3, the ops console's searches: orders held for review or with an open dispute.
pub(super) const ATTENTION: &str = "ATTENTION";

/// GSI3: every other order, by status.
pub(super) fn status_pk(status: OrderStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

/// GSI3: provider events, by outcome.
pub(super) fn outcome_pk(outcome: EventOutcome) -> String {
    format!("OUTCOME#{}", outcome.as_str())
}

pub(super) fn outbox_pk(id: &OrderId) -> String {
    format!("OUTBOX#{id}")
}

pub(super) fn idempotency_pk(scope: &str) -> String {
    format!("IDEMP#{scope}")
}

/// A signed-in owner's partition in GSI1 (their orders, newest first).
pub(super) fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

/// A page cursor of "my orders": the last item's table and GSI1 keys, as JSON (base64url on the
/// wire).
#[derive(Serialize, Deserialize)]
pub(super) struct Cursor {
    #[serde(rename = "PK")]
    pub(super) pk: String,
    #[serde(rename = "SK")]
    pub(super) sk: String,
    #[serde(rename = "GSI1PK")]
    pub(super) gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub(super) gsi1sk: String,
}
