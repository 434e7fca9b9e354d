//! Payment webhooks: signatures ([`signature`]) and the normalisation of Stripe and Razorpay
//! events ([`stripe`], [`razorpay`]) into one [`PaymentEvent`] the order lifecycle understands.

pub mod razorpay;
pub mod signature;
pub mod simulate;
pub mod stripe;

use serde_json::Value;

use crate::ids::OrderId;
use crate::money::{Currency, Money};
use crate::order::ProviderKind;

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
    /// In progress (authorised, or an asynchronous method still settling): recorded only.
    Pending { payment_id: Option<String> },
    /// Nothing to do for an order (other event types, or a shape we could not read).
    Ignored { reason: String },
}

/// Refunds as the provider reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundReport {
    /// Individual refunds with their ids (Razorpay `refund.processed`, Stripe charges that list
    /// their refunds).
    Itemised {
        payment_id: Option<String>,
        refunds: Vec<(String, Money)>,
    },
    /// Only the cumulative amount refunded on a charge (Stripe `charge.refunded` without an
    /// expanded refund list).
    Cumulative {
        payment_id: Option<String>,
        charge_id: String,
        total: Money,
    },
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

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn int_at(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

fn order_id_at(v: &Value, pointer: &str) -> Option<OrderId> {
    str_at(v, pointer).and_then(|s| OrderId::parse(s).ok())
}

#[cfg(test)]
mod tests;
