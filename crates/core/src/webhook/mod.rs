//! Payment webhooks: signatures ([`signature`]) and the normalisation of Stripe and Razorpay
//! events ([`stripe`], [`razorpay`]) into one [`PaymentEvent`] the order lifecycle understands.

mod lenient;
pub mod razorpay;
pub mod signature;
#[cfg(any(test, feature = "simulate"))]
pub mod simulate;
pub mod stripe;

use crate::ids::OrderId;
use crate::money::{Currency, Money};
use crate::order::ProviderKind;
pub use crate::order::{ChargeTotal, DisputeReport, DisputeStatus, RefundFailure, RefundReport};
use crate::time::Timestamp;

/// One provider event, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    pub provider: ProviderKind,
    /// The provider's id for this delivery's event (`evt_…`, or Razorpay's `X-Razorpay-Event-Id`):
    /// the dedupe key.
    pub event_id: String,
    pub event_type: String,
    pub link: OrderLink,
    pub action: PaymentAction,
}

/// How to find the order an event is about, most direct first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderLink {
    /// Our order id, from Stripe `metadata.orderId` / `client_reference_id` or Razorpay
    /// `notes.orderId`.
    pub order_id: Option<OrderId>,
    /// Provider ids recorded as payment references: session, payment intent, Razorpay order or
    /// payment id.
    pub refs: Vec<String>,
}

/// What the event means for the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentAction {
    /// Money was captured.
    Succeeded { payment_id: String, amount: Money },
    /// An attempt failed; a later success may still come.
    Failed {
        payment_id: Option<String>,
        reason: String,
    },
    /// Money was returned.
    Refunded(RefundReport),
    /// A refund the provider will not complete.
    RefundFailed(RefundFailure),
    /// A chargeback was opened, moved or closed.
    Dispute(DisputeReport),
    /// In progress (authorised, or an asynchronous method still settling): recorded only.
    Pending { payment_id: Option<String> },
    /// A capture or refund whose payment id or amount cannot be read. Money may have moved, so
    /// when the event names one of our orders it is held for a person, never dropped.
    Unreadable { reason: String },
    /// Nothing to do for an order (other event types, or a body we could not read at all).
    Ignored { reason: String },
}

impl PaymentEvent {
    /// A correctly signed body that is not an event we can read: still acknowledged and
    /// recorded (under a hash of the body), never an error the provider would retry forever.
    pub fn unreadable(
        provider: ProviderKind,
        body: &[u8],
        event_id: Option<&str>,
        reason: &str,
    ) -> Self {
        use sha2::Digest;
        Self {
            provider,
            event_id: event_id
                .map(str::to_owned)
                .unwrap_or_else(|| format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)))),
            event_type: "unreadable".into(),
            link: OrderLink::default(),
            action: PaymentAction::ignored(format!("unreadable event: {reason}")),
        }
    }
}

impl PaymentAction {
    fn ignored(reason: impl Into<String>) -> Self {
        Self::Ignored {
            reason: reason.into(),
        }
    }
}

/// An amount as a provider reports it. Currencies outside our order list are still money
/// received, so any ISO-shaped code is accepted here.
fn money(minor: Option<i64>, currency: Option<&str>) -> Option<Money> {
    let c = Currency::parse_reported(currency?)?;
    Money::new(minor?, c).ok()
}

/// A deadline in Unix seconds (Stripe `evidence_details.due_by`, Razorpay `respond_by`). Absent,
/// `null`, zero or out of range reads as none: a missing deadline, not a reason to drop the event.
fn deadline(seconds: Option<i64>) -> Option<Timestamp> {
    seconds
        .filter(|s| *s > 0)
        .and_then(|s| s.checked_mul(1000))
        .map(Timestamp::from_unix_millis)
}

/// Any JSON value a provider might (wrongly) put in a field: the property tests of the typed
/// reads (`stripe`, `razorpay`), with `words` as the strings to pick from and `object` building
/// the nested objects.
#[cfg(test)]
fn any_json(
    words: Vec<&'static str>,
    object: fn(serde_json::Value, serde_json::Value) -> serde_json::Value,
) -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        prop::sample::select(words).prop_map(Value::from),
        (0i64..200_000).prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            (inner.clone(), inner).prop_map(move |(a, b)| object(a, b)),
        ]
    })
}

#[cfg(test)]
mod refund_dispute_tests;
#[cfg(test)]
mod tests;
