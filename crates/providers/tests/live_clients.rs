//! The live Stripe and Razorpay clients against a local stub that records what they send and
//! answers like the provider: method, path, auth, headers and fields are checked, not just that
//! a request happened. Also the offline stand-in, which answers like them without a network.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use oms_core::customer::{Customer, Email};
use oms_core::ports::{
    BackfillQuery, CheckoutRequest, FoundPayment, FoundPaymentStatus, PaymentProvider,
    ProviderError, ProviderRefund, ProviderRefundStatus, ProviderSecrets, RefundCall,
};
use oms_core::{
    Currency, Money, OrderId, OrderLine, OrderNumber, Quantity, Secret, Sku, Timestamp,
};
use oms_memory::StaticSecrets;
use oms_providers::offline::{OfflineProvider, SentEvent};
use oms_providers::razorpay::{RazorpayConfig, RazorpayOrders};
use oms_providers::stripe::{StripeCheckout, StripeConfig};

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    /// The raw query string, if any.
    query: Option<String>,
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
                    query: uri.query().map(str::to_owned),
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
            log.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), query: uri.query().map(str::to_owned), headers, body });
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

// Refunds.

const REFUND_ID: &str = "rf_01JDQ8A1B2C3D4E5F6G7H8J9K0";
const INTENT: &str = "pi_3PqRsT2eZvKYlo2C0abcdefg";
const RAZORPAY_PAYMENT: &str = "pay_29QQoUBi66xm2f";

fn refund_call(payment_id: &str, reason: Option<&str>) -> RefundCall {
    RefundCall {
        refund_id: REFUND_ID.into(),
        order_id: OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap(),
        payment_id: payment_id.into(),
        amount: inr(24_950),
        reason: reason.map(str::to_owned),
    }
}

fn stripe_refund_object(status: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "id": "re_3PqRsT2eZvKYlo2C1xyzxyzx", "object": "refund", "amount": 24950,
        "currency": "inr", "charge": "ch_3PqRsT2eZvKYlo2C0chchchc", "payment_intent": INTENT,
        "metadata": {"refundId": REFUND_ID}, "reason": null, "status": status,
    })
}

fn razorpay_refund_entity(status: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "rfnd_FgRAHdNOM4ZVbO", "entity": "refund", "amount": 24950, "currency": "INR",
        "payment_id": RAZORPAY_PAYMENT, "notes": {"refundId": REFUND_ID},
        "receipt": REFUND_ID, "status": status, "speed_requested": "normal",
    })
}

#[tokio::test]
async fn stripe_refunds_the_payment_intent_with_our_ids_in_metadata_under_one_key() {
    let (base, seen) = stub(
        StatusCode::OK,
        stripe_refund_object(serde_json::json!("pending")),
    )
    .await;
    let stripe = stripe(&base);
    let call = refund_call(INTENT, Some("Damaged in transit & returned"));
    let first = stripe.refund(&call).await.unwrap();
    let retry = stripe.refund(&call).await.unwrap();
    assert_eq!(first, retry);
    assert_eq!(
        first,
        ProviderRefund {
            provider_refund_id: "re_3PqRsT2eZvKYlo2C1xyzxyzx".into(),
            status: ProviderRefundStatus::Pending,
            amount: inr(24_950),
            charge_id: Some("ch_3PqRsT2eZvKYlo2C0chchchc".into()),
        }
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for r in seen.iter() {
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.path, "/v1/refunds");
        assert_eq!(r.headers["authorization"], "Bearer sk_test_123");
        assert_eq!(
            r.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(
            r.headers["idempotency-key"],
            "refund-rf_01JDQ8A1B2C3D4E5F6G7H8J9K0"
        );
    }
    assert_eq!(
        seen[0].body, seen[1].body,
        "Stripe replays a key only for the same parameters"
    );
    let f = form(&seen[0].body);
    assert_eq!(field(&f, "payment_intent"), INTENT);
    assert_eq!(field(&f, "amount"), "24950");
    assert_eq!(field(&f, "metadata[refundId]"), REFUND_ID);
    assert_eq!(
        field(&f, "metadata[orderId]"),
        "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"
    );
    assert_eq!(
        field(&f, "metadata[reason]"),
        "Damaged in transit & returned"
    );
    assert!(
        f.iter().all(|(k, _)| k != "reason"),
        "Stripe's reason is an enum, not free text"
    );
}

#[test]
fn stripe_leaves_out_a_missing_reason_and_cuts_a_long_one_to_its_metadata_limit() {
    let f = StripeCheckout::refund_form(&refund_call(INTENT, None));
    assert!(f.iter().all(|(k, _)| k != "metadata[reason]"), "{f:?}");
    let f = StripeCheckout::refund_form(&refund_call(INTENT, Some("  ")));
    assert!(f.iter().all(|(k, _)| k != "metadata[reason]"), "{f:?}");

    let long = "₹ refunded after review. ".repeat(40);
    let f = StripeCheckout::refund_form(&refund_call(INTENT, Some(&long)));
    let reason = field(&f, "metadata[reason]");
    assert_eq!(reason.chars().count(), 500);
    assert!(long.starts_with(reason));
}

#[tokio::test]
async fn stripe_refund_statuses_map_to_ours() {
    use ProviderRefundStatus::*;
    for (status, expected) in [
        (serde_json::json!("succeeded"), Succeeded),
        (serde_json::json!("pending"), Pending),
        (serde_json::json!("requires_action"), Pending),
        (serde_json::json!("failed"), Failed),
        (serde_json::json!("canceled"), Failed),
        (serde_json::json!("a_status_added_later"), Pending),
        (serde_json::Value::Null, Pending),
    ] {
        let (base, _) = stub(StatusCode::OK, stripe_refund_object(status.clone())).await;
        let refund = stripe(&base)
            .refund(&refund_call(INTENT, None))
            .await
            .unwrap();
        assert_eq!(refund.status, expected, "Stripe status {status}");
    }
}

#[tokio::test]
async fn razorpay_refunds_the_payment_at_normal_speed_with_our_ids_in_notes_under_one_key() {
    let (base, seen) = stub(StatusCode::OK, razorpay_refund_entity("pending")).await;
    let razorpay = razorpay(&base);
    let call = refund_call(RAZORPAY_PAYMENT, Some("Customer changed their mind"));
    let first = razorpay.refund(&call).await.unwrap();
    let retry = razorpay.refund(&call).await.unwrap();
    assert_eq!(first, retry);
    assert_eq!(
        first,
        ProviderRefund {
            provider_refund_id: "rfnd_FgRAHdNOM4ZVbO".into(),
            status: ProviderRefundStatus::Pending,
            amount: inr(24_950),
            charge_id: None,
        }
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for r in seen.iter() {
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.path, "/v1/payments/pay_29QQoUBi66xm2f/refund");
        // base64("rzp_test_abc:rzp_secret_xyz")
        assert_eq!(
            r.headers["authorization"],
            "Basic cnpwX3Rlc3RfYWJjOnJ6cF9zZWNyZXRfeHl6"
        );
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.headers["x-refund-idempotency"],
            "refund-rf_01JDQ8A1B2C3D4E5F6G7H8J9K0"
        );
    }
    assert_eq!(
        seen[0].body, seen[1].body,
        "Razorpay replays a key only for the same body"
    );
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "amount": 24950,
            "speed": "normal",
            "receipt": REFUND_ID,
            "notes": {
                "refundId": REFUND_ID,
                "orderId": "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0",
                "reason": "Customer changed their mind",
            },
        })
    );
}

