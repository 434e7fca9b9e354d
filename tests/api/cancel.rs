//! `POST /orders/{orderId}/cancel` over HTTP: who may cancel, unpaid and paid orders, shipped
//! ones, and payments that arrive after a cancellation.

use std::time::Duration;

use oms_core::webhook::simulate::*;
use oms_e2e::{Options, RAZORPAY_SECRET, TestApp, inr, order_body};
use serde_json::{Value, json};

fn count(order: &Value, kind: &str) -> usize {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .count()
}

async fn cancel(
    app: &TestApp,
    id: &str,
    bearer: Option<&str>,
    token: Option<&str>,
) -> oms_e2e::Reply {
    let mut req = app
        .http
        .post(app.url(&format!("/orders/{id}/cancel")))
        .json(&json!({"reason": "changed my mind"}));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(t) = token {
        req = req.header("X-Order-Token", t);
    }
    app.send(req).await
}

#[tokio::test]
async fn a_guest_cancels_an_unpaid_order_with_its_token_and_nobody_else_can() {
    let app = TestApp::spawn().await;
    let before = app.available("MUG-BRASS").await;
    let (id, _, token, _) = app.guest_order("MUG-BRASS", 2, "stripe").await;
    assert_eq!(app.available("MUG-BRASS").await, before - 2);

    for (bearer, order_token) in [
        (None, None),
        (None, Some("not-the-token")),
        (Some(app.token("someone-else")), None),
    ] {
        let r = cancel(&app, &id, bearer.as_deref(), order_token).await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.error_code(), "not_found");
    }
    assert_eq!(app.order(&id).await["status"], "pending_payment");

    let r = cancel(&app, &id, None, Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["paymentStatus"], "unpaid");
    assert_eq!(app.available("MUG-BRASS").await, before, "stock back");
    let entry = r.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "cancelled")
        .unwrap()
        .clone();
    assert_eq!(entry["meta"]["by"], "guest");
    assert_eq!(entry["meta"]["reason"], "changed my mind");

    // Again: 200, unchanged; the stock is not given back twice.
    let again = cancel(&app, &id, None, Some(&token)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, r.body);
    assert_eq!(app.available("MUG-BRASS").await, before);
}

#[tokio::test]
async fn an_owner_cancels_a_paid_unshipped_order_and_is_refunded_in_full_once() {
    for provider in ["stripe", "razorpay"] {
        let app = TestApp::spawn().await;
        let user = app.token("shopper-7");
        let created = app
            .create_order(&order_body("CHAI-250G", 3, provider), Some(&user), None)
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["orderId"].as_str().unwrap().to_owned();
        let amount = created.body["amount"].as_i64().unwrap();
        let payment = &created.body["payment"];
        let provider_ref = payment["providerOrderId"]
            .as_str()
            .or_else(|| payment["sessionId"].as_str())
            .unwrap()
            .to_owned();
        let now = app.clock_now().unix_seconds();
        let paid = if provider == "stripe" {
            let body = stripe_session_paid(
                "evt_p",
                "checkout.session.completed",
                &provider_ref,
                "pi_7",
                Some(&id),
                inr(amount),
                now,
            );
            app.stripe_event(&body, oms_e2e::STRIPE_SECRET).await
        } else {
            let body = razorpay_payment_event(
                "payment.captured",
                "pay_7",
                &provider_ref,
                Some(&id),
                inr(amount),
            );
            app.razorpay_event(&body, RAZORPAY_SECRET, "evt_p").await
        };
        assert_eq!(paid.status, 200, "{}", paid.text);
        let stock = app.available("CHAI-250G").await;

        let r = cancel(&app, &id, Some(&user), None).await;
        assert_eq!(r.status, 200, "{provider}: {}", r.text);
        assert_eq!(r.body["status"], "cancelled");
        assert_eq!(app.available("CHAI-250G").await, stock + 3, "stock back");
        let refunds = r.body["refunds"].as_array().unwrap();
        assert_eq!(refunds.len(), 1, "{}", r.text);
        assert_eq!(refunds[0]["amount"], amount);
        assert_eq!(refunds[0]["requestedBy"], "cancellation");

        let order = app
            .order_until(&id, |o| o["refunds"][0]["status"] == "succeeded")
            .await;
        assert_eq!(order["status"], "cancelled", "stays cancelled: {order}");
        assert_eq!(order["refundedAmount"], amount);
        assert_eq!(order["paymentStatus"], "refunded");
        assert_eq!(count(&order, "refund_full"), 1);
        assert_eq!(app.standin(provider).inner.refund_calls().len(), 1);

        let again = cancel(&app, &id, Some(&user), None).await;
        assert_eq!(again.status, 200);
        assert_eq!(
            app.standin(provider).inner.refund_calls().len(),
            1,
            "no second refund"
        );
        assert_eq!(app.available("CHAI-250G").await, stock + 3);
    }
}

