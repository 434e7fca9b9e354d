//! The live Stripe and Razorpay clients against a local stub that records what they send and
//! answers like the provider: method, path, auth, headers and fields are checked, not just that
//! a request happened.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use oms_core::customer::{Customer, Email};
use oms_core::ports::{CheckoutRequest, PaymentProvider, ProviderError, ProviderSecrets};
use oms_core::{
    Currency, Money, OrderId, OrderLine, OrderNumber, Quantity, Secret, Sku, Timestamp,
};
use oms_memory::StaticSecrets;
use oms_providers::razorpay::{RazorpayConfig, RazorpayOrders};
use oms_providers::stripe::{StripeCheckout, StripeConfig};

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A provider stand-in on a random loopback port answering every request with `reply`.
async fn stub(status: StatusCode, reply: serde_json::Value) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let reply = reply.clone();
            async move {
                log.lock().unwrap().push(Seen {
                    method,
                    path: uri.path().to_owned(),
                    headers,
                    body,
                });
                (status, axum::Json(reply)).into_response()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

fn request() -> CheckoutRequest {
    let created = Timestamp::from_unix_millis(1_800_000_000_000);
    CheckoutRequest {
        order_id: OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap(),
        order_number: OrderNumber::parse("ORD-20270115-QRSTVWXY").unwrap(),
        amount: inr(74_900),
        customer: Customer {
            email: Email::parse("asha@example.in").unwrap(),
            name: "Asha Rao".into(),
            phone: None,
        },
        lines: vec![
            OrderLine {
                sku: Sku::parse("CHAI-250G").unwrap(),
                name: "Masala chai 250 g".into(),
                quantity: Quantity::new(2).unwrap(),
                unit_price: inr(24_950),
                line_total: inr(49_900),
            },
            OrderLine {
                sku: Sku::parse("MUG-STEEL").unwrap(),
                name: "Steel mug & lid".into(),
                quantity: Quantity::new(1).unwrap(),
                unit_price: inr(25_000),
                line_total: inr(25_000),
            },
        ],
        expires_at: created.plus(std::time::Duration::from_secs(30 * 60)),
        created_at: created,
    }
}

fn secrets() -> Arc<StaticSecrets> {
    Arc::new(StaticSecrets {
        stripe: ProviderSecrets {
            api_secret: Some(Secret::new("sk_test_123")),
            ..Default::default()
        },
        razorpay: ProviderSecrets {
            api_secret: Some(Secret::new("rzp_secret_xyz")),
            key_id: Some("rzp_test_abc".into()),
            ..Default::default()
        },
    })
}

fn stripe(base: &str) -> StripeCheckout {
    StripeCheckout::new(
        oms_providers::http_client(),
        StripeConfig {
            api_base: base.into(),
            success_url: "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}".into(),
            cancel_url: "https://shop.example/cart".into(),
        },
        secrets(),
    )
}

fn razorpay(base: &str) -> RazorpayOrders {
    RazorpayOrders::new(
        oms_providers::http_client(),
        RazorpayConfig {
            api_base: base.into(),
        },
        secrets(),
    )
}

fn form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded_pairs(std::str::from_utf8(body).unwrap())
}

fn form_urlencoded_pairs(s: &str) -> Vec<(String, String)> {
    // The test's own decoder, so the client's encoder is checked by an independent reading.
    s.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn field<'a>(f: &'a [(String, String)], k: &str) -> &'a str {
    f.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {k}"))
}