#[test]
fn razorpay_leaves_out_a_missing_reason_and_cuts_a_long_one_to_its_note_limit() {
    let body = RazorpayOrders::refund_body(&refund_call(RAZORPAY_PAYMENT, None));
    assert_eq!(
        body["notes"],
        serde_json::json!({"refundId": REFUND_ID, "orderId": "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"})
    );
    let long = "ऑर्डर रद्द ".repeat(60);
    let body = RazorpayOrders::refund_body(&refund_call(RAZORPAY_PAYMENT, Some(&long)));
    let reason = body["notes"]["reason"].as_str().unwrap();
    assert_eq!(reason.chars().count(), 256);
    assert!(long.starts_with(reason));
}

#[tokio::test]
async fn razorpay_refund_statuses_map_to_ours() {
    use ProviderRefundStatus::*;
    for (status, expected) in [
        ("processed", Succeeded),
        ("pending", Pending),
        ("failed", Failed),
        ("a_status_added_later", Pending),
    ] {
        let (base, _) = stub(StatusCode::OK, razorpay_refund_entity(status)).await;
        let refund = razorpay(&base)
            .refund(&refund_call(RAZORPAY_PAYMENT, None))
            .await
            .unwrap();
        assert_eq!(refund.status, expected, "Razorpay status {status}");
    }
}

