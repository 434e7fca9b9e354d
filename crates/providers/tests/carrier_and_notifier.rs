//! Shiprocket and WhatsApp clients against a local stub that answers like the real APIs and
//! records what the clients send.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use oms_core::customer::{CountryCode, Customer, Email, Phone, ShippingAddress};
use oms_core::order::OrderDraft;
use oms_core::ports::{Carrier, CarrierError, Notifier, ShipmentCancel};
use oms_core::{
    Currency, Money, Order, OrderId, OrderLine, OrderNumber, Owner, PaymentInfo, ProviderKind,
    Quantity, Secret, ShipmentInfo, Sku, Timestamp, UserId,
};
use oms_providers::credentials::{CredentialError, CredentialSource, FixedCredentials};
use oms_providers::notify::{WhatsApp, WhatsAppConfig};
use oms_providers::shipping::{CarrierRouter, NoShipping, Shiprocket, ShiprocketConfig};
use serde_json::{Value, json};

type Log = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

const CANCEL_PATH: &str = "/v1/external/orders/cancel/shipment/awbs";

/// The documented answer to "Cancel a Shipment".
fn cancellation_in_progress() -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"message": "Bulk Shipment cancellation is in progress. Please wait for some time."}),
    )
}

async fn stub() -> (String, Log) {
    stub_cancelling_with(cancellation_in_progress()).await
}

/// The stub, answering "Cancel a Shipment" with `cancel` (a `Null` body: none at all).
async fn stub_cancelling_with(cancel: (StatusCode, Value)) -> (String, Log) {
    let log: Log = Arc::default();
    let seen = log.clone();
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        let cancel = cancel.clone();
        async move {
            let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            seen.lock().unwrap().push((uri.path().to_owned(), auth, body));
            if uri.path() == CANCEL_PATH {
                return match cancel {
                    (status, Value::Null) => status.into_response(),
                    (status, body) => (status, axum::Json(body)).into_response(),
                };
            }
            let reply = match uri.path() {
                "/v1/external/auth/login" => json!({"token": "sr-token-1"}),
                "/v1/external/orders/create/adhoc" => json!({"order_id": 1234, "shipment_id": 5678, "status": "NEW"}),
                "/v1/external/courier/assign/awb" => json!({"awb_assign_status": 1, "response": {"data": {"awb_code": "AWB123456", "courier_name": "Delhivery"}}}),
                "/v1/external/courier/generate/pickup" => json!({"pickup_status": 1}),
                _ => json!({"messages": [{"id": "wamid.1"}]}),
            };
            axum::Json(reply).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

fn order() -> Order {
    let inr = |m| Money::new(m, Currency::parse("INR").unwrap()).unwrap();
    let mut o = Order::open(
        OrderDraft {
            id: OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap(),
            number: OrderNumber::parse("ORD-20270115-QRSTVWXY").unwrap(),
            owner: Owner::User {
                user_id: UserId::parse("u").unwrap(),
            },
            customer: Customer {
                email: Email::parse("asha@example.in").unwrap(),
                name: "Asha Rao".into(),
                phone: Some(Phone::parse("+91 98765 43210").unwrap()),
            },
            shipping_address: ShippingAddress {
                name: "Asha Rao".into(),
                line1: "12 MG Road".into(),
                line2: Some("Flat 4".into()),
                city: "Bengaluru".into(),
                state: "Karnataka".into(),
                postal_code: "560001".into(),
                country: CountryCode::parse("IN").unwrap(),
            },
            lines: vec![OrderLine {
                sku: Sku::parse("CHAI-250G").unwrap(),
                name: "Masala chai".into(),
                quantity: Quantity::new(2).unwrap(),
                unit_price: inr(34_900),
                line_total: inr(69_800),
            }],
            total: inr(69_800),
            payment: PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: "order_1".into(),
                provider_payment_id: None,
                checkout_url: None,
                key_id: None,
                captured: None,
            },
            expires_at: Timestamp::from_unix_millis(0),
        },
        Timestamp::from_unix_millis(1_800_000_000_000),
    );
    o.record_payment(
        &oms_core::order::PaymentCapture {
            provider_payment_id: "pay_1".into(),
            amount: inr(69_800),
        },
        Timestamp::from_unix_millis(1_800_000_000_000),
    )
    .unwrap();
    o
}

fn shiprocket(base: &str, dry_run: bool) -> Shiprocket {
    Shiprocket::new(
        oms_providers::http_client(),
        ShiprocketConfig {
            api_base: base.into(),
            credentials: Arc::new(FixedCredentials::new([
                ("email", "ops@shop.example".into()),
                ("password", "sr-password".into()),
            ])),
            pickup_location: "Primary".into(),
            channel_id: Some("42".into()),
            parcel: (20.0, 15.0, 10.0, 0.5),
            dry_run,
        },
    )
}

#[tokio::test]
async fn shiprocket_logs_in_creates_the_order_assigns_an_awb_and_schedules_pickup() {
    let (base, log) = stub().await;
    let carrier = shiprocket(&base, false);
    let s = carrier.create_shipment(&order()).await.unwrap();
    assert_eq!(
        s,
        ShipmentInfo {
            carrier: "shiprocket".into(),
            shipment_id: "5678".into(),
            awb: "AWB123456".into(),
            status: "pickup_scheduled".into()
        }
    );
    carrier.create_shipment(&order()).await.unwrap();

    let log = log.lock().unwrap();
    let paths: Vec<&str> = log.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        paths[..4],
        [
            "/v1/external/auth/login",
            "/v1/external/orders/create/adhoc",
            "/v1/external/courier/assign/awb",
            "/v1/external/courier/generate/pickup"
        ]
    );
    assert_eq!(
        paths
            .iter()
            .filter(|p| **p == "/v1/external/auth/login")
            .count(),
        1,
        "the token is reused"
    );
    assert_eq!(
        log[0].2,
        json!({"email": "ops@shop.example", "password": "sr-password"})
    );
    assert_eq!(log[1].1.as_deref(), Some("Bearer sr-token-1"));
    let created = &log[1].2;
    assert_eq!(created["order_id"], "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0");
    assert_eq!(created["pickup_location"], "Primary");
    assert_eq!(created["channel_id"], "42");
    assert_eq!(created["billing_pincode"], "560001");
    assert_eq!(created["billing_phone"], "919876543210");
    assert_eq!(created["payment_method"], "Prepaid");
    assert_eq!(created["order_items"][0]["units"], 2);
    assert_eq!(created["order_items"][0]["selling_price"], 349.0);
    assert_eq!(created["sub_total"], 698.0);
    assert_eq!(log[2].2, json!({"shipment_id": "5678"}));
    assert_eq!(log[3].2, json!({"shipment_id": ["5678"]}));
}

