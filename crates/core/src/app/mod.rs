//! Use cases: the sequences of rules and port calls behind each API operation. They decide;
//! the adapters they are handed do the I/O.

pub mod admin;
pub mod alerts;
pub mod backfill;
pub mod cancel;
pub mod catalog;
pub mod checkout;
pub mod create_order;
pub mod downloads;
pub mod fulfil;
pub mod ops;
pub mod outbox;
pub mod read;
pub mod reconcile;
pub mod refund;
pub mod retry;
pub mod services;
pub mod sweep;
pub mod tracking;
pub mod webhook;

pub use services::{FulfilmentServices, Services};

use std::time::Duration;

use crate::ids::OrderId;
use crate::order::TransitionError;

/// Business settings that shape orders.
#[derive(Debug, Clone)]
pub struct OrderPolicy {
    /// How long an order may stay unpaid before the sweep cancels it
    /// (`CLEANUP_FAILED_PAYMENT_MINUTES`).
    pub payment_window: Duration,
    /// How long an `Idempotency-Key` answers with the stored response.
    pub idempotency_ttl: Duration,
    /// What becomes of a payment for a cancelled order that is not reinstated
    /// (`LATE_PAYMENT_POLICY`).
    pub late_payment: crate::order::LatePaymentPolicy,
    /// How long after opening an unpaid order the sweep asks its provider what became of it
    /// (`RECONCILE_AFTER_MINUTES`).
    pub reconcile_after: Duration,
    /// How long provider events are kept (`EVENT_RETENTION_DAYS`).
    pub event_retention: Duration,
    /// What becomes of a returned parcel's money (`RTO_REFUND_POLICY`).
    pub rto_refund: crate::order::RtoRefundPolicy,
    /// The SKUs sold digitally (`DIGITAL_SKUS`): no shipment, a download once paid.
    pub digital_skus: Vec<crate::ids::Sku>,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        Self {
            payment_window: Duration::from_secs(30 * 60),
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            late_payment: crate::order::LatePaymentPolicy::Refund,
            reconcile_after: Duration::from_secs(10 * 60),
            event_retention: webhook::EVENT_RETENTION,
            rto_refund: crate::order::RtoRefundPolicy::Review,
            digital_skus: Vec::new(),
        }
    }
}

/// The order refused a transition its use case had already decided was allowed: the use case
/// and the lifecycle rules disagree, which is a bug, not bad input and not bad stored data. It
/// changes nothing and is answered as an internal error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invariant broken: order {order_id} refused a transition its use case allowed: {source}")]
pub struct RefusedTransition {
    pub order_id: OrderId,
    #[source]
    pub source: TransitionError,
}

impl RefusedTransition {
    pub fn new(order_id: &OrderId, source: TransitionError) -> Self {
        Self {
            order_id: order_id.clone(),
            source,
        }
    }
}