#[tokio::test]
async fn stripe_creates_a_checkout_session_with_the_order_linked_three_ways() {
    let (base, seen) = stub(
        StatusCode::OK,
        serde_json::json!({"id": "cs_test_a1b2", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2", "payment_intent": null}),
    )
    .await;
    let info = stripe(&base).create_checkout(&request()).await.unwrap();
    assert_eq!(info.provider_order_id, "cs_test_a1b2");
    assert_eq!(
        info.checkout_url.as_deref(),
        Some("https://checkout.stripe.com/c/pay/cs_test_a1b2")
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path, "/v1/checkout/sessions");
    assert_eq!(r.headers["authorization"], "Bearer sk_test_123");
    assert_eq!(
        r.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        r.headers["idempotency-key"],
        "checkout-session-ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"
    );
    let f = form(&r.body);
    assert_eq!(field(&f, "mode"), "payment");
    assert_eq!(
        field(&f, "client_reference_id"),
        "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"
    );
    assert_eq!(
        field(&f, "metadata[orderId]"),
        "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"
    );
    assert_eq!(
        field(&f, "payment_intent_data[metadata][orderId]"),
        "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"
    );
    assert_eq!(field(&f, "customer_email"), "asha@example.in");
    assert_eq!(
        field(&f, "success_url"),
        "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
    );
    assert_eq!(field(&f, "line_items[0][price_data][currency]"), "inr");
    assert_eq!(field(&f, "line_items[0][price_data][unit_amount]"), "24950");
    assert_eq!(field(&f, "line_items[0][quantity]"), "2");
    assert_eq!(
        field(&f, "line_items[1][price_data][product_data][name]"),
        "Steel mug & lid"
    );
    // Stripe refuses sessions that expire sooner than 30 minutes after creation.
    let expires: i64 = field(&f, "expires_at").parse().unwrap();
    assert!(expires >= 1_800_000_000 + 30 * 60, "{expires}");
    assert!(expires <= 1_800_000_000 + 24 * 3600);
}

#[tokio::test]
async fn razorpay_creates_an_order_in_paise_with_basic_auth_and_notes() {
    let (base, seen) = stub(
        StatusCode::OK,
        serde_json::json!({"id": "order_IluGWxBm9U8zJ8", "entity": "order", "amount": 74900, "currency": "INR", "status": "created"}),
    )
    .await;
    let info = razorpay(&base).create_checkout(&request()).await.unwrap();
    assert_eq!(info.provider_order_id, "order_IluGWxBm9U8zJ8");
    assert_eq!(info.key_id.as_deref(), Some("rzp_test_abc"));

    let seen = seen.lock().unwrap();
    let r = &seen[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path, "/v1/orders");
    // base64("rzp_test_abc:rzp_secret_xyz")
    assert_eq!(
        r.headers["authorization"],
        "Basic cnpwX3Rlc3RfYWJjOnJ6cF9zZWNyZXRfeHl6"
    );
    assert_eq!(r.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["amount"], 74_900);
    assert_eq!(body["currency"], "INR");
    assert_eq!(body["receipt"], "ORD-20270115-QRSTVWXY");
    assert_eq!(body["notes"]["orderId"], "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0");
}

#[tokio::test]
async fn a_provider_refusal_is_rejected_and_an_outage_is_retryable() {
    let (base, _) = stub(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": {"code": "BAD_REQUEST_ERROR", "description": "The amount must be atleast INR 1.00"}}),
    )
    .await;
    match razorpay(&base).create_checkout(&request()).await {
        Err(ProviderError::Rejected {
            status: 400,
            message,
        }) => assert!(message.contains("atleast INR 1.00")),
        other => panic!("expected a rejection, got {other:?}"),
    }

    let (base, _) = stub(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({"error": {"message": "down"}}),
    )
    .await;
    assert!(matches!(
        stripe(&base).create_checkout(&request()).await,
        Err(ProviderError::Unavailable(_))
    ));
    let (base, _) = stub(StatusCode::TOO_MANY_REQUESTS, serde_json::json!({})).await;
    assert!(matches!(
        stripe(&base).create_checkout(&request()).await,
        Err(ProviderError::Unavailable(_))
    ));

    // Nothing listens here: a connection failure is an outage, not a refusal.
    assert!(matches!(
        razorpay("http://127.0.0.1:9")
            .create_checkout(&request())
            .await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn the_offline_stand_in_returns_provider_shaped_ids_deterministically() {
    use oms_core::ProviderKind;
    use oms_providers::offline::OfflineProvider;
    let rzp = OfflineProvider::new(
        ProviderKind::Razorpay,
        "rzp_test_offline",
        "http://127.0.0.1:3000/dev/checkout",
    );
    let a = rzp.create_checkout(&request()).await.unwrap();
    let b = rzp.create_checkout(&request()).await.unwrap();
    assert_eq!(a, b);
    assert!(a.provider_order_id.starts_with("order_") && a.provider_order_id.len() == 20);
    assert_eq!(a.key_id.as_deref(), Some("rzp_test_offline"));

    let st = OfflineProvider::new(
        ProviderKind::Stripe,
        "",
        "http://127.0.0.1:3000/dev/checkout/",
    );
    let s = st.create_checkout(&request()).await.unwrap();
    assert!(s.provider_order_id.starts_with("cs_test_"));
    assert_eq!(
        s.checkout_url.unwrap(),
        format!("http://127.0.0.1:3000/dev/checkout/{}", s.provider_order_id)
    );
}

/// A Stripe stand-in that refuses to expire a session (as Stripe does for a completed one) and
/// reports the session's status.
async fn stripe_session_stub(
    expire_ok: bool,
    status: &'static str,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        async move {
            let path = uri.path().to_owned();
            log.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), headers, body });
            if path.ends_with("/expire") {
                if expire_ok {
                    (StatusCode::OK, axum::Json(serde_json::json!({"id": "cs_test_1", "status": "expired"}))).into_response()
                } else {
                    (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"error": {"message": "Only Checkout Sessions with a status in [\"open\"] can be expired."}}))).into_response()
                }
            } else {
                (StatusCode::OK, axum::Json(serde_json::json!({"id": "cs_test_1", "status": status}))).into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn session() -> oms_core::PaymentInfo {
    oms_core::PaymentInfo {
        provider: oms_core::ProviderKind::Stripe,
        provider_order_id: "cs_test_1".into(),
        provider_payment_id: None,
        checkout_url: None,
        key_id: None,
        captured: None,
    }
}

#[tokio::test]
async fn stripe_expires_an_open_session_and_recognises_a_paid_one() {
    use oms_core::ports::CheckoutClosed;
    let (base, seen) = stripe_session_stub(true, "expired").await;
    assert_eq!(
        stripe(&base).close_checkout(&session()).await.unwrap(),
        CheckoutClosed::Expired
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            (seen[0].method.clone(), seen[0].path.as_str()),
            (Method::POST, "/v1/checkout/sessions/cs_test_1/expire")
        );
        assert_eq!(seen[0].headers["authorization"], "Bearer sk_test_123");
    }

    let (base, seen) = stripe_session_stub(false, "complete").await;
    assert_eq!(
        stripe(&base).close_checkout(&session()).await.unwrap(),
        CheckoutClosed::AlreadyPaid
    );
    assert_eq!(
        seen.lock().unwrap()[1].method,
        Method::GET,
        "a refused expiry is looked up"
    );

    let razorpay = razorpay("http://127.0.0.1:9");
    let mut rzp = session();
    rzp.provider = oms_core::ProviderKind::Razorpay;
    assert_eq!(
        razorpay.close_checkout(&rzp).await.unwrap(),
        CheckoutClosed::NotApplicable,
        "Razorpay orders cannot be closed"
    );
}