#[tokio::test]
async fn the_shiprocket_dry_run_calls_nothing_and_is_deterministic() {
    let (base, log) = stub().await;
    let carrier = shiprocket(&base, true);
    let a = carrier.create_shipment(&order()).await.unwrap();
    let b = carrier.create_shipment(&order()).await.unwrap();
    assert_eq!(a, b);
    assert!(a.awb.starts_with("DRYRUN") && a.awb.len() == 16, "{a:?}");
    assert_eq!(a.status, "dry_run");
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn digital_only_orders_need_no_shipment() {
    let (base, log) = stub().await;
    let router = CarrierRouter {
        physical: Arc::new(shiprocket(&base, false)),
        digital_skus: vec!["CHAI-250G".into()],
    };
    let s = router.create_shipment(&order()).await.unwrap();
    assert_eq!(s.carrier, "none");
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn whatsapp_sends_the_template_to_the_buyer_and_the_dry_run_sends_nothing() {
    let (base, log) = stub().await;
    let config = WhatsAppConfig {
        api_base: base.clone(),
        phone_number_id: "1099".into(),
        credentials: Arc::new(FixedCredentials::new([("token", "wa-token".into())])),
        template: "order_shipped".into(),
        out_for_delivery_template: "order_out_for_delivery".into(),
        delivered_template: "order_delivered".into(),
        language: "en".into(),
        dry_run: true,
    };
    let mut o = order();
    o.record_invoice(
        oms_core::InvoiceInfo {
            number: "INV-000001".into(),
            key: "k".into(),
            issued_at: Timestamp::from_unix_millis(0),
        },
        Timestamp::from_unix_millis(0),
    )
    .unwrap();
    o.record_shipment(
        ShipmentInfo {
            carrier: "shiprocket".into(),
            shipment_id: "5678".into(),
            awb: "AWB123456".into(),
            status: "x".into(),
        },
        Timestamp::from_unix_millis(0),
    )
    .unwrap();
    WhatsApp::new(oms_providers::http_client(), config.clone())
        .order_fulfilled(&o)
        .await
        .unwrap();
    assert!(log.lock().unwrap().is_empty(), "dry run");

    WhatsApp::new(
        oms_providers::http_client(),
        WhatsAppConfig {
            dry_run: false,
            ..config
        },
    )
    .order_fulfilled(&o)
    .await
    .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log[0].0, "/1099/messages");
    assert_eq!(log[0].1.as_deref(), Some("Bearer wa-token"));
    let m = &log[0].2;
    assert_eq!(m["messaging_product"], "whatsapp");
    assert_eq!(m["to"], "919876543210");
    assert_eq!(m["template"]["name"], "order_shipped");
    assert_eq!(
        m["template"]["components"][0]["parameters"][0]["text"],
        "ORD-20270115-QRSTVWXY"
    );
    assert_eq!(
        m["template"]["components"][0]["parameters"][1]["text"],
        "AWB123456"
    );
}

#[tokio::test]
async fn whatsapp_tells_the_buyer_when_the_parcel_is_out_for_delivery_and_delivered_only() {
    let (base, log) = stub().await;
    let whatsapp = WhatsApp::new(
        oms_providers::http_client(),
        WhatsAppConfig {
            api_base: base,
            phone_number_id: "1099".into(),
            credentials: Arc::new(FixedCredentials::new([("token", "wa-token".into())])),
            template: "order_shipped".into(),
            out_for_delivery_template: "parcel_out_today".into(),
            delivered_template: "parcel_delivered".into(),
            language: "en".into(),
            dry_run: false,
        },
    );
    use oms_core::tracking::ShipmentState;
    for state in ShipmentState::ALL {
        whatsapp.shipment_update(&order(), state).await.unwrap();
    }
    let log = log.lock().unwrap();
    let sent: Vec<_> = log
        .iter()
        .map(|l| l.2["template"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, vec!["parcel_out_today", "parcel_delivered"]);
    assert_eq!(
        log[0].2["template"]["components"][0]["parameters"][0]["text"],
        "ORD-20270115-QRSTVWXY"
    );
}

/// A credential document that an operator rotates while the worker runs.
#[derive(Debug)]
struct Rotating(std::sync::Mutex<String>);

#[async_trait::async_trait]
impl CredentialSource for Rotating {
    async fn field(&self, field: &str) -> Result<Secret, CredentialError> {
        match field {
            "token" => Ok(Secret::new(self.0.lock().unwrap().clone())),
            other => Err(CredentialError(format!("no '{other}'"))),
        }
    }

    async fn optional_field(&self, field: &str) -> Result<Option<Secret>, CredentialError> {
        Ok(self.field(field).await.ok())
    }
}

#[tokio::test]
async fn a_rotated_whatsapp_token_is_used_from_the_next_message_on() {
    let (base, log) = stub().await;
    let creds = Arc::new(Rotating(std::sync::Mutex::new("token-v1".into())));
    let whatsapp = WhatsApp::new(
        oms_providers::http_client(),
        WhatsAppConfig {
            api_base: base,
            phone_number_id: "1099".into(),
            credentials: creds.clone(),
            template: "order_shipped".into(),
            out_for_delivery_template: "order_out_for_delivery".into(),
            delivered_template: "order_delivered".into(),
            language: "en".into(),
            dry_run: false,
        },
    );
    whatsapp.order_fulfilled(&order()).await.unwrap();
    *creds.0.lock().unwrap() = "token-v2".into();
    whatsapp.order_fulfilled(&order()).await.unwrap();
    let log = log.lock().unwrap();
    let auth: Vec<_> = log.iter().map(|l| l.1.clone().unwrap()).collect();
    assert_eq!(auth, vec!["Bearer token-v1", "Bearer token-v2"]);
}

#[tokio::test]
async fn missing_shiprocket_credentials_are_a_retryable_failure_not_a_login_attempt() {
    let (base, log) = stub().await;
    let carrier = Shiprocket::new(
        oms_providers::http_client(),
        ShiprocketConfig {
            api_base: base,
            credentials: Arc::new(FixedCredentials::default()),
            pickup_location: "Primary".into(),
            channel_id: None,
            parcel: (20.0, 15.0, 10.0, 0.5),
            dry_run: false,
        },
    );
    let e = carrier.create_shipment(&order()).await.unwrap_err();
    assert!(matches!(e, CarrierError::Unavailable(_)), "{e:?}");
    assert!(log.lock().unwrap().is_empty());
}

fn shipment(carrier: &str, awb: &str) -> ShipmentInfo {
    ShipmentInfo {
        carrier: carrier.into(),
        shipment_id: "5678".into(),
        awb: awb.into(),
        status: "pickup_scheduled".into(),
    }
}

/// The paths the stub saw, in order.
fn paths(log: &Log) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .map(|(p, _, _)| p.clone())
        .collect()
}

#[tokio::test]
async fn shiprocket_cancels_a_shipment_by_its_awb_with_the_cached_token() {
    let (base, log) = stub().await;
    let carrier = shiprocket(&base, false);
    let created = carrier.create_shipment(&order()).await.unwrap();
    let outcome = carrier.cancel_shipment(&created).await.unwrap();
    assert_eq!(outcome, ShipmentCancel::Cancelled);

    assert_eq!(
        paths(&log)
            .iter()
            .filter(|p| *p == "/v1/external/auth/login")
            .count(),
        1,
        "the token is reused"
    );
    let log = log.lock().unwrap();
    let (path, auth, body) = log.last().unwrap();
    assert_eq!(path, CANCEL_PATH);
    assert_eq!(auth.as_deref(), Some("Bearer sr-token-1"));
    assert_eq!(body, &json!({"awbs": ["AWB123456"]}));
}

#[tokio::test]
async fn a_fresh_shiprocket_client_logs_in_before_cancelling() {
    let (base, log) = stub().await;
    let outcome = shiprocket(&base, false)
        .cancel_shipment(&shipment("shiprocket", "AWB123456"))
        .await
        .unwrap();
    assert_eq!(outcome, ShipmentCancel::Cancelled);
    assert_eq!(paths(&log), ["/v1/external/auth/login", CANCEL_PATH]);
    assert_eq!(
        log.lock().unwrap()[1].1.as_deref(),
        Some("Bearer sr-token-1")
    );
}

#[tokio::test]
async fn a_bodiless_204_from_shiprocket_is_a_cancellation() {
    let (base, _) = stub_cancelling_with((StatusCode::NO_CONTENT, Value::Null)).await;
    let outcome = shiprocket(&base, false)
        .cancel_shipment(&shipment("shiprocket", "AWB123456"))
        .await
        .unwrap();
    assert_eq!(outcome, ShipmentCancel::Cancelled);
}

#[tokio::test]
async fn a_shipment_shiprocket_will_no_longer_cancel_is_too_late() {
    let (base, _) = stub_cancelling_with((
        StatusCode::BAD_REQUEST,
        json!({"message": "Cannot cancel shipment: it has already been picked up", "status_code": 400}),
    ))
    .await;
    let outcome = shiprocket(&base, false)
        .cancel_shipment(&shipment("shiprocket", "AWB123456"))
        .await
        .unwrap();
    assert_eq!(outcome, ShipmentCancel::TooLate);
}

#[tokio::test]
async fn cancelling_a_shipment_shiprocket_already_cancelled_is_cancelled_again() {
    let (base, _) = stub_cancelling_with((
        StatusCode::BAD_REQUEST,
        json!({"message": "Shipment is already cancelled.", "status_code": 400}),
    ))
    .await;
    let outcome = shiprocket(&base, false)
        .cancel_shipment(&shipment("shiprocket", "AWB123456"))
        .await
        .unwrap();
    assert_eq!(outcome, ShipmentCancel::Cancelled);
}

#[tokio::test]
async fn a_shiprocket_server_error_or_throttle_leaves_the_cancellation_retryable() {
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::BAD_GATEWAY,
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::FORBIDDEN,
    ] {
        let (base, _) = stub_cancelling_with((status, json!({"message": "nope"}))).await;
        let e = shiprocket(&base, false)
            .cancel_shipment(&shipment("shiprocket", "AWB123456"))
            .await
            .unwrap_err();
        assert!(matches!(e, CarrierError::Unavailable(_)), "{status}: {e:?}");
    }
}

