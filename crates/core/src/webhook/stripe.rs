//! Stripe events → [`PaymentEvent`]. Handles, by the object each carries:
//! - Checkout Session: `checkout.session.completed`, `.async_payment_succeeded`,
//!   `.async_payment_failed`, `.expired`;
//! - PaymentIntent: `payment_intent.succeeded`, `payment_intent.payment_failed`;
//! - Charge: `charge.refunded` (the listed refunds and the running `amount_refunded`);
//! - Refund: `refund.created`, `refund.updated`, `refund.failed` (one refund, by its status);
//! - Dispute: `charge.dispute.created`, `.updated`, `.closed`, `.funds_withdrawn`,
//!   `.funds_reinstated` (where the chargeback stands, by its status).
//!
//! Every other type is acknowledged as ignored. Refunds this service starts carry our refund id
//! in the refund's `metadata.refundId`. Call only after [`super::signature::verify_stripe`] has
//! passed.

use serde::Deserialize;
use serde_json::Value;

use super::lenient::{Expandable, Int, List, Obj, Str};
use super::{
    ChargeTotal, DisputeReport, DisputeStatus, OrderLink, PaymentAction, PaymentEvent,
    RefundFailure, RefundReport, deadline, money,
};
use crate::ids::OrderId;
use crate::order::ProviderKind;

/// The envelope: the event's id and type and the object it carries.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: Str<'a>,
    #[serde(borrow, default)]
    data: Obj<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default)]
    object: Obj<Object<'a>>,
}

/// The fields read of whichever object an event carries (Checkout Session, PaymentIntent,
/// Charge, Refund, Dispute); every other field is skipped unread.
#[derive(Deserialize, Default)]
struct Object<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    metadata: Obj<Metadata<'a>>,
    #[serde(borrow, default)]
    client_reference_id: Str<'a>,
    #[serde(borrow, default)]
    payment_intent: Expandable<'a>,
    #[serde(borrow, default)]
    charge: Expandable<'a>,
    #[serde(borrow, default)]
    payment_status: Str<'a>,
    #[serde(borrow, default)]
    status: Str<'a>,
    #[serde(borrow, default)]
    currency: Str<'a>,
    #[serde(default)]
    amount: Int,
    #[serde(default)]
    amount_total: Int,
    #[serde(default)]
    amount_received: Int,
    #[serde(default)]
    amount_refunded: Int,
    #[serde(borrow, default)]
    last_payment_error: Obj<PaymentError<'a>>,
    #[serde(borrow, default)]
    refunds: Obj<RefundList<'a>>,
    #[serde(borrow, default)]
    failure_reason: Str<'a>,
    #[serde(borrow, default)]
    reason: Str<'a>,
    #[serde(default)]
    evidence_details: Obj<EvidenceDetails>,
}

#[derive(Deserialize, Default)]
struct Metadata<'a> {
    #[serde(borrow, default, rename = "orderId")]
    order_id: Str<'a>,
    #[serde(borrow, default, rename = "refundId")]
    refund_id: Str<'a>,
}

#[derive(Deserialize, Default)]
struct PaymentError<'a> {
    #[serde(borrow, default)]
    code: Str<'a>,
    #[serde(borrow, default)]
    message: Str<'a>,
}

#[derive(Deserialize, Default)]
struct RefundList<'a> {
    #[serde(borrow, default)]
    data: List<ListedRefund<'a>>,
}

/// A refund listed on a charge.
#[derive(Deserialize, Default)]
struct ListedRefund<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    status: Str<'a>,
    #[serde(default)]
    amount: Int,
    #[serde(borrow, default)]
    currency: Str<'a>,
    #[serde(borrow, default)]
    metadata: Obj<Metadata<'a>>,
}

#[derive(Deserialize, Default)]
struct EvidenceDetails {
    #[serde(default)]
    due_by: Int,
}

impl Object<'_> {
    fn order_id(&self) -> Option<OrderId> {
        let meta = self.metadata.0.as_ref().and_then(|m| m.order_id.get());
        meta.and_then(|s| OrderId::parse(s).ok()).or_else(|| {
            self.client_reference_id
                .get()
                .and_then(|s| OrderId::parse(s).ok())
        })
    }

    fn our_refund_id(&self) -> Option<String> {
        self.metadata.0.as_ref().and_then(|m| m.refund_id.owned())
    }

    fn currency(&self) -> Option<&str> {
        self.currency.get()
    }
}

