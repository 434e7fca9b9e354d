//! Razorpay events → [`PaymentEvent`]:
//! - payments: `payment.captured`, `order.paid` (order + payment entities), `payment.failed`,
//!   `payment.authorized` (recorded);
//! - refunds: `refund.processed`, `refund.failed`, `refund.created` (recorded);
//! - disputes: `payment.dispute.created`, `.under_review`, `.action_required`, `.won`, `.lost`,
//!   `.closed` (payment + dispute entities).
//!
//! `notes` may be an object or, when empty, `[]`. Refunds this service starts carry our refund
//! id in the refund's `notes.refundId`. Call only after [`super::signature::verify_razorpay`].

use serde::Deserialize;
use serde_json::Value;

use super::lenient::{Int, Obj, Str};
use super::{
    DisputeReport, DisputeStatus, OrderLink, PaymentAction, PaymentEvent, RefundFailure,
    RefundReport, deadline, money,
};
use crate::ids::OrderId;
use crate::order::ProviderKind;

/// The event's name and the entities it carries.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    event: Str<'a>,
    #[serde(borrow, default)]
    payload: Obj<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow, default)]
    payment: Obj<Wrapped<'a>>,
    #[serde(borrow, default)]
    order: Obj<Wrapped<'a>>,
    #[serde(borrow, default)]
    refund: Obj<Wrapped<'a>>,
    #[serde(borrow, default)]
    dispute: Obj<Wrapped<'a>>,
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow, default)]
    entity: Obj<Entity<'a>>,
}

/// The fields read of a payment, order, refund or dispute entity; the rest is skipped.
#[derive(Deserialize)]
struct Entity<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    order_id: Str<'a>,
    #[serde(borrow, default)]
    payment_id: Str<'a>,
    #[serde(default)]
    amount: Int,
    #[serde(borrow, default)]
    currency: Str<'a>,
    /// An object, or `[]` when empty (which reads as none).
    #[serde(borrow, default)]
    notes: Obj<Notes<'a>>,
    #[serde(borrow, default)]
    error_reason: Str<'a>,
    #[serde(borrow, default)]
    error_code: Str<'a>,
    #[serde(borrow, default)]
    reason_code: Str<'a>,
    #[serde(borrow, default)]
    status: Str<'a>,
    #[serde(default)]
    respond_by: Int,
    #[serde(default)]
    amount_deducted: Int,
}

#[derive(Deserialize)]
struct Notes<'a> {
    #[serde(borrow, default, rename = "orderId")]
    order_id: Str<'a>,
    #[serde(borrow, default, rename = "refundId")]
    refund_id: Str<'a>,
}

impl Entity<'_> {
    fn order_id(&self) -> Option<OrderId> {
        let note = self.notes.0.as_ref().and_then(|n| n.order_id.get());
        note.and_then(|s| OrderId::parse(s).ok())
    }

    fn our_refund_id(&self) -> Option<String> {
        self.notes.0.as_ref().and_then(|n| n.refund_id.owned())
    }

    fn money(&self) -> Option<crate::money::Money> {
        money(self.amount.0, self.currency.get())
    }
}

fn entity<'e, 'a>(w: &'e Obj<Wrapped<'a>>) -> Option<&'e Entity<'a>> {
    w.0.as_ref().and_then(|w| w.entity.0.as_ref())
}

/// Normalises a verified Razorpay event body. `event_id` is the `X-Razorpay-Event-Id` header;
/// when a delivery lacks it, a hash of the body stands in so identical retries still dedupe.
///
/// Read typed and borrowing, like Stripe's (`stripe::normalise`); a body the typed read refuses
/// (not JSON, a repeated key) is read as a tree, the last of a repeated key winning.
pub fn normalise(body: &[u8], event_id: Option<&str>) -> Result<PaymentEvent, String> {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => from_envelope(envelope, body, event_id),
        Err(_) => normalise_tree(body, event_id),
    }
}

/// [`normalise`] through a `serde_json::Value` tree: the fallback, and the reference the typed
/// read is checked against.
fn normalise_tree(body: &[u8], event_id: Option<&str>) -> Result<PaymentEvent, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let envelope = Envelope::deserialize(&v).map_err(|_| "no event type".to_owned())?;
    from_envelope(envelope, body, event_id)
}

