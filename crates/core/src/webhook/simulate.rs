//! Provider-shaped events for the developer loop (`cargo run -p dev-server -- pay …`, like
//! `stripe trigger`) and for tests. The shapes follow the providers' documented payloads; only
//! the fields this service reads, plus a few for realism, are filled in.

use serde_json::{Value, json};

use super::signature::hmac_hex;
use crate::money::Money;
use crate::secret::Secret;

/// A refund for the refund builders below.
#[derive(Debug, Clone, Copy)]
pub struct RefundSpec<'a> {
    /// Stripe `re_…` or Razorpay `rfnd_…`.
    pub id: &'a str,
    /// The payment refunded: Stripe PaymentIntent or Razorpay `pay_…`.
    pub payment_id: &'a str,
    pub amount: Money,
    /// The provider's own status word (Stripe `succeeded`, `pending`, `failed`, …; Razorpay
    /// `pending`, `processed`, `failed`).
    pub status: &'a str,
    /// Our refund id, when this service asked for the refund (Stripe `metadata.refundId`,
    /// Razorpay `notes.refundId`).
    pub our_id: Option<&'a str>,
}

/// A dispute (chargeback) for the dispute builders below.
#[derive(Debug, Clone, Copy)]
pub struct DisputeSpec<'a> {
    /// Stripe `du_…` or Razorpay `disp_…`.
    pub id: &'a str,
    /// The payment disputed: Stripe PaymentIntent or Razorpay `pay_…`.
    pub payment_id: &'a str,
    pub amount: Money,
    /// The provider's own status word (Stripe `needs_response`, `won`, …; Razorpay `open`,
    /// `under_review`, …).
    pub status: &'a str,
    /// Stripe `reason` or Razorpay `reason_code`.
    pub reason: &'a str,
    /// Unix seconds: Stripe `evidence_details.due_by`, Razorpay `respond_by`.
    pub due_by: Option<i64>,
}

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

fn stripe_refund(refund: &RefundSpec<'_>, charge_id: &str, order_id: Option<&str>) -> Value {
    let mut metadata = serde_json::Map::new();
    if let Some(id) = order_id {
        metadata.insert("orderId".into(), json!(id));
    }
    if let Some(id) = refund.our_id {
        metadata.insert("refundId".into(), json!(id));
    }
    json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount.minor(),
        "balance_transaction": null,
        "charge": charge_id,
        "created": 1_700_000_000,
        "currency": refund.amount.currency().lowercase(),
        "destination_details": {"type": "card", "card": {"reference_status": "pending", "type": "refund"}},
        "failure_reason": if refund.status == "failed" { json!("expired_or_canceled_card") } else { Value::Null },
        "metadata": metadata,
        "payment_intent": refund.payment_id,
        "reason": "requested_by_customer",
        "receipt_number": null,
        "status": refund.status,
    })
}

/// `refund.created`, `refund.updated` or `refund.failed`: one Refund object of `charge_id`,
/// with `metadata.orderId` / `metadata.refundId` when given (refunds this service starts).
pub fn stripe_refund_event(
    event_id: &str,
    kind: &str,
    refund: &RefundSpec<'_>,
    charge_id: &str,
    order_id: Option<&str>,
    created: i64,
) -> String {
    stripe_event(
        event_id,
        kind,
        created,
        stripe_refund(refund, charge_id, order_id),
    )
}

