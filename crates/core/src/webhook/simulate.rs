//! Provider-shaped events for the developer loop (`cargo run -p dev-server -- pay …`, like
//! `stripe trigger`) and for tests. The shapes follow the providers' documented payloads; only
//! the fields this service reads, plus a few for realism, are filled in.

use serde_json::{Value, json};

use super::signature::hmac_hex;
use crate::money::Money;
use crate::secret::Secret;

/// The `Stripe-Signature` header Stripe would send for `body` at Unix time `t`.
pub fn stripe_signature(secret: &Secret, t: i64, body: &str) -> String {
    format!(
        "t={t},v1={}",
        hmac_hex(secret, format!("{t}.{body}").as_bytes())
    )
}

/// The `X-Razorpay-Signature` header Razorpay would send for `body`.
pub fn razorpay_signature(secret: &Secret, body: &str) -> String {
    hmac_hex(secret, body.as_bytes())
}

fn stripe_event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
        "data": {"object": object},
    })
    .to_string()
}

/// `checkout.session.completed` (or `…async_payment_succeeded`) for a paid session.
pub fn stripe_session_paid(
    event_id: &str,
    kind: &str,
    session_id: &str,
    payment_intent: &str,
    order_id: Option<&str>,
    amount: Money,
    created: i64,
) -> String {
    let metadata = match order_id {
        Some(id) => json!({"orderId": id}),
        None => json!({}),
    };
    stripe_event(
        event_id,
        kind,
        created,
        json!({
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": amount.minor(),
            "currency": amount.currency().lowercase(),
            "client_reference_id": order_id,
            "metadata": metadata,
            "payment_intent": payment_intent,
            "customer_details": {"email": "buyer@example.com"},
        }),
    )
}

/// `payment_intent.succeeded`.
pub fn stripe_intent_succeeded(
    event_id: &str,
    payment_intent: &str,
    order_id: Option<&str>,
    amount: Money,
    created: i64,
) -> String {
    let metadata = order_id.map_or(json!({}), |id| json!({"orderId": id}));
    stripe_event(
        event_id,
        "payment_intent.succeeded",
        created,
        json!({
            "id": payment_intent,
            "object": "payment_intent",
            "amount": amount.minor(),
            "amount_received": amount.minor(),
            "currency": amount.currency().lowercase(),
            "status": "succeeded",
            "metadata": metadata,
        }),
    )
}

/// `payment_intent.payment_failed` with a declined card.
pub fn stripe_intent_failed(
    event_id: &str,
    payment_intent: &str,
    order_id: Option<&str>,
    amount: Money,
    created: i64,
) -> String {
    let metadata = order_id.map_or(json!({}), |id| json!({"orderId": id}));
    stripe_event(
        event_id,
        "payment_intent.payment_failed",
        created,
        json!({
            "id": payment_intent,
            "object": "payment_intent",
            "amount": amount.minor(),
            "amount_received": 0,
            "currency": amount.currency().lowercase(),
            "status": "requires_payment_method",
            "metadata": metadata,
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."},
        }),
    )
}

/// `charge.refunded` as Stripe sends it today: the charge, no order metadata, the cumulative
/// `amount_refunded`, and (when `refunds` is given) the expanded refund list.
pub fn stripe_charge_refunded(
    event_id: &str,
    charge_id: &str,
    payment_intent: &str,
    captured: Money,
    refunded_total: i64,
    refunds: Option<&[(&str, i64)]>,
    created: i64,
) -> String {
    let mut charge = json!({
        "id": charge_id,
        "object": "charge",
        "amount": captured.minor(),
        "amount_captured": captured.minor(),
        "amount_refunded": refunded_total,
        "currency": captured.currency().lowercase(),
        "payment_intent": payment_intent,
        "refunded": refunded_total >= captured.minor(),
        "metadata": {},
    });
    if let Some(list) = refunds {
        let data: Vec<Value> = list
            .iter()
            .map(|(id, amount)| json!({"id": id, "object": "refund", "amount": amount, "currency": captured.currency().lowercase(), "status": "succeeded", "charge": charge_id, "payment_intent": payment_intent}))
            .collect();
        charge["refunds"] = json!({"object": "list", "data": data, "has_more": false});
    }
    stripe_event(event_id, "charge.refunded", created, charge)
}