fn from_envelope(
    v: Envelope<'_>,
    body: &[u8],
    event_id: Option<&str>,
) -> Result<PaymentEvent, String> {
    let event_type = v.event.owned().ok_or("no event type")?;
    let event_id = match event_id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            use sha2::Digest;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)))
        }
    };
    let none = Obj(None);
    let p = v.payload.0.as_ref();
    let payment = entity(p.map_or(&none, |p| &p.payment));
    let order = entity(p.map_or(&none, |p| &p.order));
    let refund = entity(p.map_or(&none, |p| &p.refund));
    let dispute = entity(p.map_or(&none, |p| &p.dispute));
    let payment_id = payment.and_then(|p| p.id.owned());

    let order_id = [refund, payment, order]
        .into_iter()
        .flatten()
        .find_map(Entity::order_id);
    let mut refs: Vec<String> = Vec::new();
    refs.extend(payment.and_then(|p| p.order_id.owned()));
    refs.extend(order.and_then(|o| o.id.owned()));
    refs.extend(payment_id.clone());
    let refund_payment = refund.and_then(|r| r.payment_id.owned());
    refs.extend(refund_payment.clone());
    refs.extend(dispute.and_then(|d| d.payment_id.owned()));
    refs.dedup();
    let link = OrderLink { order_id, refs };

    let action = match event_type.as_str() {
        "payment.captured" | "order.paid" => match (payment_id, payment.and_then(Entity::money)) {
            (Some(payment_id), Some(amount)) => PaymentAction::Succeeded { payment_id, amount },
            _ => PaymentAction::Unreadable {
                reason: "payment entity without a readable id, amount or currency".into(),
            },
        },
        "payment.failed" => PaymentAction::Failed {
            reason: payment
                .and_then(|p| p.error_reason.get().or(p.error_code.get()))
                .unwrap_or("payment_failed")
                .to_owned(),
            payment_id,
        },
        "payment.authorized" => PaymentAction::Pending { payment_id },
        "refund.processed" => {
            match refund.and_then(|r| Some((r.id.owned()?, r.money()?, r.our_refund_id()))) {
                Some((id, amount, ours)) => PaymentAction::Refunded(RefundReport {
                    payment_id: refund_payment.or(payment_id),
                    our_ids: ours.map(|o| (id.clone(), o)).into_iter().collect(),
                    refunds: vec![(id, amount)],
                    charge: None,
                }),
                None => PaymentAction::Unreadable {
                    reason: "refund entity without a readable id, amount or currency".into(),
                },
            }
        }
        "refund.failed" => match refund.and_then(|r| Some((r, r.id.owned()?))) {
            // The refund entity carries no failure reason; its status is `failed`.
            Some((r, id)) => PaymentAction::RefundFailed(RefundFailure {
                payment_id: refund_payment.or(payment_id),
                provider_refund_id: id,
                refund_id: r.our_refund_id(),
                reason: "refund_failed".into(),
            }),
            None => PaymentAction::Unreadable {
                reason: "failed refund entity without a readable id".into(),
            },
        },
        // Accepted, not yet returned: `refund.processed` counts it.
        "refund.created" => PaymentAction::Pending {
            payment_id: refund_payment.or(payment_id),
        },
        "payment.dispute.created"
        | "payment.dispute.under_review"
        | "payment.dispute.action_required"
        | "payment.dispute.won"
        | "payment.dispute.lost"
        | "payment.dispute.closed" => {
            match dispute.and_then(|d| Some((d, d.id.owned()?, d.money()?))) {
                Some((d, id, amount)) => PaymentAction::Dispute(DisputeReport {
                    dispute_id: id,
                    payment_id: payment_id.or_else(|| d.payment_id.owned()),
                    status: dispute_status(&event_type, d),
                    amount,
                    reason: d.reason_code.get().unwrap_or("unknown").to_owned(),
                    evidence_due_by: deadline(d.respond_by.0),
                }),
                None => PaymentAction::Unreadable {
                    reason: "dispute entity without a readable id, amount or currency".into(),
                },
            }
        }
        other => PaymentAction::ignored(format!("event type {other} is not handled")),
    };
    Ok(PaymentEvent {
        provider: ProviderKind::Razorpay,
        event_id,
        event_type,
        link,
        action,
    })
}

