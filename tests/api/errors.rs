//! Every client error the order API promises, each in the JSON envelope, each changing nothing.

use oms_e2e::{TestApp, order_body};
use serde_json::json;

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> oms_e2e::Reply {
    let mut req = app.http.post(app.url("/orders")).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    app.send(req).await
}

#[tokio::test]
async fn malformed_json_is_invalid_json() {
    let app = TestApp::spawn().await;
    for body in ["{", "", "{\"items\": [}", "[1,2", "{} trailing", "nul"] {
        let r = post_raw(&app, Some("application/json"), body.into()).await;
        assert_eq!(r.status, 400, "{body:?}: {}", r.text);
        assert_eq!(r.error_code(), "invalid_json", "{body:?}");
    }
    assert_eq!(app.available("CHAI-250G").await, 1000);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported_media_type() {
    let app = TestApp::spawn().await;
    let json = serde_json::to_vec(&order_body("CHAI-250G", 1, "stripe")).unwrap();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
    ] {
        let r = post_raw(&app, ct, json.clone()).await;
        assert_eq!(r.status, 415, "{ct:?}");
        assert_eq!(r.error_code(), "unsupported_media_type");
    }
    let r = post_raw(&app, Some("application/json; charset=utf-8"), json).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_payload_too_large() {
    let app = TestApp::spawn().await;
    let mut body = order_body("CHAI-250G", 1, "stripe");
    body["customer"]["name"] = "x".repeat(1024 * 1024 + 1).into();
    let r = post_raw(
        &app,
        Some("application/json"),
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error_code(), "payload_too_large");

    // Sent chunked, with no Content-Length to refuse early, the limit still holds.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .unwrap();
    let head = format!(
        "POST {}/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.server.state.api_prefix
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        if tcp
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
            || tcp.write_all(&chunk).await.is_err()
            || tcp.write_all(b"\r\n").await.is_err()
        {
            break; // the server answered and closed early: fine
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(answer.contains("payload_too_large"));
}

#[tokio::test]
async fn invalid_fields_are_validation_failed_naming_each_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"items": [{"sku": "CHAI-250G", "quantity": 0}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"sku": "CHAI-250G", "quantity": "2"}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"sku": "CHAI-250G", "quantity": -2}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"sku": "CHAI-250G", "quantity": 1.5}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"sku": "NOPE", "quantity": 1}]}),
            "items[0].sku",
        ),
        (json!({"items": []}), "items"),
        (json!({"currency": "USD"}), "currency"),
        (json!({"currency": "rupees"}), "currency"),
        (json!({"paymentProvider": "paypal"}), "paymentProvider"),
        (
            json!({"customer": {"email": "nope", "name": "A"}}),
            "customer.email",
        ),
        (json!({"customer": {"name": "A"}}), "customer.email"),
        (
            json!({"customer": {"email": "a@example.com"}}),
            "customer.name",
        ),
        (
            json!({"shippingAddress": {"name": "A", "line1": "L", "city": "C", "state": "S", "postalCode": "560001", "country": "India"}}),
            "shippingAddress.country",
        ),
        (json!({"shippingAddress": null}), "shippingAddress"),
        (json!({"coupon": "FREE"}), "coupon"),
    ];
    for (patch, field) in cases {
        let mut body = order_body("CHAI-250G", 1, "stripe");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.create_order(&body, None, None).await;
        assert_eq!(r.status, 400, "{patch}: {}", r.text);
        assert_eq!(r.error_code(), "validation_failed", "{patch}");
        let fields: Vec<&str> = r.body["error"]["details"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "{patch}: expected {field} in {fields:?}"
        );
    }
    assert_eq!(app.available("CHAI-250G").await, 1000);
}

#[tokio::test]
async fn a_bad_bearer_token_is_unauthorized_not_a_guest() {
    let app = TestApp::spawn().await;
    let forged = dev_server::mint_token(
        "another-secret",
        "mallory",
        None,
        &["admin"],
        std::time::Duration::from_secs(60),
    );
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let expired =
        dev_server::mint_token_expiring(oms_e2e::JWT_SECRET, "alice", None, &[], an_hour_ago);
    for auth in [
        format!("Bearer {forged}"),
        "Bearer not.a.jwt".to_owned(),
        "Basic YTpi".to_owned(),
        format!("Bearer {expired}"),
    ] {
        let r = app
            .send(
                app.http
                    .post(app.url("/orders"))
                    .header("authorization", &auth)
                    .json(&order_body("CHAI-250G", 1, "stripe")),
            )
            .await;
        assert_eq!(r.status, 401, "{auth}: {}", r.text);
        assert_eq!(r.error_code(), "unauthorized");
    }
    assert_eq!(app.available("CHAI-250G").await, 1000);
}

#[tokio::test]
async fn a_bad_idempotency_key_is_refused() {
    let app = TestApp::spawn().await;
    let r = app
        .create_order(
            &order_body("CHAI-250G", 1, "stripe"),
            None,
            Some(&"k".repeat(256)),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"]["details"]["fields"][0]["field"],
        "Idempotency-Key"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = TestApp::spawn().await;
    let r = app.get("/nowhere").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "not_found");
    let r = app.send(app.http.delete(app.url("/orders"))).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.error_code(), "method_not_allowed");
    let r = app
        .send(app.http.get(format!("{}/orders", app.server.base_url)))
        .await;
    assert_eq!(r.status, 404, "routes live under the API prefix only");
}

#[tokio::test]
async fn an_order_id_with_an_invalid_percent_escape_is_a_json_404() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("ops-1");
    let verify_body = json!({
        "razorpayOrderId": "order_x", "razorpayPaymentId": "pay_x", "razorpaySignature": "00"
    });
    let request = |id: &str, route: usize| match route {
        0 => app.http.get(app.url(&format!("/orders/{id}"))),
        1 => app
            .http
            .post(app.url(&format!("/orders/{id}/razorpay/verify")))
            .json(&verify_body),
        _ => app
            .http
            .post(app.url(&format!("/admin/orders/{id}/clear-review")))
            .bearer_auth(&admin),
    };
    for route in 0..3 {
        // An id that does not parse: the answer an undecodable one must match.
        let malformed = app.send(request("not-an-order-id", route)).await;
        assert_eq!(malformed.status, 404, "{}", malformed.text);
        for id in ["%FF", "%C3%28", "ord_%80"] {
            let r = app.send(request(id, route)).await;
            assert_eq!(r.status, 404, "{id} on route {route}: {}", r.text);
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.error_code(), "not_found");
            assert_eq!(
                r.body["error"]["message"],
                malformed.body["error"]["message"]
            );
        }
    }
}