/// Normalises a verified Stripe event body. A body that is not a Stripe event at all is `Err`
/// (it still gets acknowledged and recorded by the caller: it was signed by Stripe).
///
/// The body is read straight into borrowed structs holding only the fields used. A body that
/// read fails for — not JSON, or JSON that names a key twice, which the typed read refuses — is
/// read as a tree instead, where the last of a repeated key wins, as it always did.
pub fn normalise(body: &[u8]) -> Result<PaymentEvent, String> {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => from_envelope(envelope),
        Err(_) => normalise_tree(body),
    }
}

/// [`normalise`] through a `serde_json::Value` tree: the fallback, and the reference the typed
/// read is checked against.
fn normalise_tree(body: &[u8]) -> Result<PaymentEvent, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let envelope = Envelope::deserialize(&v).map_err(|_| "no event id".to_owned())?;
    from_envelope(envelope)
}

fn from_envelope(v: Envelope<'_>) -> Result<PaymentEvent, String> {
    let event_id = v.id.owned().ok_or("no event id")?;
    let event_type = v.kind.owned().ok_or("no event type")?;
    let obj = v.data.0.and_then(|d| d.object.0).ok_or("no data.object")?;
    let object_id = obj.id.owned();

    let mut link = OrderLink {
        order_id: obj.order_id(),
        refs: Vec::new(),
    };
    let payment_intent = obj.payment_intent.owned();

    let action = match event_type.as_str() {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => {
            link.refs.extend(object_id.clone());
            link.refs.extend(payment_intent.clone());
            let paid = obj.payment_status.get() == Some("paid");
            match event_type.as_str() {
                "checkout.session.async_payment_failed" => PaymentAction::Failed {
                    payment_id: payment_intent,
                    reason: "async_payment_failed".into(),
                },
                "checkout.session.expired" => PaymentAction::Failed {
                    payment_id: None,
                    reason: "checkout_session_expired".into(),
                },
                _ if paid => succeeded(payment_intent.or(object_id), &obj, obj.amount_total),
                _ if obj.payment_status.get() == Some("no_payment_required") => {
                    PaymentAction::ignored("no payment required")
                }
                // Completed but unpaid: an asynchronous method (bank debit, …) still settling.
                _ => PaymentAction::Pending {
                    payment_id: payment_intent,
                },
            }
        }
        "payment_intent.succeeded" => {
            link.refs.extend(object_id.clone());
            succeeded(object_id, &obj, obj.amount_received)
        }
        "payment_intent.payment_failed" => {
            link.refs.extend(object_id.clone());
            let error = obj.last_payment_error.0.as_ref();
            let reason = error
                .and_then(|e| e.code.get().or(e.message.get()))
                .unwrap_or("payment_failed");
            PaymentAction::Failed {
                payment_id: object_id,
                reason: reason.to_owned(),
            }
        }
        "charge.refunded" => {
            // Charges carry no order metadata of ours: the PaymentIntent recorded at payment
            // time finds the order.
            link.refs.extend(payment_intent.clone());
            refunded(&obj, payment_intent, object_id)
        }
        "refund.created" | "refund.updated" | "refund.failed" => {
            // A refund this service starts may carry `metadata.orderId`; any refund names its
            // payment intent, recorded at payment time.
            link.refs.extend(payment_intent.clone());
            refund(&event_type, &obj, object_id, payment_intent)
        }
        "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated" => {
            link.refs.extend(payment_intent.clone());
            link.refs.extend(obj.charge.owned());
            dispute(&obj, object_id, payment_intent)
        }
        other => PaymentAction::ignored(format!("event type {other} is not handled")),
    };
    Ok(PaymentEvent {
        provider: ProviderKind::Stripe,
        event_id,
        event_type,
        link,
        action,
    })
}