const WITH_DIGITAL: &str = r#"{"currency":"INR","products":[
  {"sku":"MUG-BRASS","name":"Brass tumbler","unitPrice":129900,"available":50},
  {"sku":"GIFT-CARD-1000","name":"Gift card","unitPrice":100000,"available":100}
]}"#;

fn with_worker() -> Options {
    Options {
        catalog: WITH_DIGITAL,
        env: vec![("DEV_BACKGROUND", "true".into())],
    }
}

#[tokio::test]
async fn a_shipment_not_yet_picked_up_is_cancelled_at_the_carrier_and_the_order_refunded() {
    let app = TestApp::spawn_with(with_worker()).await;
    let (id, _, amount) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    let shipped = app.order_until(&id, |o| o["status"] == "fulfilled").await;
    assert_eq!(shipped["shipment"]["carrier"], "shiprocket");
    let stock = app.available("MUG-BRASS").await;

    let r = cancel(&app, &id, Some(&app.admin_token("ops-1")), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["fulfilmentStatus"], "cancelled");
    assert_eq!(r.body["shipment"]["status"], "cancelled");
    assert_eq!(count(&r.body, "shipment_cancelled"), 1);
    assert_eq!(
        app.available("MUG-BRASS").await,
        stock + 1,
        "back in the warehouse"
    );
    let order = app
        .order_until(&id, |o| o["refunds"][0]["status"] == "succeeded")
        .await;
    assert_eq!(order["refundedAmount"], amount);
    assert_eq!(order["paymentStatus"], "refunded");
    assert_eq!(order["status"], "cancelled");
}

#[tokio::test]
async fn a_delivered_digital_order_cannot_be_cancelled_and_is_left_as_it_was() {
    let app = TestApp::spawn_with(with_worker()).await;
    let (id, _, _) = app.paid_order("GIFT-CARD-1000", 1, "razorpay").await;
    let delivered = app.order_until(&id, |o| o["status"] == "fulfilled").await;
    assert_eq!(delivered["shipment"]["carrier"], "none");
    let r = cancel(&app, &id, Some(&app.admin_token("ops-1")), None).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "already_shipped");
    assert_eq!(app.order(&id).await, delivered);
    assert_eq!(app.standin("razorpay").inner.refund_calls().len(), 0);
}

#[tokio::test]
async fn a_payment_arriving_after_a_cancellation_on_request_is_refunded_automatically() {
    let app = TestApp::spawn().await;
    let (id, provider_ref, token, amount) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    let before = app.available("MUG-BRASS").await;
    let r = cancel(&app, &id, None, Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Razorpay orders cannot be closed: the buyer pays in a tab left open.
    let body = razorpay_payment_event(
        "payment.captured",
        "pay_late",
        &provider_ref,
        Some(&id),
        inr(amount),
    );
    for _ in 0..2 {
        let r = app.razorpay_event(&body, RAZORPAY_SECRET, "evt_late").await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let order = app
        .order_until(&id, |o| o["refunds"][0]["status"] == "succeeded")
        .await;
    assert_eq!(order["status"], "cancelled", "not reinstated: {order}");
    assert_eq!(order["requiresReview"], false);
    assert_eq!(order["paymentStatus"], "refunded");
    assert_eq!(order["refundedAmount"], amount);
    assert_eq!(order["refunds"][0]["requestedBy"], "late_payment");
    assert_eq!(app.standin("razorpay").inner.refund_calls().len(), 1);
    assert_eq!(
        app.available("MUG-BRASS").await,
        before + 1,
        "its stock stays released"
    );
}

#[tokio::test]
async fn under_the_review_policy_a_late_payment_is_kept_and_held_for_a_person() {
    let app = TestApp::spawn_with(Options {
        env: vec![("LATE_PAYMENT_POLICY", "review".into())],
        ..Options::default()
    })
    .await;
    let (id, provider_ref, token, amount) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    assert_eq!(cancel(&app, &id, None, Some(&token)).await.status, 200);
    let body = razorpay_payment_event(
        "payment.captured",
        "pay_late",
        &provider_ref,
        Some(&id),
        inr(amount),
    );
    assert_eq!(
        app.razorpay_event(&body, RAZORPAY_SECRET, "evt_late")
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let order = app.order(&id).await;
    assert_eq!(order["requiresReview"], true, "{order}");
    assert_eq!(order["reviewReason"], "paid_after_cancel");
    assert_eq!(order["refunds"].as_array().unwrap().len(), 0);
    assert_eq!(app.standin("razorpay").inner.refund_calls().len(), 0);
}
