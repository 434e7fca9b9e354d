//! Razorpay events → [`PaymentEvent`]:
//! - payments: `payment.captured`, `order.paid` (order + payment entities), `payment.failed`,
//!   `payment.authorized` (recorded);
//! - refunds: `refund.processed`, `refund.failed`, `refund.created` (recorded);
//! - disputes: `payment.dispute.created`, `.under_review`, `.action_required`, `.won`, `.lost`,
//!   `.closed` (payment + dispute entities).
//!
//! `notes` may be an object or, when empty, `[]`. Refunds this service starts carry our refund
//! id in the refund's `notes.refundId`. Call only after [`super::signature::verify_razorpay`].

use serde_json::Value;

use super::{
    DisputeReport, DisputeStatus, OrderLink, PaymentAction, PaymentEvent, RefundFailure,
    RefundReport, int_at, money, order_id_at, our_refund_id, seconds_at, str_at,
};
use crate::order::ProviderKind;

/// Normalises a verified Razorpay event body. `event_id` is the `X-Razorpay-Event-Id` header;
/// when a delivery lacks it, a hash of the body stands in so identical retries still dedupe.
pub fn normalise(body: &[u8], event_id: Option<&str>) -> Result<PaymentEvent, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let event_type = str_at(&v, "/event").ok_or("no event type")?.to_owned();
    let event_id = match event_id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            use sha2::Digest;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)))
        }
    };
    let payment = v.pointer("/payload/payment/entity");
    let order = v.pointer("/payload/order/entity");
    let refund = v.pointer("/payload/refund/entity");
    let dispute = v.pointer("/payload/dispute/entity");
    let payment_id = payment.and_then(|p| str_at(p, "/id")).map(str::to_owned);

    // `notes` is `[]` when empty, so a pointer into it simply finds nothing.
    let order_id = [refund, payment, order]
        .into_iter()
        .flatten()
        .find_map(|e| order_id_at(e, "/notes/orderId"));
    let mut refs: Vec<String> = Vec::new();
    refs.extend(
        payment
            .and_then(|p| str_at(p, "/order_id"))
            .map(str::to_owned),
    );
    refs.extend(order.and_then(|o| str_at(o, "/id")).map(str::to_owned));
    refs.extend(payment_id.clone());
    let refund_payment = refund
        .and_then(|r| str_at(r, "/payment_id"))
        .map(str::to_owned);
    refs.extend(refund_payment.clone());
    refs.extend(
        dispute
            .and_then(|d| str_at(d, "/payment_id"))
            .map(str::to_owned),
    );
    refs.dedup();
    let link = OrderLink { order_id, refs };

    let action = match event_type.as_str() {
        "payment.captured" | "order.paid" => {
            match (
                payment_id,
                payment.and_then(|p| money(int_at(p, "/amount"), str_at(p, "/currency"))),
            ) {
                (Some(payment_id), Some(amount)) => PaymentAction::Succeeded { payment_id, amount },
                _ => PaymentAction::Unreadable {
                    reason: "payment entity without a readable id, amount or currency".into(),
                },
            }
        }
        "payment.failed" => PaymentAction::Failed {
            reason: payment
                .and_then(|p| str_at(p, "/error_reason").or_else(|| str_at(p, "/error_code")))
                .unwrap_or("payment_failed")
                .to_owned(),
            payment_id,
        },
        "payment.authorized" => PaymentAction::Pending { payment_id },
        "refund.processed" => match refund.and_then(|r| {
            Some((
                str_at(r, "/id")?.to_owned(),
                money(int_at(r, "/amount"), str_at(r, "/currency"))?,
                our_refund_id(r, "/notes/refundId"),
            ))
        }) {
            Some((id, amount, ours)) => PaymentAction::Refunded(RefundReport {
                payment_id: refund_payment.or(payment_id),
                our_ids: ours.map(|o| (id.clone(), o)).into_iter().collect(),
                refunds: vec![(id, amount)],
                charge: None,
            }),
            None => PaymentAction::Unreadable {
                reason: "refund entity without a readable id, amount or currency".into(),
            },
        },
        "refund.failed" => match refund.and_then(|r| Some((r, str_at(r, "/id")?))) {
            // The refund entity carries no failure reason; its status is `failed`.
            Some((r, id)) => PaymentAction::RefundFailed(RefundFailure {
                payment_id: refund_payment.or(payment_id),
                provider_refund_id: id.to_owned(),
                refund_id: our_refund_id(r, "/notes/refundId"),
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
        | "payment.dispute.closed" => match dispute.and_then(|d| {
            Some((
                d,
                str_at(d, "/id")?,
                money(int_at(d, "/amount"), str_at(d, "/currency"))?,
            ))
        }) {
            Some((d, id, amount)) => PaymentAction::Dispute(DisputeReport {
                dispute_id: id.to_owned(),
                payment_id: payment_id.or_else(|| str_at(d, "/payment_id").map(str::to_owned)),
                status: dispute_status(&event_type, d),
                amount,
                reason: str_at(d, "/reason_code").unwrap_or("unknown").to_owned(),
                evidence_due_by: seconds_at(d, "/respond_by"),
            }),
            None => PaymentAction::Unreadable {
                reason: "dispute entity without a readable id, amount or currency".into(),
            },
        },
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
fn dispute_status(event_type: &str, dispute: &Value) -> DisputeStatus {
    // `closed` is not an accepted dispute (accepting one makes it `lost`, with the amount
    // deducted): it is a fraud-phase dispute closed after the shop explained the payment or
    // refunded the customer. Nothing was deducted, and a refund is counted by the refund events:
    // calling it lost would count the same money twice. Should Razorpay ever report a deduction
    // on a closed dispute, the money is gone and it is lost.
    let closed = || match int_at(dispute, "/amount_deducted") {
        Some(deducted) if deducted > 0 => DisputeStatus::Lost,
        _ => DisputeStatus::Won,
    };
    let reported = match str_at(dispute, "/status") {
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