fn succeeded(payment_id: Option<String>, obj: &Object<'_>, amount: Int) -> PaymentAction {
    match (payment_id, money(amount.0, obj.currency())) {
        (Some(payment_id), Some(amount)) => PaymentAction::Succeeded { payment_id, amount },
        _ => PaymentAction::Unreadable {
            reason: "payment without a readable id, amount or currency".into(),
        },
    }
}

fn refunded(
    obj: &Object<'_>,
    payment_id: Option<String>,
    charge_id: Option<String>,
) -> PaymentAction {
    let currency = obj.currency();
    let mut refunds = Vec::new();
    let mut our_ids = Vec::new();
    let listed = obj.refunds.0.as_ref().and_then(|r| r.data.0.as_ref());
    for r in listed
        .into_iter()
        .flatten()
        .filter(|r| !matches!(r.status.get(), Some("failed" | "canceled")))
    {
        match (r.id.get(), money(r.amount.0, r.currency.get().or(currency))) {
            (Some(id), Some(amount)) => {
                let ours = r.metadata.0.as_ref().and_then(|m| m.refund_id.owned());
                our_ids.extend(ours.map(|o| (id.to_owned(), o)));
                refunds.push((id.to_owned(), amount));
            }
            _ => return unreadable_refund(),
        }
    }
    // `amount_refunded` is on every charge, whichever API version shaped the event: the
    // provider's own total, which the ledger for this charge converges to.
    match (charge_id, money(obj.amount_refunded.0, currency)) {
        (Some(charge_id), Some(total)) => PaymentAction::Refunded(RefundReport {
            payment_id,
            refunds,
            charge: Some(ChargeTotal {
                charge_id,
                total: Some(total),
            }),
            our_ids,
        }),
        _ => unreadable_refund(),
    }
}

/// One Refund object. Stripe reports each refund's progress on the refund itself; only a
/// `succeeded` one has returned money, and it counts once by its id whichever event (this one
/// or the charge's `charge.refunded`) reports it first.
fn refund(
    event_type: &str,
    obj: &Object<'_>,
    refund_id: Option<String>,
    payment_id: Option<String>,
) -> PaymentAction {
    let status = obj.status.get();
    let ours = obj.our_refund_id();
    if event_type == "refund.failed" || matches!(status, Some("failed" | "canceled")) {
        let Some(provider_refund_id) = refund_id else {
            return PaymentAction::Unreadable {
                reason: "failed refund without a readable id".into(),
            };
        };
        return PaymentAction::RefundFailed(RefundFailure {
            payment_id,
            provider_refund_id,
            refund_id: ours,
            reason: obj
                .failure_reason
                .get()
                .or(status)
                .unwrap_or("failed")
                .to_owned(),
        });
    }
    match status {
        Some("succeeded") => match (refund_id, money(obj.amount.0, obj.currency())) {
            (Some(id), Some(amount)) => PaymentAction::Refunded(RefundReport {
                payment_id,
                our_ids: ours.map(|o| (id.clone(), o)).into_iter().collect(),
                refunds: vec![(id, amount)],
                // A refund object does not carry the charge's running total.
                charge: obj.charge.owned().map(|charge_id| ChargeTotal {
                    charge_id,
                    total: None,
                }),
            }),
            _ => PaymentAction::Unreadable {
                reason: "refund without a readable id, amount or currency".into(),
            },
        },
        Some("pending" | "requires_action") => PaymentAction::Pending { payment_id },
        other => PaymentAction::ignored(format!(
            "refund status {} is not handled",
            other.unwrap_or("(none)")
        )),
    }
}

/// One Dispute object: where the chargeback stands, whichever `charge.dispute.*` event
/// carried it (the status says more than the event name: `funds_withdrawn` arrives while the
/// dispute is still open).
fn dispute(
    obj: &Object<'_>,
    dispute_id: Option<String>,
    payment_id: Option<String>,
) -> PaymentAction {
    match (dispute_id, money(obj.amount.0, obj.currency())) {
        (Some(dispute_id), Some(amount)) => PaymentAction::Dispute(DisputeReport {
            dispute_id,
            payment_id,
            status: dispute_status(obj.status.get()),
            amount,
            reason: obj.reason.get().unwrap_or("unknown").to_owned(),
            evidence_due_by: deadline(obj.evidence_details.0.as_ref().and_then(|e| e.due_by.0)),
        }),
        _ => PaymentAction::Unreadable {
            reason: "dispute without a readable id, amount or currency".into(),
        },
    }
}

