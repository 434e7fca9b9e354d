//! A created order is counted in CloudWatch's embedded metric format: the document a Lambda
//! writes to its log after the invocation.

use http_body_util::BodyExt;
use oms_core::Timestamp;
use oms_http::mount;
use tower::ServiceExt;

#[tokio::test]
async fn a_created_order_is_counted_in_the_emf_document() {
    let metrics = oms_app::metrics::emf_collector("create-order").unwrap();
    let state = oms_app::local::test_state(Timestamp::from_unix_millis(1_800_000_000_000));
    let app = mount(create_order::routes(), state);
    let body = serde_json::json!({
        "items": [{"sku": "CHAI-250G", "quantity": 1}], "currency": "INR", "paymentProvider": "razorpay",
        "customer": {"email": "a@example.com", "name": "A"},
        "shippingAddress": {"name": "A", "line1": "1", "city": "C", "state": "S", "postalCode": "560001", "country": "IN"}
    });
    let req = axum::http::Request::post("/api/v1/orders")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 201);
    let _ = res.into_body().collect().await;

    let mut out = Vec::new();
    metrics.flush(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let doc: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|d| d.get("orders_created").is_some())
        .unwrap_or_else(|| panic!("no orders_created in {text}"));
    assert_eq!(doc["orders_created"], 1);
    assert_eq!(doc["function"], "create-order");
    assert_eq!(doc["provider"], "razorpay");
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Oms");
}
