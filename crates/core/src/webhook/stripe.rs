//! Stripe events → [`PaymentEvent`]. Handles the Checkout Session, PaymentIntent and Charge
//! objects of the event types `docs/operations.md` registers the Stripe webhook endpoint for;
//! every other type is acknowledged as ignored.
//! Call only after [`super::signature::verify_stripe`] has passed.

use serde_json::Value;

use super::{
    ChargeTotal, OrderLink, PaymentAction, PaymentEvent, RefundReport, int_at, money, order_id_at,
    str_at,
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
    // A payment_intent field may be an id or an expanded object.
    let payment_intent = str_at(obj, "/payment_intent")
        .or_else(|| str_at(obj, "/payment_intent/id"))
        .map(str::to_owned);

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
    if let Some(list) = obj.pointer("/refunds/data").and_then(Value::as_array) {
        for r in list
            .iter()
            .filter(|r| !matches!(str_at(r, "/status"), Some("failed" | "canceled")))
        {
            match (
                str_at(r, "/id"),
                money(int_at(r, "/amount"), str_at(r, "/currency").or(currency)),
            ) {
                (Some(id), Some(amount)) => refunds.push((id.to_owned(), amount)),
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
            our_ids: Vec::new(),
        }),
        _ => unreadable_refund(),
    }
}

fn unreadable_refund() -> PaymentAction {
    PaymentAction::Unreadable {
        reason: "refund without a readable charge id or amount".into(),
    }
}
