//! `floor`: the least a Rust Lambda can do for a Stripe `checkout.session.completed` — the
//! reference `scripts/bench-coldstart` measures `payment-webhook` against (issue 19).
//!
//! At init: the two AWS clients, and the endpoint secret from the Secrets Manager document
//! at `STRIPE_SECRET_ARN` (`{"webhookSecret": …}`; `STRIPE_WEBHOOK_SECRET` when no ARN is
//! given). Per event: the `Stripe-Signature` checked over the raw body (HMAC-SHA256, constant
//! time, 300 s tolerance), the four fields the job needs read from the body, and one
//! `TransactWriteItems` — the event's dedupe item (which must not exist) and the order's flip
//! from `pending_payment` to `paid` — the same items the Python peer writes. A cancelled
//! transaction (a redelivery, or an order not pending) is answered 200 like a handled event.
//!
//! Not the product: no review rules, no amount check, no outbox, no logs. It exists so every
//! benchmark run prints how far the real function is from this.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use hmac::{Hmac, KeyInit, Mac};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

const TOLERANCE_SECS: i64 = 300;
const EVENT_TTL_SECS: i64 = 4 * 24 * 60 * 60;

/// The API Gateway HTTP API (payload 2.0) request: only what the job reads.
#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "isBase64Encoded")]
    base64: bool,
}

#[derive(Deserialize)]
struct StripeEvent<'a> {
    #[serde(borrow)]
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    data: Data<'a>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    object: Session<'a>,
}

#[derive(Deserialize)]
struct Session<'a> {
    #[serde(default, borrow)]
    payment_status: Option<&'a str>,
    #[serde(default)]
    payment_intent: Option<&'a str>,
    #[serde(borrow)]
    metadata: Metadata<'a>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(rename = "orderId")]
    order_id: &'a str,
}

#[derive(Deserialize)]
struct SecretDoc {
    #[serde(rename = "webhookSecret")]
    webhook_secret: String,
}

struct Floor {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    secret: Vec<u8>,
}

fn answer(status: u16, body: Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

fn refused(code: &str) -> Value {
    answer(400, json!({"error": {"code": code}}))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `t=<unix>,v1=<hex>…` over `"<t>.<body>"`.
fn verified(secret: &[u8], header: &str, body: &[u8], now: i64) -> bool {
    let mut t = None;
    let mut tags = Vec::new();
    for part in header.split(',').take(64) {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => tags.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if t.parse::<i64>()
        .map_or(true, |t| (now - t).abs() > TOLERANCE_SECS)
    {
        return false;
    }
    let Ok(mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    let mut mac = mac;
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    tags.iter().any(|tag| mac.clone().verify_slice(tag).is_ok())
}

impl Floor {
    async fn init() -> Result<Self, Error> {
        let config = aws_config::load_from_env().await;
        let table = std::env::var("TABLE_NAME")?;
        let secret = match std::env::var("STRIPE_SECRET_ARN") {
            Ok(arn) => {
                let doc = aws_sdk_secretsmanager::Client::new(&config)
                    .get_secret_value()
                    .secret_id(arn)
                    .send()
                    .await?;
                let text = doc
                    .secret_string()
                    .ok_or("the secret has no SecretString")?;
                serde_json::from_str::<SecretDoc>(text)?.webhook_secret
            }
            Err(_) => std::env::var("STRIPE_WEBHOOK_SECRET")?,
        };
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            table,
            secret: secret.into_bytes(),
        })
    }

    async fn handle(&self, request: Request) -> Result<Value, Error> {
        let raw = request.body.unwrap_or_default();
        if request.base64 {
            return Ok(refused("base64_body"));
        }
        let header = request
            .headers
            .get("stripe-signature")
            .map_or("", String::as_str);
        if !verified(&self.secret, header, raw.as_bytes(), unix_now()) {
            return Ok(refused("invalid_signature"));
        }
        let Ok(event) = serde_json::from_str::<StripeEvent>(&raw) else {
            return Ok(refused("invalid_event"));
        };
        let received = json!({"received": true});
        if event.kind != "checkout.session.completed"
            || event.data.object.payment_status != Some("paid")
        {
            return Ok(answer(200, received));
        }
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: i64| AttributeValue::N(v.to_string());
        let now = unix_now();
        let record = Put::builder()
            .table_name(&self.table)
            .item("PK", s(&format!("EVENT#stripe#{}", event.id)))
            .item("SK", s("EVENT"))
            .item("eventType", s(event.kind))
            .item("orderId", s(event.data.object.metadata.order_id))
            .item("receivedAt", n(now))
            .item("ttl", n(now + EVENT_TTL_SECS))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let paid = Update::builder()
            .table_name(&self.table)
            .key(
                "PK",
                s(&format!("ORDER#{}", event.data.object.metadata.order_id)),
            )
            .key("SK", s("ORDER"))
            .update_expression("SET #status = :paid, paidAt = :now, paymentIntentId = :pi")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paid", s("paid"))
            .expression_attribute_values(":pending", s("pending_payment"))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(
                ":pi",
                s(event.data.object.payment_intent.unwrap_or_default()),
            )
            .build()?;
        let sent = self
            .dynamodb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(record).build())
            .transact_items(TransactWriteItem::builder().update(paid).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(answer(200, received)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                Ok(answer(200, received))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let floor = Floor::init().await?;
    let floor = &floor;
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Request>| async move {
        floor.handle(e.payload).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], t: i64, body: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn only_a_current_signature_under_the_secret_passes() {
        let body = r#"{"id":"evt_1"}"#;
        let now = 1_700_000_000;
        let good = sign(b"whsec_a", now, body);
        assert!(verified(b"whsec_a", &good, body.as_bytes(), now));
        assert!(!verified(b"whsec_b", &good, body.as_bytes(), now));
        assert!(!verified(b"whsec_a", &good, b"{}", now));
        assert!(!verified(b"whsec_a", &good, body.as_bytes(), now + 301));
        assert!(!verified(b"whsec_a", "v1=00", body.as_bytes(), now));
    }

    #[test]
    fn the_event_is_read_borrowing_only_its_fields() {
        let body = r#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"payment_status":"paid","payment_intent":"pi_1","metadata":{"orderId":"ord_1"},"extra":[1,2]}}}"#;
        let e: StripeEvent = serde_json::from_str(body).unwrap();
        assert_eq!(
            (
                e.id,
                e.data.object.metadata.order_id,
                e.data.object.payment_intent
            ),
            ("evt_1", "ord_1", Some("pi_1"))
        );
    }
}
