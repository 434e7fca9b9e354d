//! Razorpay events → [`PaymentEvent`]: `payment.captured`, `order.paid` (order + payment
//! entities), `payment.failed`, `refund.processed`, `payment.authorized` (recorded). `notes` may
//! be an object or, when empty, `[]`. Call only after [`super::signature::verify_razorpay`].

use serde_json::Value;

use super::{
    OrderLink, PaymentAction, PaymentEvent, RefundReport, int_at, money, order_id_at, str_at,
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
    refs.extend(
        refund
            .and_then(|r| str_at(r, "/payment_id"))
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
                str_at(r, "/payment_id").map(str::to_owned),
            ))
        }) {
            Some((id, amount, refund_payment)) => PaymentAction::Refunded(RefundReport {
                payment_id: refund_payment.or(payment_id),
                refunds: vec![(id, amount)],
                charge: None,
                our_ids: Vec::new(),
            }),
            None => PaymentAction::Unreadable {
                reason: "refund entity without a readable id, amount or currency".into(),
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