fn dispute_status(status: Option<&str>) -> DisputeStatus {
    match status {
        Some("warning_needs_response" | "needs_response") => DisputeStatus::Open,
        Some("warning_under_review" | "under_review") => DisputeStatus::UnderReview,
        // An inquiry that closed without becoming a chargeback: nothing was taken.
        Some("won" | "warning_closed") => DisputeStatus::Won,
        Some("lost") => DisputeStatus::Lost,
        // Closed because the charge was refunded (`charge_refunded`, older API versions), or
        // stopped before it became a chargeback (`prevented`: blocked, or resolved with a
        // refund). The dispute itself took nothing; any money returned went back as a refund,
        // which the refund events count. Calling it lost would count the same money twice.
        Some("charge_refunded" | "prevented") => DisputeStatus::Won,
        // A status Stripe adds later: still open, so the order keeps showing it.
        _ => DisputeStatus::Open,
    }
}

fn unreadable_refund() -> PaymentAction {
    PaymentAction::Unreadable {
        reason: "refund without a readable charge id or amount".into(),
    }
}

#[cfg(test)]
mod typed_read_tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{normalise, normalise_tree};

    /// Any JSON value a provider might (wrongly) put in a field.
    fn any_json() -> impl Strategy<Value = Value> {
        super::super::any_json(
            vec![
                "",
                "paid",
                "succeeded",
                "failed",
                "pending",
                "inr",
                "INR",
                "usd",
                "pi_1",
                "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0",
                "rf_1",
                "needs_response",
                "lost",
                "won",
                "esc\"aped",
                "caf\u{e9}",
            ],
            |a, b| json!({"id": a, "status": b}),
        )
    }

    const TYPES: [&str; 12] = [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "refund.updated",
        "refund.failed",
        "charge.dispute.created",
        "charge.dispute.closed",
        "customer.created",
    ];

    const FIELDS: [&str; 18] = [
        "id",
        "payment_intent",
        "charge",
        "payment_status",
        "status",
        "currency",
        "amount",
        "amount_total",
        "amount_received",
        "amount_refunded",
        "client_reference_id",
        "failure_reason",
        "reason",
        "metadata",
        "last_payment_error",
        "refunds",
        "evidence_details",
        "unrelated",
    ];

    proptest! {
        /// The typed read of the bytes and the tree read agree on every event, whatever type
        /// each field arrives with: a field of the wrong type is absent in both.
        #[test]
        fn the_typed_read_agrees_with_the_tree(
            kind in prop::sample::select(TYPES.to_vec()),
            values in prop::collection::vec((prop::sample::select(FIELDS.to_vec()), any_json()), 0..10),
            refunds in prop::collection::vec(any_json(), 0..3),
        ) {
            let mut object = json!({
                "id": "pi_base", "currency": "inr", "amount": 5000, "amount_total": 5000,
                "payment_status": "paid", "metadata": {"orderId": "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"},
            });
            for (field, value) in values {
                object[field] = value;
            }
            if !refunds.is_empty() {
                object["refunds"] = json!({"data": refunds});
            }
            let body = json!({"id": "evt_1", "type": kind, "data": {"object": object}}).to_string();
            prop_assert_eq!(normalise(body.as_bytes()), normalise_tree(body.as_bytes()));
        }
    }

    #[test]
    fn a_key_given_twice_reads_as_its_last_as_it_always_did() {
        let body = br#"{"id":"evt_1","id":"evt_2","type":"customer.created","data":{"object":{"id":"cus_1"}}}"#;
        assert_eq!(normalise(body).unwrap().event_id, "evt_2");
        assert!(normalise(b"not json").unwrap_err().starts_with("not JSON"));
        assert_eq!(normalise(b"[]").unwrap_err(), "no event id");
        assert_eq!(normalise(br#"{"type":"x"}"#).unwrap_err(), "no event id");
    }
}
