//! The events each function is started with, shaped as AWS delivers them: an API Gateway HTTP
//! API request (payload 2.0) for the HTTP functions, an SQS batch for the worker, the
//! schedule's `{}` for the cleanup. Stripe webhooks are built and signed with the project's own
//! provider simulator, so the webhook checks them exactly as it checks Stripe's.

use oms_core::webhook::simulate;
use oms_core::{Currency, Money, MoneyError, Secret};
use serde_json::{Value, json};

use crate::emulator::unix_millis;

/// An HTTP API request as API Gateway hands it to the function, without an authorizer (the
/// routes measured here are public: health, products, guest orders, webhooks).
pub fn http_api(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    request_id: &str,
) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let now = unix_millis();
    let mut all = serde_json::Map::new();
    for (k, v) in [
        ("host", "abc123.execute-api.ap-south-1.amazonaws.com"),
        ("user-agent", "oms-bench"),
        ("x-forwarded-proto", "https"),
    ]
    .iter()
    .chain(headers)
    {
        all.insert(k.to_ascii_lowercase(), Value::String((*v).to_owned()));
    }
    let mut ev = json!({
        "version": "2.0",
        "routeKey": format!("{method} {raw_path}"),
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": all,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.ap-south-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "oms-bench"},
            "requestId": request_id, "routeKey": format!("{method} {raw_path}"),
            "stage": "$default", "time": "01/Jan/2027:00:00:00 +0000", "timeEpoch": now,
        },
        "isBase64Encoded": false,
    });
    if let Some(b) = body {
        ev["body"] = Value::String(b.to_owned());
    }
    ev
}

/// One SQS message as the event source mapping delivers it (a batch of one).
pub fn sqs(queue_arn: &str, region: &str, message_id: &str, body: &str) -> Value {
    let now = unix_millis().to_string();
    json!({"Records": [{
        "messageId": message_id,
        "receiptHandle": format!("bench-{message_id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now,
            "SenderId": "AROAEXAMPLE:payment-webhook",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }]})
}

/// What the cleanup's schedule sends (`Input: "{}"` in the template).
pub fn schedule() -> Value {
    json!({})
}

/// A valid guest `POST /orders` body, paid through Stripe.
pub fn order_body(n: usize) -> String {
    json!({
        "items": [{"sku": "CHAI-250G", "quantity": 1}],
        "currency": "INR",
        "paymentProvider": "stripe",
        "customer": {"email": format!("bench{n}@example.in"), "name": "Asha Rao"},
        "shippingAddress": {"name": "Asha Rao", "line1": "12 MG Road", "city": "Bengaluru",
                            "state": "Karnataka", "postalCode": "560001", "country": "IN"},
    })
    .to_string()
}

/// An order waiting for its Stripe payment, as `POST /orders` answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOrder {
    pub order_id: String,
    pub session_id: String,
    pub amount: i64,
    pub currency: String,
}

impl PendingOrder {
    /// Reads the `201` body of `POST /orders`; `None` if it is not a Stripe order.
    pub fn from_created(body: &Value) -> Option<Self> {
        Some(Self {
            order_id: body["orderId"].as_str()?.to_owned(),
            session_id: body.pointer("/payment/sessionId")?.as_str()?.to_owned(),
            amount: body["amount"].as_i64()?,
            currency: body["currency"].as_str()?.to_owned(),
        })
    }
}

/// A webhook body and the `Stripe-Signature` header that goes with it.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub body: String,
    pub signature: String,
}

/// `checkout.session.completed` paying `order` in full, signed at `now_secs` with `secret`.
pub fn checkout_completed(
    order: &PendingOrder,
    event_id: &str,
    secret: &str,
    now_secs: i64,
) -> Result<SignedWebhook, MoneyError> {
    let amount = Money::new(order.amount, Currency::parse(&order.currency)?)?;
    let body = simulate::stripe_session_paid(
        event_id,
        "checkout.session.completed",
        &order.session_id,
        &format!("pi_{}", event_id.trim_start_matches("evt_")),
        Some(&order.order_id),
        amount,
        now_secs,
    );
    let signature = simulate::stripe_signature(&Secret::new(secret), now_secs, &body);
    Ok(SignedWebhook { body, signature })
}

/// The API Gateway event of Stripe posting `hook` to the webhook route.
pub fn stripe_delivery(hook: &SignedWebhook, request_id: &str) -> Value {
    http_api(
        "POST",
        "/api/v1/webhooks/stripe",
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("stripe-signature", &hook.signature),
            (
                "user-agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            ),
        ],
        Some(&hook.body),
        request_id,
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use oms_core::Timestamp;
    use oms_core::webhook::signature::verify_stripe;

    use super::*;

    fn order() -> PendingOrder {
        PendingOrder::from_created(&json!({
            "orderId": "ord_01J0000000000000000000000", "amount": 34900, "currency": "INR",
            "payment": {"provider": "stripe", "sessionId": "cs_test_a1", "checkoutUrl": "x"}
        }))
        .unwrap()
    }

    #[test]
    fn a_bench_webhook_passes_the_services_own_signature_check() {
        let now = 1_800_000_000;
        let hook = checkout_completed(&order(), "evt_1", "whsec_bench", now).unwrap();
        let checked = verify_stripe(
            Some(&hook.signature),
            hook.body.as_bytes(),
            &[Secret::new("whsec_bench")],
            Timestamp::from_unix_millis(now * 1000),
            Duration::from_secs(300),
        );
        assert_eq!(checked, Ok(now));
        let body: Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["type"], "checkout.session.completed");
        assert_eq!(
            body["data"]["object"]["metadata"]["orderId"],
            "ord_01J0000000000000000000000"
        );
    }

    #[test]
    fn the_webhook_delivery_keeps_the_raw_body_and_the_signature_header() {
        let hook = checkout_completed(&order(), "evt_2", "whsec_bench", 1_800_000_000).unwrap();
        let ev = stripe_delivery(&hook, "req-1");
        assert_eq!(ev["body"], hook.body);
        assert_eq!(ev["headers"]["stripe-signature"], hook.signature);
        assert_eq!(ev["requestContext"]["http"]["method"], "POST");
        assert_eq!(ev["isBase64Encoded"], false);
    }

    #[test]
    fn an_order_that_is_not_paid_through_stripe_is_not_a_pending_stripe_order() {
        let razorpay = json!({"orderId": "ord_1", "amount": 1, "currency": "INR",
                              "payment": {"provider": "razorpay", "providerOrderId": "order_1"}});
        assert_eq!(PendingOrder::from_created(&razorpay), None);
    }
}