#[tokio::test]
async fn a_refused_shiprocket_token_is_retryable_and_the_next_attempt_logs_in_again() {
    let (base, log) = stub_cancelling_with((
        StatusCode::UNAUTHORIZED,
        json!({"message": "Unauthenticated.", "status_code": 401}),
    ))
    .await;
    let carrier = shiprocket(&base, false);
    for _ in 0..2 {
        let e = carrier
            .cancel_shipment(&shipment("shiprocket", "AWB123456"))
            .await
            .unwrap_err();
        assert!(matches!(e, CarrierError::Unavailable(_)), "{e:?}");
    }
    assert_eq!(
        paths(&log),
        [
            "/v1/external/auth/login",
            CANCEL_PATH,
            "/v1/external/auth/login",
            CANCEL_PATH
        ]
    );
}

#[tokio::test]
async fn an_unreachable_shiprocket_leaves_the_cancellation_retryable() {
    // A port nothing listens on any more: the connection is refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = shiprocket(&format!("http://{addr}"), false)
        .cancel_shipment(&shipment("shiprocket", "AWB123456"))
        .await
        .unwrap_err();
    assert!(matches!(e, CarrierError::Unavailable(_)), "{e:?}");
}

#[tokio::test]
async fn the_shiprocket_dry_run_cancels_without_calling_anything() {
    let (base, log) = stub().await;
    let carrier = shiprocket(&base, true);
    let created = carrier.create_shipment(&order()).await.unwrap();
    assert_eq!(
        carrier.cancel_shipment(&created).await.unwrap(),
        ShipmentCancel::Cancelled
    );
    assert_eq!(
        carrier
            .cancel_shipment(&shipment("shiprocket", "AWB123456"))
            .await
            .unwrap(),
        ShipmentCancel::Cancelled
    );
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_dry_run_shipment_needs_no_call_to_cancel_once_the_dry_run_is_off() {
    let (base, log) = stub().await;
    let made_in_dry_run = shiprocket(&base, true)
        .create_shipment(&order())
        .await
        .unwrap();
    let outcome = shiprocket(&base, false)
        .cancel_shipment(&made_in_dry_run)
        .await
        .unwrap();
    assert_eq!(outcome, ShipmentCancel::Cancelled);
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_digital_delivery_cannot_be_cancelled() {
    let digital = NoShipping.create_shipment(&order()).await.unwrap();
    assert_eq!(
        NoShipping.cancel_shipment(&digital).await.unwrap(),
        ShipmentCancel::TooLate
    );
}

#[tokio::test]
async fn the_router_cancels_each_shipment_with_the_carrier_that_made_it() {
    let (base, log) = stub().await;
    let router = CarrierRouter {
        physical: Arc::new(shiprocket(&base, false)),
        digital_skus: vec![],
    };
    let digital = shipment("none", "");
    assert_eq!(
        router.cancel_shipment(&digital).await.unwrap(),
        ShipmentCancel::TooLate
    );
    assert!(log.lock().unwrap().is_empty(), "nothing to ask Shiprocket");

    assert_eq!(
        router
            .cancel_shipment(&shipment("shiprocket", "AWB123456"))
            .await
            .unwrap(),
        ShipmentCancel::Cancelled
    );
    assert_eq!(paths(&log), ["/v1/external/auth/login", CANCEL_PATH]);
    assert_eq!(log.lock().unwrap()[1].2, json!({"awbs": ["AWB123456"]}));
}