fn notes(order_id: Option<&str>) -> Value {
    // Razorpay sends an empty array, not an object, when there are no notes.
    order_id.map_or(json!([]), |id| json!({"orderId": id}))
}

fn razorpay_payment(
    payment_id: &str,
    razorpay_order_id: &str,
    order_id: Option<&str>,
    amount: Money,
    status: &str,
) -> Value {
    let failed = status == "failed";
    json!({
        "id": payment_id,
        "entity": "payment",
        "amount": amount.minor(),
        "currency": amount.currency().as_str(),
        "status": status,
        "order_id": razorpay_order_id,
        "international": false,
        "method": "upi",
        "amount_refunded": 0,
        "captured": status == "captured",
        "email": "buyer@example.com",
        "contact": "+919999999999",
        "notes": notes(order_id),
        "error_code": if failed { json!("BAD_REQUEST_ERROR") } else { Value::Null },
        "error_description": if failed { json!("Payment failed") } else { Value::Null },
        "error_reason": if failed { json!("payment_failed") } else { Value::Null },
        "created_at": 1_700_000_000,
    })
}

fn razorpay_event(event: &str, payload: Value, contains: &[&str]) -> String {
    json!({
        "entity": "event",
        "account_id": "acc_OfflineStandIn",
        "event": event,
        "contains": contains,
        "payload": payload,
        "created_at": 1_700_000_000,
    })
    .to_string()
}

/// `payment.captured`, `payment.authorized` or `payment.failed`.
pub fn razorpay_payment_event(
    event: &str,
    payment_id: &str,
    razorpay_order_id: &str,
    order_id: Option<&str>,
    amount: Money,
) -> String {
    let status = match event {
        "payment.captured" => "captured",
        "payment.failed" => "failed",
        _ => "authorized",
    };
    razorpay_event(
        event,
        json!({"payment": {"entity": razorpay_payment(payment_id, razorpay_order_id, order_id, amount, status)}}),
        &["payment"],
    )
}

/// `order.paid`: the order entity and the payment entity together.
pub fn razorpay_order_paid(
    payment_id: &str,
    razorpay_order_id: &str,
    order_id: Option<&str>,
    amount: Money,
) -> String {
    razorpay_event(
        "order.paid",
        json!({
            "payment": {"entity": razorpay_payment(payment_id, razorpay_order_id, order_id, amount, "captured")},
            "order": {"entity": {
                "id": razorpay_order_id, "entity": "order", "amount": amount.minor(),
                "amount_paid": amount.minor(), "amount_due": 0, "currency": amount.currency().as_str(),
                "receipt": "receipt", "status": "paid", "attempts": 1, "notes": notes(order_id),
            }},
        }),
        &["payment", "order"],
    )
}

/// `refund.processed` for `amount` of `payment_id`.
pub fn razorpay_refund_processed(
    refund_id: &str,
    payment_id: &str,
    razorpay_order_id: &str,
    order_id: Option<&str>,
    captured: Money,
    amount: i64,
) -> String {
    razorpay_event(
        "refund.processed",
        json!({
            "refund": {"entity": {
                "id": refund_id, "entity": "refund", "amount": amount,
                "currency": captured.currency().as_str(), "payment_id": payment_id,
                "notes": [], "status": "processed", "speed_processed": "normal",
            }},
            "payment": {"entity": razorpay_payment(payment_id, razorpay_order_id, order_id, captured, "captured")},
        }),
        &["refund", "payment"],
    )
}