/// `charge.refunded` listing `refunds` in full (statuses and metadata included), with the
/// cumulative `amount_refunded` Stripe reports beside them.
pub fn stripe_charge_refunded_listing(
    event_id: &str,
    charge_id: &str,
    captured: Money,
    refunded_total: i64,
    refunds: &[RefundSpec<'_>],
    created: i64,
) -> String {
    let payment_intent = refunds.first().map_or("", |r| r.payment_id);
    let data: Vec<Value> = refunds
        .iter()
        .map(|r| stripe_refund(r, charge_id, None))
        .collect();
    stripe_event(
        event_id,
        "charge.refunded",
        created,
        json!({
            "id": charge_id,
            "object": "charge",
            "amount": captured.minor(),
            "amount_captured": captured.minor(),
            "amount_refunded": refunded_total,
            "currency": captured.currency().lowercase(),
            "payment_intent": payment_intent,
            "refunded": refunded_total >= captured.minor(),
            "metadata": {},
            "refunds": {"object": "list", "data": data, "has_more": false},
        }),
    )
}

/// `charge.dispute.created`, `.updated`, `.closed`, `.funds_withdrawn` or `.funds_reinstated`:
/// one Dispute object of `charge_id`.
pub fn stripe_dispute_event(
    event_id: &str,
    kind: &str,
    dispute: &DisputeSpec<'_>,
    charge_id: &str,
    created: i64,
) -> String {
    stripe_event(
        event_id,
        kind,
        created,
        json!({
            "id": dispute.id,
            "object": "dispute",
            "amount": dispute.amount.minor(),
            "balance_transactions": [],
            "charge": charge_id,
            "created": 1_700_000_000,
            "currency": dispute.amount.currency().lowercase(),
            "evidence": {"customer_name": null, "product_description": null, "uncategorized_text": null},
            "evidence_details": {
                "due_by": dispute.due_by,
                "has_evidence": false,
                "past_due": false,
                "submission_count": 0,
            },
            "is_charge_refundable": false,
            "livemode": false,
            "metadata": {},
            "payment_intent": dispute.payment_id,
            "reason": dispute.reason,
            "status": dispute.status,
        }),
    )
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
    razorpay_refund(
        "refund.processed",
        razorpay_refund_entity(
            refund_id,
            payment_id,
            amount,
            captured,
            "processed",
            json!([]),
        ),
        payment_id,
        razorpay_order_id,
        order_id,
        captured,
    )
}

/// `refund.created`, `refund.processed` or `refund.failed`: the refund entity (its `notes`
/// carrying `refundId` when given, `[]` otherwise) and the payment entity it returns money from.
pub fn razorpay_refund_event(
    event: &str,
    refund: &RefundSpec<'_>,
    razorpay_order_id: &str,
    order_id: Option<&str>,
    captured: Money,
) -> String {
    let notes = refund
        .our_id
        .map_or(json!([]), |id| json!({"refundId": id}));
    razorpay_refund(
        event,
        razorpay_refund_entity(
            refund.id,
            refund.payment_id,
            refund.amount.minor(),
            refund.amount,
            refund.status,
            notes,
        ),
        refund.payment_id,
        razorpay_order_id,
        order_id,
        captured,
    )
}

/// `amount` is raw so tests can report amounts [`Money`] would refuse; the currency is the
/// payment's.
fn razorpay_refund_entity(
    id: &str,
    payment_id: &str,
    amount: i64,
    of: Money,
    status: &str,
    notes: Value,
) -> Value {
    json!({
        "id": id, "entity": "refund", "amount": amount, "currency": of.currency().as_str(),
        "payment_id": payment_id, "notes": notes, "receipt": null, "acquirer_data": {"arn": null},
        "created_at": 1_700_000_000, "batch_id": null, "status": status,
        "speed_processed": "normal", "speed_requested": "normal",
    })
}

fn razorpay_refund(
    event: &str,
    refund: Value,
    payment_id: &str,
    razorpay_order_id: &str,
    order_id: Option<&str>,
    captured: Money,
) -> String {
    razorpay_event(
        event,
        json!({
            "refund": {"entity": refund},
            "payment": {"entity": razorpay_payment(payment_id, razorpay_order_id, order_id, captured, "captured")},
        }),
        &["refund", "payment"],
    )
}

/// `payment.dispute.created`, `.under_review`, `.action_required`, `.won`, `.lost` or `.closed`:
/// the payment entity and the dispute entity. A `lost` dispute reports its amount deducted.
pub fn razorpay_dispute_event(
    event: &str,
    dispute: &DisputeSpec<'_>,
    razorpay_order_id: &str,
    order_id: Option<&str>,
    captured: Money,
) -> String {
    let deducted = if dispute.status == "lost" {
        dispute.amount.minor()
    } else {
        0
    };
    razorpay_event(
        event,
        json!({
            "payment": {"entity": razorpay_payment(dispute.payment_id, razorpay_order_id, order_id, captured, "captured")},
            "dispute": {"entity": {
                "id": dispute.id, "entity": "dispute", "payment_id": dispute.payment_id,
                "amount": dispute.amount.minor(), "currency": dispute.amount.currency().as_str(),
                "amount_deducted": deducted, "reason_code": dispute.reason,
                "reason_description": "The customer does not recognise the payment.",
                "respond_by": dispute.due_by, "status": dispute.status, "phase": "chargeback",
                "created_at": 1_700_000_000,
            }},
        }),
        &["payment", "dispute"],
    )
}