/// Where a dispute stands: the entity's `status`, else the event's name.
fn dispute_status(event_type: &str, dispute: &Entity<'_>) -> DisputeStatus {
    // `closed` is not an accepted dispute (accepting one makes it `lost`, with the amount
    // deducted): it is a fraud-phase dispute closed after the shop explained the payment or
    // refunded the customer. Nothing was deducted, and a refund is counted by the refund events:
    // calling it lost would count the same money twice. Should Razorpay ever report a deduction
    // on a closed dispute, the money is gone and it is lost.
    let closed = || match dispute.amount_deducted.0 {
        Some(deducted) if deducted > 0 => DisputeStatus::Lost,
        _ => DisputeStatus::Won,
    };
    let reported = match dispute.status.get() {
        Some("open") => Some(DisputeStatus::Open),
        Some("under_review") => Some(DisputeStatus::UnderReview),
        Some("won") => Some(DisputeStatus::Won),
        Some("lost") => Some(DisputeStatus::Lost),
        Some("closed") => Some(closed()),
        _ => None,
    };
    let event = event_type.strip_prefix("payment.dispute.");
    match (reported, event) {
        // The evidence was not enough: the shop has to act again, whatever stage the entity
        // still shows (a decided dispute stays decided).
        (Some(s), Some("action_required")) if !s.is_closed() => DisputeStatus::Open,
        (Some(s), _) => s,
        (None, Some("under_review")) => DisputeStatus::UnderReview,
        (None, Some("won")) => DisputeStatus::Won,
        (None, Some("lost")) => DisputeStatus::Lost,
        (None, Some("closed")) => closed(),
        // `created`, `action_required`, or a status Razorpay adds later: open.
        (None, _) => DisputeStatus::Open,
    }
}

#[cfg(test)]
mod typed_read_tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{normalise, normalise_tree};

    fn any_json() -> impl Strategy<Value = Value> {
        super::super::any_json(
            vec![
                "",
                "INR",
                "inr",
                "pay_1",
                "order_1",
                "rfnd_1",
                "disp_1",
                "open",
                "closed",
                "won",
                "lost",
                "under_review",
                "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0",
                "rf_1",
                "esc\"aped",
            ],
            |a, b| json!({"orderId": a, "refundId": b}),
        )
    }

    const EVENTS: [&str; 12] = [
        "payment.captured",
        "order.paid",
        "payment.failed",
        "payment.authorized",
        "refund.processed",
        "refund.failed",
        "refund.created",
        "payment.dispute.created",
        "payment.dispute.action_required",
        "payment.dispute.closed",
        "payment.dispute.lost",
        "subscription.charged",
    ];

    const FIELDS: [&str; 13] = [
        "id",
        "order_id",
        "payment_id",
        "amount",
        "currency",
        "notes",
        "error_reason",
        "error_code",
        "reason_code",
        "status",
        "respond_by",
        "amount_deducted",
        "unrelated",
    ];

    proptest! {
        /// The typed read of the bytes and the tree read agree on every event, whatever type
        /// each field of each entity arrives with.
        #[test]
        fn the_typed_read_agrees_with_the_tree(
            event in prop::sample::select(EVENTS.to_vec()),
            entities in prop::collection::vec(
                (
                    prop::sample::select(vec!["payment", "order", "refund", "dispute"]),
                    prop::collection::vec((prop::sample::select(FIELDS.to_vec()), any_json()), 0..8),
                ),
                0..4,
            ),
            header in proptest::option::of(prop::sample::select(vec!["evt_1", " ", ""])),
        ) {
            let mut payload = json!({});
            for (name, fields) in entities {
                let mut entity = json!({"id": format!("{name}_1"), "amount": 5000, "currency": "INR"});
                for (field, value) in fields {
                    entity[field] = value;
                }
                payload[name] = json!({"entity": entity});
            }
            let body = json!({"event": event, "payload": payload}).to_string();
            prop_assert_eq!(normalise(body.as_bytes(), header), normalise_tree(body.as_bytes(), header));
        }
    }

    #[test]
    fn a_key_given_twice_reads_as_its_last_and_unreadable_bodies_say_why() {
        let body = br#"{"event":"payment.failed","event":"payment.authorized","payload":{}}"#;
        assert_eq!(
            normalise(body, Some("e")).unwrap().event_type,
            "payment.authorized"
        );
        assert!(normalise(b"{", None).unwrap_err().starts_with("not JSON"));
        assert_eq!(normalise(b"[]", None).unwrap_err(), "no event type");
        assert_eq!(
            normalise(br#"{"payload":{}}"#, None).unwrap_err(),
            "no event type"
        );
    }
}
