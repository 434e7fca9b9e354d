//! Handler tests with the requests API Gateway actually sends: HTTP API (payload 2.0) events
//! decoded by `lambda_http`, identity from the JWT authorizer's claims in the request context.

use axum::Router;
use http_body_util::BodyExt;
use oms_core::Timestamp;
use oms_http::mount;
use serde_json::{Value, json};
use tower::ServiceExt;

fn app() -> Router {
    let state = oms_app::local::test_state(Timestamp::from_unix_millis(1_800_000_000_000));
    mount(create_order::routes().merge(orders_api::routes()), state)
}

/// An HTTP API event as API Gateway delivers it to the function.
fn event(
    method: &str,
    path: &str,
    claims: Option<Value>,
    body: Option<&Value>,
) -> lambda_http::Request {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut ctx = json!({
        "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.ap-south-1.amazonaws.com",
        "domainPrefix": "abc123", "requestId": "apigw-Ab12Cd34", "routeKey": format!("{method} {raw_path}"),
        "stage": "$default", "time": "15/Jan/2027:08:00:00 +0000", "timeEpoch": 1_800_000_000_000u64,
        "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "storefront"}
    });
    if let Some(c) = claims {
        ctx["authorizer"] = json!({"jwt": {"claims": c, "scopes": null}});
    }
    let mut ev = json!({
        "version": "2.0", "routeKey": format!("{method} {raw_path}"), "rawPath": raw_path, "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.ap-south-1.amazonaws.com"},
        "requestContext": ctx, "isBase64Encoded": false
    });
    if let Some(b) = body {
        ev["body"] = Value::String(b.to_string());
    }
    lambda_http::request::from_str(&ev.to_string()).expect("a valid HTTP API event")
}

async fn call(app: &Router, req: lambda_http::Request) -> (u16, Value, Option<String>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let rid = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        rid,
    )
}

fn order() -> Value {
    json!({
        "items": [{"sku": "CHAI-250G", "quantity": 1}], "currency": "INR", "paymentProvider": "razorpay",
        "customer": {"name": "Alice"},
        "shippingAddress": {"name": "Alice", "line1": "1 Park St", "city": "Kolkata", "state": "WB", "postalCode": "700016", "country": "IN"}
    })
}

fn alice() -> Value {
    json!({"sub": "alice-sub", "email": "alice@example.com", "cognito:groups": "[customers]"})
}

#[tokio::test]
async fn claims_from_the_authorizer_identify_the_user_and_own_the_order() {
    let app = app();
    let (status, created, rid) = call(
        &app,
        event("POST", "/api/v1/orders", Some(alice()), Some(&order())),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        rid.as_deref(),
        Some("apigw-Ab12Cd34"),
        "API Gateway's request id is the request id"
    );
    assert!(created.get("accessToken").is_none());
    let id = created["orderId"].as_str().unwrap();

    let (status, got, _) = call(
        &app,
        event("GET", &format!("/api/v1/orders/{id}"), Some(alice()), None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got["customer"]["email"], "alice@example.com");

    let bob = json!({"sub": "bob-sub"});
    let (status, err, _) = call(
        &app,
        event("GET", &format!("/api/v1/orders/{id}"), Some(bob), None),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["requestId"], "apigw-Ab12Cd34");

    let admin = json!({"sub": "ops-sub", "cognito:groups": "[admin ops]"});
    let (status, _, _) = call(
        &app,
        event("GET", &format!("/api/v1/orders/{id}"), Some(admin), None),
    )
    .await;
    assert_eq!(status, 200, "the admin group reads any order");

    let (status, list, _) = call(
        &app,
        event("GET", "/api/v1/orders?limit=5", Some(alice()), None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["orders"][0]["orderId"], id);
}

#[tokio::test]
async fn without_authorizer_claims_the_caller_is_a_guest() {
    let app = app();
    let (status, err, _) = call(&app, event("GET", "/api/v1/orders", None, None)).await;
    assert_eq!(status, 401);
    assert_eq!(err["error"]["code"], "unauthorized");

    let (status, err, _) = call(&app, event("POST", "/api/v1/orders", None, Some(&order()))).await;
    assert_eq!(status, 400, "a guest must give an email");
    assert_eq!(
        err["error"]["details"]["fields"][0]["field"],
        "customer.email"
    );
}

#[tokio::test]
async fn health_answers_through_the_lambda_event_path() {
    let app = app();
    let (status, body, _) = call(&app, event("GET", "/api/v1/health", None, None)).await;
    assert_eq!(status, 200);
    assert_eq!(body["request"]["requestId"], "apigw-Ab12Cd34");
}

#[tokio::test]
async fn an_admin_named_by_the_authorizer_manages_the_catalog_and_others_are_refused_first() {
    let app = app();
    let admin = json!({"sub": "ops-sub", "cognito:groups": "[admin ops]"});
    let body =
        json!({"name": "Darjeeling, 100 g", "unitPrice": 45000, "currency": "INR", "available": 4});
    let (status, created, _) = call(
        &app,
        event(
            "PUT",
            "/api/v1/admin/products/TEA-DARJ",
            Some(admin.clone()),
            Some(&body),
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["available"], 4);

    let restock = json!({"delta": 6, "reason": "delivery"});
    let (status, adjusted, _) = call(
        &app,
        event(
            "POST",
            "/api/v1/admin/products/TEA-DARJ/stock",
            Some(admin.clone()),
            Some(&restock),
        ),
    )
    .await;
    assert_eq!(status, 200, "{adjusted}");
    assert_eq!(adjusted["record"]["by"], "ops-sub");
    assert_eq!(adjusted["record"]["level"], 10);

    let (status, listed, _) = call(
        &app,
        event(
            "GET",
            "/api/v1/admin/products/TEA-DARJ/stock?limit=5",
            Some(admin),
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["records"][0], adjusted["record"]);

    // A customer is refused before the body is read, even a body that breaks every rule.
    let bad = json!({"name": "", "unitPrice": -1, "currency": "inr"});
    let (status, err, _) = call(
        &app,
        event(
            "PUT",
            "/api/v1/admin/products/TEA-DARJ",
            Some(alice()),
            Some(&bad),
        ),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, err, _) = call(
        &app,
        event(
            "POST",
            "/api/v1/admin/products/TEA-DARJ/stock",
            None,
            Some(&restock),
        ),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
}
