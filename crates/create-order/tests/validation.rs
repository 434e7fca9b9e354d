//! Handler tests with built requests: however much is wrong with an order, the
//! `validation_failed` answer stays small.

use axum::Router;
use http_body_util::BodyExt;
use oms_core::Timestamp;
use oms_http::mount;
use serde_json::{Value, json};
use tower::ServiceExt;

fn app() -> Router {
    let state = oms_app::local::test_state(Timestamp::from_unix_millis(1_800_000_000_000));
    mount(create_order::routes(), state)
}

fn order(items: Vec<Value>) -> Value {
    json!({
        "items": items, "currency": "INR", "paymentProvider": "razorpay",
        "customer": {"email": "a@example.com", "name": "A"},
        "shippingAddress": {"name": "A", "line1": "1", "city": "C", "state": "S", "postalCode": "560001", "country": "IN"}
    })
}

/// Status and raw body of `POST /api/v1/orders` with `body`.
async fn post(body: &Value) -> (u16, Vec<u8>) {
    let req = axum::http::Request::post("/api/v1/orders")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let res = app().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn the_error_for_twenty_thousand_bad_lines_is_small_and_names_items() {
    let lines = (0..20_000)
        .map(|_| json!({"sku": "no such sku!", "quantity": 0}))
        .collect();
    let body = order(lines);
    assert!(body.to_string().len() > 700_000, "the body is as sent");
    let (status, bytes) = post(&body).await;
    assert_eq!(status, 400);
    assert!(bytes.len() < 1_024, "{} bytes", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "validation_failed");
    assert_eq!(
        v["error"]["details"]["fields"],
        json!([{"field": "items", "message": "must contain at most 50 items"}])
    );
}

#[tokio::test]
async fn an_order_wrong_everywhere_lists_fifty_field_errors_and_counts_the_rest() {
    let lines = (0..50)
        .map(|i| json!({"sku": format!("bad sku {i}"), "quantity": 0}))
        .collect();
    let mut body = order(lines);
    body["currency"] = "inr".into();
    let (status, bytes) = post(&body).await;
    assert_eq!(status, 400);
    assert!(bytes.len() < 8_192, "{} bytes", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let details = &v["error"]["details"];
    assert_eq!(details["fields"].as_array().unwrap().len(), 50);
    assert_eq!(details["fields"][0]["field"], "items[0].sku");
    assert_eq!(details["omitted"], 51);
    assert_eq!(
        v["error"]["message"],
        "101 fields are invalid; the first 50 are in details"
    );
}
