use oms_e2e::{TestApp, order_body};
use serde_json::json;

#[tokio::test]
async fn a_guest_order_is_priced_from_the_catalog_and_read_back_with_its_token() {
    let app = TestApp::spawn().await;
    let mut body = order_body("CHAI-250G", 3, "razorpay");
    body["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"sku": "MUG-BRASS", "quantity": 1}));
    let r = app.create_order(&body, None, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["orderId"].as_str().unwrap();
    assert!(id.starts_with("ord_"));
    assert!(r.body["orderNumber"].as_str().unwrap().starts_with("ORD-"));
    assert_eq!(r.body["status"], "pending_payment");
    assert_eq!(r.body["amount"], 3 * 34_900 + 129_900);
    assert_eq!(r.body["currency"], "INR");
    assert_eq!(r.body["items"][0]["lineTotal"], 3 * 34_900);
    assert_eq!(r.body["items"][1]["name"], "Brass tumbler");
    assert_eq!(r.body["payment"]["provider"], "razorpay");
    assert!(
        r.body["payment"]["providerOrderId"]
            .as_str()
            .unwrap()
            .starts_with("order_")
    );
    assert!(r.body["payment"]["keyId"].is_string());
    assert_eq!(r.body["expiresAt"], "2027-01-15T08:30:00.000Z");
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/orders/{id}").as_str())
    );
    let token = r.body["accessToken"].as_str().unwrap().to_owned();

    let got = app.get_order(id, None, Some(&token)).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["orderId"], id);
    assert_eq!(got.body["status"], "pending_payment");
    assert_eq!(got.body["amount"], r.body["amount"]);
    assert_eq!(got.body["customer"]["email"], "asha@example.in");
    assert_eq!(got.body["shippingAddress"]["postalCode"], "560001");
    assert_eq!(got.body["shippingAddress"]["line2"], "Near the metro");
    assert_eq!(got.body["requiresReview"], false);
    assert_eq!(got.body["reviewReason"], serde_json::Value::Null);
    assert_eq!(got.body["refundedAmount"], 0);
    assert_eq!(
        got.body["payment"]["providerOrderId"],
        r.body["payment"]["providerOrderId"]
    );
    assert_eq!(
        got.body["payment"]["providerPaymentId"],
        serde_json::Value::Null
    );
    assert_eq!(got.body["timeline"][0]["type"], "order_created");
    assert_eq!(got.body["timeline"][0]["at"], "2027-01-15T08:00:00.000Z");
    assert_eq!(got.body["createdAt"], "2027-01-15T08:00:00.000Z");
}

#[tokio::test]
async fn the_client_cannot_set_the_price() {
    let app = TestApp::spawn().await;
    let mut body = order_body("MUG-BRASS", 1, "stripe");
    body["items"][0]["unitPrice"] = 1.into();
    let r = app.create_order(&body, None, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "validation_failed");
    assert_eq!(
        r.body["error"]["details"]["fields"][0]["field"],
        "items[0].unitPrice"
    );
    assert_eq!(app.available("MUG-BRASS").await, 50);
}

#[tokio::test]
async fn a_stripe_order_gets_a_checkout_session_and_url() {
    let app = TestApp::spawn().await;
    let r = app
        .create_order(&order_body("MUG-BRASS", 1, "stripe"), None, None)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let session = r.body["payment"]["sessionId"].as_str().unwrap();
    assert!(session.starts_with("cs_test_"));
    let url = r.body["payment"]["checkoutUrl"].as_str().unwrap();
    assert!(url.ends_with(session));
    // The offline stand-in's checkout page is served locally.
    let page = app.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("stand-in"));
}

#[tokio::test]
async fn a_signed_in_user_orders_without_a_token_and_reads_back_with_their_jwt() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice");
    let mut body = order_body("CHAI-250G", 1, "razorpay");
    body["customer"] = json!({"name": "Alice"});
    let r = app.create_order(&body, Some(&alice), None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.body.get("accessToken").is_none(),
        "users get no guest token: {}",
        r.text
    );
    let id = r.body["orderId"].as_str().unwrap();

    let got = app.get_order(id, Some(&alice), None).await;
    assert_eq!(got.status, 200);
    // The email came from the token's claims.
    assert_eq!(got.body["customer"]["email"], "alice@example.com");
}

#[tokio::test]
async fn someone_elses_order_is_indistinguishable_from_a_missing_one() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice");
    let bob = app.token("bob");
    let mine = app
        .create_order(&order_body("CHAI-250G", 1, "stripe"), Some(&alice), None)
        .await;
    let id = mine.body["orderId"].as_str().unwrap();
    let guest = app
        .create_order(&order_body("CHAI-250G", 1, "stripe"), None, None)
        .await;
    let gid = guest.body["orderId"].as_str().unwrap();
    let gtoken = guest.body["accessToken"].as_str().unwrap();

    let missing = app
        .get_order("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0", Some(&bob), None)
        .await;
    assert_eq!(missing.status, 404);
    let expected = missing.body["error"]["message"].clone();
    for r in [
        app.get_order(id, Some(&bob), None).await,
        app.get_order(id, None, None).await,
        app.get_order(id, None, Some(gtoken)).await,
        app.get_order(gid, None, None).await,
        app.get_order(gid, Some(&alice), None).await,
        app.get_order(gid, None, Some("otk_guess")).await,
        app.get_order("not-an-order-id", Some(&alice), None).await,
    ] {
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.error_code(), "not_found");
        assert_eq!(r.body["error"]["message"], expected);
    }
}

#[tokio::test]
async fn an_admin_reads_any_order() {
    let app = TestApp::spawn().await;
    let guest = app
        .create_order(&order_body("CHAI-250G", 1, "razorpay"), None, None)
        .await;
    let gid = guest.body["orderId"].as_str().unwrap();
    let r = app
        .get_order(gid, Some(&app.admin_token("ops-1")), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["orderId"], gid);
}
