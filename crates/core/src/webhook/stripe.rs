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

use serde_json::Value;

use super::{
    ChargeTotal, DisputeReport, DisputeStatus, OrderLink, PaymentAction, PaymentEvent,
    RefundFailure, RefundReport, int_at, money, order_id_at, our_refund_id, seconds_at, str_at,
};
use crate::order::ProviderKind;

/// Normalises a verified Stripe event body. A body that is not a Stripe event at all is `Err`
/// (it still gets acknowledged and recorded by the caller: it was signed by Stripe).
pub fn normalise(body: &[u8]) -> Result<PaymentEvent, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let event_id = str_at(&v, "/id").ok_or("no event id")?.to_owned();
    let event_type = str_at(&v, "/type").ok_or("no event type")?.to_owned();
    let obj = v.pointer("/data/object").ok_or("no data.object")?;
    let object_id = str_at(obj, "/id").map(str::to_owned);

    let mut link = OrderLink {
        order_id: order_id_at(obj, "/metadata/orderId")
            .or_else(|| order_id_at(obj, "/client_reference_id")),
        refs: Vec::new(),
    };
    let payment_intent = expandable_id(obj, "/payment_intent");

    let action = match event_type.as_str() {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => {
            link.refs.extend(object_id.clone());
            link.refs.extend(payment_intent.clone());
            let paid = str_at(obj, "/payment_status") == Some("paid");
            match event_type.as_str() {
                "checkout.session.async_payment_failed" => PaymentAction::Failed {
                    payment_id: payment_intent,
                    reason: "async_payment_failed".into(),
                },
                "checkout.session.expired" => PaymentAction::Failed {
                    payment_id: None,
                    reason: "checkout_session_expired".into(),
                },
                _ if paid => succeeded(payment_intent.or(object_id), obj, "/amount_total"),
                _ if str_at(obj, "/payment_status") == Some("no_payment_required") => {
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
            succeeded(object_id, obj, "/amount_received")
        }
        "payment_intent.payment_failed" => {
            link.refs.extend(object_id.clone());
            let reason = str_at(obj, "/last_payment_error/code")
                .or_else(|| str_at(obj, "/last_payment_error/message"))
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
            refunded(obj, payment_intent, object_id)
        }
        "refund.created" | "refund.updated" | "refund.failed" => {
            // A refund this service starts may carry `metadata.orderId`; any refund names its
            // payment intent, recorded at payment time.
            link.refs.extend(payment_intent.clone());
            refund(&event_type, obj, object_id, payment_intent)
        }
        "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated" => {
            link.refs.extend(payment_intent.clone());
            link.refs.extend(expandable_id(obj, "/charge"));
            dispute(obj, object_id, payment_intent)
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

fn succeeded(payment_id: Option<String>, obj: &Value, amount_at: &str) -> PaymentAction {
    match (
        payment_id,
        money(int_at(obj, amount_at), str_at(obj, "/currency")),
    ) {
        (Some(payment_id), Some(amount)) => PaymentAction::Succeeded { payment_id, amount },
        _ => PaymentAction::Unreadable {
            reason: "payment without a readable id, amount or currency".into(),
        },
    }
}

fn refunded(obj: &Value, payment_id: Option<String>, charge_id: Option<String>) -> PaymentAction {
    let currency = str_at(obj, "/currency");
    let mut refunds = Vec::new();
    let mut our_ids = Vec::new();
    if let Some(list) = obj.pointer("/refunds/data").and_then(Value::as_array) {
        for r in list
            .iter()
            .filter(|r| !matches!(str_at(r, "/status"), Some("failed" | "canceled")))
        {
            match (
                str_at(r, "/id"),
                money(int_at(r, "/amount"), str_at(r, "/currency").or(currency)),
            ) {
                (Some(id), Some(amount)) => {
                    our_ids
                        .extend(our_refund_id(r, "/metadata/refundId").map(|o| (id.to_owned(), o)));
                    refunds.push((id.to_owned(), amount));
                }
                _ => return unreadable_refund(),
            }
        }
    }
    // `amount_refunded` is on every charge, whichever API version shaped the event: the
    // provider's own total, which the ledger for this charge converges to.
    match (charge_id, money(int_at(obj, "/amount_refunded"), currency)) {
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
    obj: &Value,
    refund_id: Option<String>,
    payment_id: Option<String>,
) -> PaymentAction {
    let status = str_at(obj, "/status");
    let ours = our_refund_id(obj, "/metadata/refundId");
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
            reason: str_at(obj, "/failure_reason")
                .or(status)
                .unwrap_or("failed")
                .to_owned(),
        });
    }
    match status {
        Some("succeeded") => {
            match (
                refund_id,
                money(int_at(obj, "/amount"), str_at(obj, "/currency")),
            ) {
                (Some(id), Some(amount)) => PaymentAction::Refunded(RefundReport {
                    payment_id,
                    our_ids: ours.map(|o| (id.clone(), o)).into_iter().collect(),
                    refunds: vec![(id, amount)],
                    // A refund object does not carry the charge's running total.
                    charge: expandable_id(obj, "/charge").map(|charge_id| ChargeTotal {
                        charge_id,
                        total: None,
                    }),
                }),
                _ => PaymentAction::Unreadable {
                    reason: "refund without a readable id, amount or currency".into(),
                },
            }
        }
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
fn dispute(obj: &Value, dispute_id: Option<String>, payment_id: Option<String>) -> PaymentAction {
    match (
        dispute_id,
        money(int_at(obj, "/amount"), str_at(obj, "/currency")),
    ) {
        (Some(dispute_id), Some(amount)) => PaymentAction::Dispute(DisputeReport {
            dispute_id,
            payment_id,
            status: dispute_status(str_at(obj, "/status")),
            amount,
            reason: str_at(obj, "/reason").unwrap_or("unknown").to_owned(),
            evidence_due_by: seconds_at(obj, "/evidence_details/due_by"),
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

/// An id field that may also arrive expanded into its object.
fn expandable_id(obj: &Value, pointer: &str) -> Option<String> {
    str_at(obj, pointer)
        .or_else(|| str_at(obj, &format!("{pointer}/id")))
        .map(str::to_owned)
}

fn unreadable_refund() -> PaymentAction {
    PaymentAction::Unreadable {
        reason: "refund without a readable charge id or amount".into(),
    }
}