#[test]
fn razorpay_idempotency_keys_stay_within_its_documented_shape() {
    let key = |refund_id: &str| {
        let mut call = refund_call(RAZORPAY_PAYMENT, None);
        call.refund_id = refund_id.into();
        RazorpayOrders::refund_idempotency_key(&call)
    };
    let compliant = |k: &str| {
        (10..=36).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    // Our refund ids give a compliant key as they are: the key the core names is sent.
    assert_eq!(key(REFUND_ID), "refund-rf_01JDQ8A1B2C3D4E5F6G7H8J9K0");

    // Anything longer, or with other characters, is hashed into a stable compliant key.
    let long = "rf_01JDQ8A1B2C3D4E5F6G7H8J9K0_partial_2";
    let odd = "rf 01/JDQ8";
    for id in [long, odd] {
        let k = key(id);
        assert!(compliant(&k), "{id} -> {k}");
        assert_eq!(k, key(id), "the same refund id always gives the same key");
    }
    assert_ne!(key(long), key("rf_01JDQ8A1B2C3D4E5F6G7H8J9K0_partial_3"));
}

#[tokio::test]
async fn razorpay_puts_nothing_but_a_payment_id_in_the_refund_path() {
    let (base, seen) = stub(StatusCode::OK, razorpay_refund_entity("pending")).await;
    for bad in ["../orders", "pay_1?x=1", ""] {
        match razorpay(&base).refund(&refund_call(bad, None)).await {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("{bad:?}: expected a rejection, got {other:?}"),
        }
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_refused_refund_is_rejected_and_an_outage_or_a_retry_in_flight_is_retryable() {
    let stripe_call = refund_call(INTENT, None);
    let razorpay_call = refund_call(RAZORPAY_PAYMENT, None);

    let (base, _) = stub(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": {"type": "invalid_request_error", "code": "charge_already_refunded", "message": "Charge ch_1 has already been refunded."}}),
    )
    .await;
    match stripe(&base).refund(&stripe_call).await {
        Err(ProviderError::Rejected {
            status: 400,
            message,
        }) => assert!(message.contains("already been refunded")),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let (base, _) = stub(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": {"code": "BAD_REQUEST_ERROR", "description": "The refund amount provided is greater than amount captured"}}),
    )
    .await;
    match razorpay(&base).refund(&razorpay_call).await {
        Err(ProviderError::Rejected {
            status: 400,
            message,
        }) => assert!(message.contains("greater than amount captured")),
        other => panic!("expected a rejection, got {other:?}"),
    }

    // 409: an earlier attempt with the same idempotency key is still being processed; both
    // providers say to retry.
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::CONFLICT,
    ] {
        let (base, _) = stub(status, serde_json::json!({"error": {"message": "busy"}})).await;
        assert!(
            matches!(
                stripe(&base).refund(&stripe_call).await,
                Err(ProviderError::Unavailable(_))
            ),
            "stripe {status}"
        );
        assert!(
            matches!(
                razorpay(&base).refund(&razorpay_call).await,
                Err(ProviderError::Unavailable(_))
            ),
            "razorpay {status}"
        );
    }

    // Nothing listens here: the outcome is unknown, so the caller must retry.
    assert!(matches!(
        stripe("http://127.0.0.1:9").refund(&stripe_call).await,
        Err(ProviderError::Unavailable(_))
    ));
    assert!(matches!(
        razorpay("http://127.0.0.1:9").refund(&razorpay_call).await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_refund_answer_without_a_proper_id_or_amount_is_retryable() {
    let mut no_id = stripe_refund_object(serde_json::json!("pending"));
    no_id.as_object_mut().unwrap().remove("id");
    let mut charge_id = stripe_refund_object(serde_json::json!("pending"));
    charge_id["id"] = "ch_3PqRsT2eZvKYlo2C0chchchc".into();
    let mut no_currency = stripe_refund_object(serde_json::json!("pending"));
    no_currency["currency"] = serde_json::Value::Null;
    for reply in [no_id, charge_id, no_currency, serde_json::json!({})] {
        let (base, _) = stub(StatusCode::OK, reply.clone()).await;
        assert!(
            matches!(
                stripe(&base).refund(&refund_call(INTENT, None)).await,
                Err(ProviderError::Unavailable(_))
            ),
            "{reply}"
        );
    }

    let mut payment_id = razorpay_refund_entity("processed");
    payment_id["id"] = RAZORPAY_PAYMENT.into();
    let mut negative = razorpay_refund_entity("processed");
    negative["amount"] = (-1).into();
    for reply in [payment_id, negative, serde_json::json!({})] {
        let (base, _) = stub(StatusCode::OK, reply.clone()).await;
        assert!(
            matches!(
                razorpay(&base)
                    .refund(&refund_call(RAZORPAY_PAYMENT, None))
                    .await,
                Err(ProviderError::Unavailable(_))
            ),
            "{reply}"
        );
    }
}

fn offline(kind: oms_core::ProviderKind) -> OfflineProvider {
    OfflineProvider::new(
        kind,
        "rzp_test_offline",
        "http://127.0.0.1:3000/dev/checkout",
    )
}

#[tokio::test]
async fn the_offline_stand_in_answers_refunds_with_ids_derived_from_the_refund_id() {
    use oms_core::ProviderKind;
    let call = refund_call(INTENT, Some("test"));
    let a = offline(ProviderKind::Stripe).refund(&call).await.unwrap();
    let b = offline(ProviderKind::Stripe).refund(&call).await.unwrap();
    assert_eq!(a, b, "another instance derives the same answer");
    assert!(a.provider_refund_id.starts_with("re_test_") && a.provider_refund_id.len() == 32);
    assert_eq!(a.status, ProviderRefundStatus::Pending);
    assert_eq!(a.amount, call.amount);
    let charge = a.charge_id.clone().unwrap();
    assert!(charge.starts_with("ch_test_"), "{charge}");

    let mut second = call.clone();
    second.refund_id = "rf_01JDQ8A1B2C3D4E5F6G7H8J9K1".into();
    second.amount = inr(100);
    let c = offline(ProviderKind::Stripe).refund(&second).await.unwrap();
    assert_ne!(c.provider_refund_id, a.provider_refund_id);
    assert_eq!(c.amount, inr(100));
    assert_eq!(
        c.charge_id.as_deref(),
        Some(charge.as_str()),
        "one payment, one charge"
    );

    let rzp = offline(ProviderKind::Razorpay)
        .refund(&refund_call(RAZORPAY_PAYMENT, None))
        .await
        .unwrap();
    assert!(rzp.provider_refund_id.starts_with("rfnd_") && rzp.provider_refund_id.len() == 19);
    assert_eq!(rzp.status, ProviderRefundStatus::Pending);
    assert_eq!(rzp.charge_id, None);
}

#[tokio::test]
async fn the_offline_stand_in_is_idempotent_by_refund_id_and_records_every_call() {
    let provider = offline(oms_core::ProviderKind::Razorpay);
    let call = refund_call(RAZORPAY_PAYMENT, None);
    let first = provider.refund(&call).await.unwrap();
    let retry = provider.refund(&call).await.unwrap();
    assert_eq!(first, retry);
    assert_eq!(
        provider.refund_calls(),
        vec![call.clone(), call.clone()],
        "two calls reached the provider, which refunded once"
    );

    let mut changed = call.clone();
    changed.amount = inr(1);
    assert!(matches!(
        provider.refund(&changed).await,
        Err(ProviderError::Rejected { status: 400, .. })
    ));
    assert_eq!(provider.refund_calls().len(), 3);
    assert_eq!(provider.refund(&call).await.unwrap(), first);
}

#[tokio::test]
async fn the_offline_stand_in_fails_refunds_when_told_to() {
    let provider = offline(oms_core::ProviderKind::Stripe);
    let call = refund_call(INTENT, None);
    provider.fail_refunds(Some(ProviderError::Unavailable("stripe down".into())));
    assert_eq!(
        provider.refund(&call).await,
        Err(ProviderError::Unavailable("stripe down".into()))
    );
    let refused = ProviderError::Rejected {
        status: 400,
        message: "charge_disputed".into(),
    };
    provider.fail_refunds(Some(refused.clone()));
    assert_eq!(provider.refund(&call).await, Err(refused));

    provider.fail_refunds(None);
    let made = provider.refund(&call).await.unwrap();
    assert_eq!(made.status, ProviderRefundStatus::Pending);
    assert_eq!(
        provider.refund_calls().len(),
        3,
        "failed calls are recorded too"
    );
}

// Finding payments.

/// A Checkout Session as Stripe retrieves it with `expand[]=payment_intent`.
fn stripe_session(
    status: &str,
    payment_status: &str,
    intent: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "id": "cs_test_1",
        "object": "checkout.session",
        "status": status,
        "payment_status": payment_status,
        "amount_total": 74_900,
        "currency": "inr",
        "payment_intent": intent,
    })
}

fn stripe_intent(status: &str, last_payment_error: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "id": INTENT,
        "object": "payment_intent",
        "amount": 74_900,
        "currency": "inr",
        "status": status,
        "last_payment_error": last_payment_error,
    })
}

fn found(payment_id: &str, minor: i64, status: FoundPaymentStatus) -> FoundPayment {
    FoundPayment {
        payment_id: payment_id.into(),
        amount: inr(minor),
        status,
    }
}

#[tokio::test]
async fn stripe_finds_a_paid_session_by_its_payment_intent_id_or_expanded_object() {
    for intent in [
        serde_json::json!(INTENT),
        stripe_intent("succeeded", serde_json::Value::Null),
    ] {
        let (base, seen) = stub(
            StatusCode::OK,
            stripe_session("complete", "paid", intent.clone()),
        )
        .await;
        assert_eq!(
            stripe(&base).find_payments(&session()).await.unwrap(),
            vec![found(INTENT, 74_900, FoundPaymentStatus::Captured)],
            "{intent}"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let r = &seen[0];
        assert_eq!(r.method, Method::GET);
        assert_eq!(r.path, "/v1/checkout/sessions/cs_test_1");
        assert_eq!(
            form_urlencoded_pairs(r.query.as_deref().unwrap()),
            vec![("expand[]".to_owned(), "payment_intent".to_owned())]
        );
        assert_eq!(r.headers["authorization"], "Bearer sk_test_123");
    }
}

#[tokio::test]
async fn stripe_finds_nothing_in_a_session_nobody_paid() {
    for session_reply in [
        stripe_session("open", "unpaid", serde_json::Value::Null),
        stripe_session("expired", "unpaid", serde_json::Value::Null),
        // Confirmed but not yet attempted: no failure to report either.
        stripe_session(
            "open",
            "unpaid",
            stripe_intent("requires_payment_method", serde_json::Value::Null),
        ),
    ] {
        let (base, _) = stub(StatusCode::OK, session_reply.clone()).await;
        assert_eq!(
            stripe(&base).find_payments(&session()).await.unwrap(),
            vec![],
            "{session_reply}"
        );
    }
}

#[tokio::test]
async fn stripe_reports_an_asynchronous_payment_still_settling_as_pending() {
    let (base, _) = stub(
        StatusCode::OK,
        stripe_session(
            "complete",
            "unpaid",
            stripe_intent("processing", serde_json::Value::Null),
        ),
    )
    .await;
    assert_eq!(
        stripe(&base).find_payments(&session()).await.unwrap(),
        vec![found(INTENT, 74_900, FoundPaymentStatus::Pending)]
    );
}

#[tokio::test]
async fn stripe_reports_a_declined_or_canceled_payment_intent_as_failed() {
    let declined = serde_json::json!({"type": "card_error", "code": "card_declined"});
    for intent in [
        stripe_intent("requires_payment_method", declined),
        stripe_intent("canceled", serde_json::Value::Null),
    ] {
        let (base, _) = stub(
            StatusCode::OK,
            stripe_session("open", "unpaid", intent.clone()),
        )
        .await;
        assert_eq!(
            stripe(&base).find_payments(&session()).await.unwrap(),
            vec![found(INTENT, 74_900, FoundPaymentStatus::Failed)],
            "{intent}"
        );
    }
}

#[tokio::test]
async fn a_stripe_lookup_outage_is_retryable_and_an_unknown_session_is_rejected() {
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (base, _) = stub(status, serde_json::json!({"error": {"message": "busy"}})).await;
        assert!(
            matches!(
                stripe(&base).find_payments(&session()).await,
                Err(ProviderError::Unavailable(_))
            ),
            "{status}"
        );
    }
    let (base, _) = stub(
        StatusCode::NOT_FOUND,
        serde_json::json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such checkout.session: 'cs_test_1'"}}),
    )
    .await;
    match stripe(&base).find_payments(&session()).await {
        Err(ProviderError::Rejected {
            status: 404,
            message,
        }) => assert!(message.contains("No such checkout.session")),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(matches!(
        stripe("http://127.0.0.1:9").find_payments(&session()).await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_paid_stripe_session_without_a_payment_intent_or_amount_is_retryable() {
    let no_intent = stripe_session("complete", "paid", serde_json::Value::Null);
    let mut no_amount = stripe_session("complete", "paid", serde_json::json!(INTENT));
    no_amount["amount_total"] = serde_json::Value::Null;
    let mut no_currency = stripe_session("complete", "paid", serde_json::json!(INTENT));
    no_currency.as_object_mut().unwrap().remove("currency");
    let charge_not_intent = stripe_session("complete", "paid", serde_json::json!("ch_1"));
    for reply in [no_intent, no_amount, no_currency, charge_not_intent] {
        let (base, _) = stub(StatusCode::OK, reply.clone()).await;
        assert!(
            matches!(
                stripe(&base).find_payments(&session()).await,
                Err(ProviderError::Unavailable(_))
            ),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn stripe_puts_nothing_but_a_session_id_in_the_lookup_path() {
    let (base, seen) = stub(
        StatusCode::OK,
        stripe_session("open", "unpaid", serde_json::Value::Null),
    )
    .await;
    for bad in ["../refunds", "cs_1?expand[]=x", ""] {
        let mut info = session();
        info.provider_order_id = bad.into();
        match stripe(&base).find_payments(&info).await {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("{bad:?}: expected a rejection, got {other:?}"),
        }
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

const RAZORPAY_ORDER: &str = "order_N8FRN5zTm5S3wx";

fn razorpay_order() -> oms_core::PaymentInfo {
    oms_core::PaymentInfo {
        provider: oms_core::ProviderKind::Razorpay,
        provider_order_id: RAZORPAY_ORDER.into(),
        provider_payment_id: None,
        checkout_url: None,
        key_id: Some("rzp_test_abc".into()),
        captured: None,
    }
}

fn razorpay_payment(id: &str, amount: i64, status: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "entity": "payment",
        "amount": amount,
        "currency": "INR",
        "status": status,
        "order_id": RAZORPAY_ORDER,
        "method": "upi",
        "captured": status == "captured",
    })
}

fn razorpay_collection(items: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"entity": "collection", "count": items.len(), "items": items})
}

#[tokio::test]
async fn razorpay_finds_an_orders_payments_with_their_statuses_mapped() {
    let (base, seen) = stub(
        StatusCode::OK,
        razorpay_collection(vec![
            razorpay_payment("pay_Failed000000001", 74_900, "failed"),
            razorpay_payment("pay_Authorized00001", 74_900, "authorized"),
            razorpay_payment("pay_Captured0000001", 74_900, "captured"),
            razorpay_payment("pay_Refunded0000001", 100, "refunded"),
            razorpay_payment("pay_Created00000001", 74_900, "created"),
            // Unreadable items are left out; the others still count.
            serde_json::json!({"id": "pay_NoAmount0000001", "currency": "INR", "status": "captured"}),
            razorpay_payment("rfnd_NotAPayment001", 74_900, "captured"),
        ]),
    )
    .await;
    assert_eq!(
        razorpay(&base)
            .find_payments(&razorpay_order())
            .await
            .unwrap(),
        vec![
            found("pay_Failed000000001", 74_900, FoundPaymentStatus::Failed),
            found("pay_Authorized00001", 74_900, FoundPaymentStatus::Pending),
            found("pay_Captured0000001", 74_900, FoundPaymentStatus::Captured),
            found("pay_Refunded0000001", 100, FoundPaymentStatus::Captured),
            found("pay_Created00000001", 74_900, FoundPaymentStatus::Pending),
        ]
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.path, "/v1/orders/order_N8FRN5zTm5S3wx/payments");
    assert_eq!(r.query, None);
    // base64("rzp_test_abc:rzp_secret_xyz")
    assert_eq!(
        r.headers["authorization"],
        "Basic cnpwX3Rlc3RfYWJjOnJ6cF9zZWNyZXRfeHl6"
    );
}

#[tokio::test]
async fn razorpay_finds_nothing_on_an_order_nobody_paid() {
    let (base, _) = stub(StatusCode::OK, razorpay_collection(vec![])).await;
    assert_eq!(
        razorpay(&base)
            .find_payments(&razorpay_order())
            .await
            .unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn razorpay_puts_nothing_but_an_order_id_in_the_payments_path() {
    let (base, seen) = stub(StatusCode::OK, razorpay_collection(vec![])).await;
    for bad in ["../payments/pay_1", "order_1?count=100", "order_1/x", ""] {
        let mut info = razorpay_order();
        info.provider_order_id = bad.into();
        match razorpay(&base).find_payments(&info).await {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("{bad:?}: expected a rejection, got {other:?}"),
        }
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_razorpay_lookup_outage_or_an_unreadable_answer_is_retryable() {
    for status in [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY] {
        let (base, _) = stub(
            status,
            serde_json::json!({"error": {"code": "SERVER_ERROR", "description": "busy"}}),
        )
        .await;
        assert!(
            matches!(
                razorpay(&base).find_payments(&razorpay_order()).await,
                Err(ProviderError::Unavailable(_))
            ),
            "{status}"
        );
    }
    for reply in [
        razorpay_collection(vec![serde_json::json!({"status": "captured"})]),
        serde_json::json!({"entity": "collection", "count": 1, "items": []}),
        serde_json::json!({}),
    ] {
        let (base, _) = stub(StatusCode::OK, reply.clone()).await;
        assert!(
            matches!(
                razorpay(&base).find_payments(&razorpay_order()).await,
                Err(ProviderError::Unavailable(_))
            ),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn the_offline_stand_in_finds_what_was_recorded_for_the_checkout() {
    let provider = offline(oms_core::ProviderKind::Razorpay);
    let info = provider.create_checkout(&request()).await.unwrap();
    assert_eq!(provider.find_payments(&info).await.unwrap(), vec![]);

    let failed = found("pay_Failed000000001", 74_900, FoundPaymentStatus::Failed);
    let captured = found("pay_Captured0000001", 74_900, FoundPaymentStatus::Captured);
    provider.record_payment(&info.provider_order_id, failed.clone());
    provider.record_payment(&info.provider_order_id, captured.clone());
    provider.record_payment(
        "order_SomeoneElse001",
        found("pay_Other000000001", 1, FoundPaymentStatus::Captured),
    );
    assert_eq!(
        provider.find_payments(&info).await.unwrap(),
        vec![failed, captured]
    );
}

#[tokio::test]
async fn the_offline_stand_in_replaces_a_payment_recorded_again() {
    let provider = offline(oms_core::ProviderKind::Stripe);
    let info = provider.create_checkout(&request()).await.unwrap();
    provider.record_payment(
        &info.provider_order_id,
        found(INTENT, 74_900, FoundPaymentStatus::Pending),
    );
    provider.record_payment(
        &info.provider_order_id,
        found(INTENT, 74_900, FoundPaymentStatus::Captured),
    );
    assert_eq!(
        provider.find_payments(&info).await.unwrap(),
        vec![found(INTENT, 74_900, FoundPaymentStatus::Captured)]
    );
}

#[tokio::test]
async fn the_offline_stand_in_fails_finds_when_told_to() {
    let provider = offline(oms_core::ProviderKind::Stripe);
    let info = provider.create_checkout(&request()).await.unwrap();
    provider.record_payment(
        &info.provider_order_id,
        found(INTENT, 74_900, FoundPaymentStatus::Captured),
    );
    provider.fail_finds(Some(ProviderError::Unavailable("stripe down".into())));
    assert_eq!(
        provider.find_payments(&info).await,
        Err(ProviderError::Unavailable("stripe down".into()))
    );
    provider.fail_finds(None);
    assert_eq!(provider.find_payments(&info).await.unwrap().len(), 1);
}

// Backfill: what each provider lists since a time, page by page.

fn window(undelivered_only: bool, cursor: Option<&str>) -> BackfillQuery {
    BackfillQuery {
        since: Timestamp::from_unix_millis(1_800_000_000_000),
        until: Timestamp::from_unix_millis(1_800_003_600_000),
        undelivered_only,
        cursor: cursor.map(str::to_owned),
    }
}

fn stripe_event(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "object": "event",
        "type": "checkout.session.completed",
        "created": 1_800_000_100,
        "data": {"object": {"id": "cs_test_a1", "object": "checkout.session", "payment_status": "paid"}},
    })
}

#[tokio::test]
async fn stripe_lists_its_events_in_the_window_and_pages_after_the_last_one() {
    let (base, seen) = stub(
        StatusCode::OK,
        serde_json::json!({
            "object": "list",
            "url": "/v1/events",
            "has_more": true,
            "data": [stripe_event("evt_3Newest"), stripe_event("evt_2Older")],
        }),
    )
    .await;
    let page = stripe(&base)
        .backfill_page(&window(true, Some("evt_1Cursor")))
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|i| i.event_id.as_str())
            .collect::<Vec<_>>(),
        ["evt_3Newest", "evt_2Older"]
    );
    let body: serde_json::Value = serde_json::from_str(&page.items[0].body).unwrap();
    assert_eq!(
        body,
        stripe_event("evt_3Newest"),
        "the event exactly, as its webhook carries it"
    );
    assert_eq!(page.next_cursor.as_deref(), Some("evt_2Older"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.path, "/v1/events");
    let query = form_urlencoded_pairs(r.query.as_deref().unwrap());
    assert_eq!(field(&query, "created[gte]"), "1800000000");
    assert_eq!(field(&query, "created[lte]"), "1800003600");
    assert_eq!(field(&query, "limit"), "100");
    assert_eq!(field(&query, "delivery_success"), "false");
    assert_eq!(field(&query, "starting_after"), "evt_1Cursor");
    assert_eq!(query.len(), 5, "{query:?}");
    assert_eq!(r.headers["authorization"], "Bearer sk_test_123");
}

#[tokio::test]
async fn stripe_lists_every_event_unless_asked_for_the_undelivered_and_stops_at_the_last_page() {
    let (base, seen) = stub(
        StatusCode::OK,
        serde_json::json!({"object": "list", "has_more": false, "data": [stripe_event("evt_1")]}),
    )
    .await;
    let page = stripe(&base)
        .backfill_page(&window(false, None))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next_cursor, None);
    let query = form_urlencoded_pairs(seen.lock().unwrap()[0].query.as_deref().unwrap());
    assert!(
        !query
            .iter()
            .any(|(k, _)| k == "delivery_success" || k == "starting_after"),
        "{query:?}"
    );
}

#[tokio::test]
async fn stripe_sends_nothing_for_a_cursor_that_is_not_an_event_id() {
    let (base, seen) = stub(StatusCode::OK, serde_json::json!({"data": []})).await;
    for bad in ["cs_test_1", "evt_1&limit=1", "evt_../x", "payments:100"] {
        match stripe(&base).backfill_page(&window(false, Some(bad))).await {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_stripe_list_outage_or_an_event_without_an_id_is_retryable() {
    let (base, _) = stub(StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({})).await;
    assert!(matches!(
        stripe(&base).backfill_page(&window(false, None)).await,
        Err(ProviderError::Unavailable(_))
    ));
    let (base, _) = stub(
        StatusCode::OK,
        serde_json::json!({"has_more": false, "data": [{"object": "event", "type": "x"}]}),
    )
    .await;
    assert!(matches!(
        stripe(&base).backfill_page(&window(false, None)).await,
        Err(ProviderError::Unavailable(_))
    ));
    let (base, _) = stub(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"error": {"message": "Invalid API Key provided"}}),
    )
    .await;
    assert!(matches!(
        stripe(&base).backfill_page(&window(false, None)).await,
        Err(ProviderError::Rejected { status: 401, .. })
    ));
}

fn razorpay_refund_item(id: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "entity": "refund", "amount": 500, "currency": "INR",
        "payment_id": "pay_Captured0000001", "notes": {"refundId": "rf_1"},
        "created_at": 1_800_000_200, "status": status,
    })
}

#[tokio::test]
async fn razorpay_lists_its_final_payments_as_the_webhooks_that_report_them() {
    let (base, seen) = stub(
        StatusCode::OK,
        razorpay_collection(vec![
            razorpay_payment("pay_Captured0000001", 74_900, "captured"),
            razorpay_payment("pay_Failed000000001", 74_900, "failed"),
            razorpay_payment("pay_Refunded0000001", 74_900, "refunded"),
            // Not final yet: a later run sees how it ends.
            razorpay_payment("pay_Authorized00001", 74_900, "authorized"),
            razorpay_payment("pay_Created00000001", 74_900, "created"),
            serde_json::json!({"entity": "payment", "status": "captured"}),
        ]),
    )
    .await;
    let page = razorpay(&base)
        .backfill_page(&window(false, None))
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|i| i.event_id.as_str())
            .collect::<Vec<_>>(),
        [
            "backfill:pay_Captured0000001#captured",
            "backfill:pay_Failed000000001#failed",
            "backfill:pay_Refunded0000001#captured",
        ]
    );
    // The webhook's own normaliser reads each as the webhook would be read.
    let read = |i: usize| {
        oms_core::webhook::razorpay::normalise(
            page.items[i].body.as_bytes(),
            Some(&page.items[i].event_id),
        )
        .unwrap()
    };
    let captured = read(0);
    assert_eq!(captured.event_type, "payment.captured");
    assert_eq!(
        captured.action,
        oms_core::webhook::PaymentAction::Succeeded {
            payment_id: "pay_Captured0000001".into(),
            amount: inr(74_900),
        }
    );
    assert!(captured.link.refs.contains(&RAZORPAY_ORDER.to_owned()));
    assert!(matches!(
        read(1).action,
        oms_core::webhook::PaymentAction::Failed { .. }
    ));
    assert_eq!(
        page.next_cursor.as_deref(),
        Some("refunds:0"),
        "then the refunds"
    );
    let seen = seen.lock().unwrap();
    let r = &seen[0];
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.path, "/v1/payments");
    assert_eq!(
        r.query.as_deref(),
        Some("from=1800000000&to=1800003600&count=100&skip=0")
    );
    assert_eq!(
        r.headers["authorization"],
        "Basic cnpwX3Rlc3RfYWJjOnJ6cF9zZWNyZXRfeHl6"
    );
}

#[tokio::test]
async fn razorpay_lists_its_final_refunds_after_the_payments_and_then_stops() {
    let (base, seen) = stub(
        StatusCode::OK,
        razorpay_collection(vec![
            razorpay_refund_item("rfnd_Processed00001", "processed"),
            razorpay_refund_item("rfnd_Failed0000001", "failed"),
            razorpay_refund_item("rfnd_Pending000001", "pending"),
        ]),
    )
    .await;
    let page = razorpay(&base)
        .backfill_page(&window(false, Some("refunds:0")))
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|i| i.event_id.as_str())
            .collect::<Vec<_>>(),
        [
            "backfill:rfnd_Processed00001#processed",
            "backfill:rfnd_Failed0000001#failed",
        ]
    );
    let processed = oms_core::webhook::razorpay::normalise(
        page.items[0].body.as_bytes(),
        Some(&page.items[0].event_id),
    )
    .unwrap();
    assert_eq!(processed.event_type, "refund.processed");
    assert!(matches!(
        processed.action,
        oms_core::webhook::PaymentAction::Refunded(_)
    ));
    assert_eq!(page.next_cursor, None, "nothing after the refunds");
    let r = &seen.lock().unwrap()[0];
    assert_eq!(r.path, "/v1/refunds");
    assert_eq!(
        r.query.as_deref(),
        Some("from=1800000000&to=1800003600&count=100&skip=0")
    );
}

#[tokio::test]
async fn a_full_razorpay_page_continues_where_it_ended_and_a_foreign_cursor_sends_nothing() {
    let full: Vec<serde_json::Value> = (0..100)
        .map(|i| razorpay_payment(&format!("pay_Full{i:013}"), 100, "captured"))
        .collect();
    let (base, seen) = stub(StatusCode::OK, razorpay_collection(full)).await;
    let page = razorpay(&base)
        .backfill_page(&window(false, Some("payments:200")))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(page.next_cursor.as_deref(), Some("payments:300"));
    assert_eq!(
        seen.lock().unwrap()[0].query.as_deref(),
        Some("from=1800000000&to=1800003600&count=100&skip=200")
    );
    seen.lock().unwrap().clear();
    for bad in [
        "evt_1",
        "payments:",
        "payments:-1",
        "orders:0",
        "refunds:1&x=2",
    ] {
        match razorpay(&base)
            .backfill_page(&window(false, Some(bad)))
            .await
        {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

fn sent(id: &str, body: String, at_second: i64, delivered: bool) -> SentEvent {
    SentEvent {
        event_id: id.into(),
        body,
        created: Timestamp::from_unix_millis((1_800_000_000 + at_second) * 1000),
        delivered,
    }
}

#[tokio::test]
async fn the_offline_stand_in_lists_the_stripe_events_it_sent_or_lost_newest_first_in_pages() {
    let provider = offline(oms_core::ProviderKind::Stripe);
    for i in 0..150 {
        provider.record_event(sent(
            &format!("evt_{i:03}"),
            stripe_event(&format!("evt_{i:03}")).to_string(),
            i,
            i % 2 == 0,
        ));
    }
    // Outside the window.
    provider.record_event(sent("evt_late", "{}".into(), 7200, false));
    let first = provider.backfill_page(&window(false, None)).await.unwrap();
    assert_eq!(first.items.len(), 100);
    assert_eq!(first.items[0].event_id, "evt_149", "newest first");
    assert_eq!(first.next_cursor.as_deref(), Some("evt_050"));
    let second = provider
        .backfill_page(&window(false, first.next_cursor.as_deref()))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 50);
    assert_eq!(second.next_cursor, None);
    let lost = provider.backfill_page(&window(true, None)).await.unwrap();
    assert_eq!(lost.items.len(), 75, "the undelivered only");
    assert!(
        matches!(
            provider
                .backfill_page(&window(false, Some("evt_nope")))
                .await,
            Err(ProviderError::Rejected { status: 400, .. })
        ),
        "a cursor it never gave"
    );
    provider.fail_backfills(Some(ProviderError::Unavailable("stripe down".into())));
    assert!(provider.backfill_page(&window(false, None)).await.is_err());
    provider.fail_backfills(None);
    assert!(provider.backfill_page(&window(false, None)).await.is_ok());
}

#[tokio::test]
async fn the_offline_stand_in_lists_razorpay_payments_and_refunds_read_out_of_its_webhooks() {
    let provider = offline(oms_core::ProviderKind::Razorpay);
    let event = |kind: &str, key: &str, entity: serde_json::Value| {
        serde_json::json!({
            "entity": "event", "event": kind, "contains": [key],
            "payload": {key: {"entity": entity}},
        })
        .to_string()
    };
    provider.record_event(sent(
        "evt_a",
        event(
            "payment.authorized",
            "payment",
            razorpay_payment("pay_A", 100, "authorized"),
        ),
        1,
        true,
    ));
    provider.record_event(sent(
        "evt_b",
        event(
            "payment.captured",
            "payment",
            razorpay_payment("pay_A", 100, "captured"),
        ),
        2,
        false,
    ));
    provider.record_event(sent(
        "evt_c",
        event(
            "refund.processed",
            "refund",
            razorpay_refund_item("rfnd_A", "processed"),
        ),
        3,
        true,
    ));
    let page = provider.backfill_page(&window(false, None)).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|i| i.event_id.as_str())
            .collect::<Vec<_>>(),
        ["backfill:pay_A#captured", "backfill:rfnd_A#processed"],
        "each entity in its latest state, payments first"
    );
    assert_eq!(page.next_cursor, None);
}

// Refund lookups: a refund whose webhook is late is fetched by the sweep's reconciliation.

const STRIPE_REFUND: &str = "re_3PqRsT2eZvKYlo2C1xyzxyzx";
const RAZORPAY_REFUND: &str = "rfnd_FgRAHdNOM4ZVbO";

#[tokio::test]
async fn stripe_retrieves_a_refund_by_its_id_with_the_secret_key() {
    let (base, seen) = stub(
        StatusCode::OK,
        stripe_refund_object(serde_json::json!("succeeded")),
    )
    .await;
    let refund = stripe(&base)
        .get_refund(INTENT, STRIPE_REFUND)
        .await
        .unwrap();
    assert_eq!(
        refund,
        ProviderRefund {
            provider_refund_id: STRIPE_REFUND.into(),
            status: ProviderRefundStatus::Succeeded,
            amount: inr(24_950),
            charge_id: Some("ch_3PqRsT2eZvKYlo2C0chchchc".into()),
        }
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.path, format!("/v1/refunds/{STRIPE_REFUND}"));
    assert_eq!(r.query, None);
    assert_eq!(r.headers["authorization"], "Bearer sk_test_123");
    assert!(
        !r.headers.contains_key("idempotency-key"),
        "a read carries no key"
    );
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn razorpay_fetches_a_refund_of_its_payment_with_basic_auth() {
    let (base, seen) = stub(StatusCode::OK, razorpay_refund_entity("processed")).await;
    let refund = razorpay(&base)
        .get_refund(RAZORPAY_PAYMENT, RAZORPAY_REFUND)
        .await
        .unwrap();
    assert_eq!(
        refund,
        ProviderRefund {
            provider_refund_id: RAZORPAY_REFUND.into(),
            status: ProviderRefundStatus::Succeeded,
            amount: inr(24_950),
            charge_id: None,
        }
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::GET);
    assert_eq!(
        r.path,
        format!("/v1/payments/{RAZORPAY_PAYMENT}/refunds/{RAZORPAY_REFUND}")
    );
    assert_eq!(r.query, None);
    // base64("rzp_test_abc:rzp_secret_xyz")
    assert_eq!(
        r.headers["authorization"],
        "Basic cnpwX3Rlc3RfYWJjOnJ6cF9zZWNyZXRfeHl6"
    );
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn refund_lookup_statuses_map_as_the_refund_calls_do() {
    use ProviderRefundStatus::*;
    for (status, expected) in [
        ("succeeded", Succeeded),
        ("pending", Pending),
        ("requires_action", Pending),
        ("failed", Failed),
        ("canceled", Failed),
    ] {
        let (base, _) = stub(StatusCode::OK, stripe_refund_object(status.into())).await;
        let refund = stripe(&base)
            .get_refund(INTENT, STRIPE_REFUND)
            .await
            .unwrap();
        assert_eq!(refund.status, expected, "Stripe status {status}");
    }
    for (status, expected) in [
        ("processed", Succeeded),
        ("pending", Pending),
        ("failed", Failed),
    ] {
        let (base, _) = stub(StatusCode::OK, razorpay_refund_entity(status)).await;
        let refund = razorpay(&base)
            .get_refund(RAZORPAY_PAYMENT, RAZORPAY_REFUND)
            .await
            .unwrap();
        assert_eq!(refund.status, expected, "Razorpay status {status}");
    }
}

#[tokio::test]
async fn refund_lookups_put_nothing_but_ids_in_their_paths() {
    let (base, seen) = stub(StatusCode::OK, razorpay_refund_entity("processed")).await;
    for bad in ["../payments", "re_1?expand[]=x", "re_1/x", ""] {
        match stripe(&base).get_refund(INTENT, bad).await {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("stripe {bad:?}: expected a rejection, got {other:?}"),
        }
        match razorpay(&base).get_refund(RAZORPAY_PAYMENT, bad).await {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("razorpay refund {bad:?}: expected a rejection, got {other:?}"),
        }
        match razorpay(&base).get_refund(bad, RAZORPAY_REFUND).await {
            Err(ProviderError::Rejected { status: 400, .. }) => {}
            other => panic!("razorpay payment {bad:?}: expected a rejection, got {other:?}"),
        }
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn an_unknown_refund_is_rejected_and_an_outage_or_an_unreadable_answer_is_retryable() {
    let (base, _) = stub(
        StatusCode::NOT_FOUND,
        serde_json::json!({"error": {"type": "invalid_request_error", "message": "No such refund: 're_x'"}}),
    )
    .await;
    assert!(matches!(
        stripe(&base).get_refund(INTENT, "re_x").await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    assert!(matches!(
        razorpay(&base).get_refund(RAZORPAY_PAYMENT, "rfnd_x").await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (base, _) = stub(status, serde_json::json!({"error": {"message": "busy"}})).await;
        assert!(
            matches!(
                stripe(&base).get_refund(INTENT, STRIPE_REFUND).await,
                Err(ProviderError::Unavailable(_))
            ),
            "stripe {status}"
        );
        assert!(
            matches!(
                razorpay(&base)
                    .get_refund(RAZORPAY_PAYMENT, RAZORPAY_REFUND)
                    .await,
                Err(ProviderError::Unavailable(_))
            ),
            "razorpay {status}"
        );
    }
    let (base, _) = stub(StatusCode::OK, serde_json::json!({})).await;
    assert!(matches!(
        stripe(&base).get_refund(INTENT, STRIPE_REFUND).await,
        Err(ProviderError::Unavailable(_))
    ));
    assert!(matches!(
        razorpay("http://127.0.0.1:9")
            .get_refund(RAZORPAY_PAYMENT, RAZORPAY_REFUND)
            .await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn the_offline_stand_in_reports_a_refund_as_it_stands_until_it_is_settled() {
    use oms_core::ProviderKind;
    let provider = offline(ProviderKind::Razorpay);
    let call = refund_call(RAZORPAY_PAYMENT, None);
    let made = provider.refund(&call).await.unwrap();
    let id = made.provider_refund_id.clone();
    assert_eq!(
        provider.get_refund(RAZORPAY_PAYMENT, &id).await.unwrap(),
        made,
        "pending, as it was accepted"
    );
    assert!(provider.settle_refund(&id, ProviderRefundStatus::Succeeded));
    let now = provider.get_refund(RAZORPAY_PAYMENT, &id).await.unwrap();
    assert_eq!(now.status, ProviderRefundStatus::Succeeded);
    assert_eq!((now.amount, &now.provider_refund_id), (made.amount, &id));
    assert_eq!(
        provider.refund(&call).await.unwrap(),
        made,
        "a retried call replays the first answer, as idempotency keys do"
    );
    assert!(!provider.settle_refund("rfnd_unknown", ProviderRefundStatus::Failed));
    assert!(matches!(
        provider.get_refund(RAZORPAY_PAYMENT, "rfnd_unknown").await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    assert!(
        matches!(
            provider.get_refund("pay_other", &id).await,
            Err(ProviderError::Rejected { status: 404, .. })
        ),
        "a refund is found under the payment it refunded"
    );
    provider.fail_refund_lookups(Some(ProviderError::Unavailable("down".into())));
    assert!(matches!(
        provider.get_refund(RAZORPAY_PAYMENT, &id).await,
        Err(ProviderError::Unavailable(_))
    ));
    provider.fail_refund_lookups(None);
    assert!(provider.get_refund(RAZORPAY_PAYMENT, &id).await.is_ok());
    assert_eq!(provider.refund_lookups().len(), 6, "every lookup recorded");
}
