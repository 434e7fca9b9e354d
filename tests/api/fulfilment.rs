//! The whole loop over HTTP with the in-process worker and sweep running: a purchase goes all
//! the way to `fulfilled`, an abandoned order is cancelled and its stock comes back.

use std::time::Duration;

use oms_core::webhook::simulate::*;
use oms_e2e::{Options, RAZORPAY_SECRET, STRIPE_SECRET, TestApp, inr};

fn with_background() -> Options {
    Options {
        env: vec![
            ("DEV_BACKGROUND", "true".into()),
            ("CLEANUP_INTERVAL_SECONDS", "1".into()),
        ],
        ..Options::default()
    }
}

/// Polls the order until `done` holds (the worker and the sweep run in the background).
async fn eventually(
    app: &TestApp,
    id: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..100 {
        let o = app.order(id).await;
        if done(&o) {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {id} never got there: {}", app.order(id).await);
}

#[tokio::test]
async fn a_local_purchase_reaches_fulfilled_with_an_invoice_and_a_shipment() {
    let app = TestApp::spawn_with(with_background()).await;
    let (id, session, _, amount) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    let now = app.clock_now().unix_seconds();
    let body = stripe_session_paid(
        "evt_f1",
        "checkout.session.completed",
        &session,
        "pi_f1",
        Some(&id),
        inr(amount),
        now,
    );
    assert_eq!(app.stripe_event(&body, STRIPE_SECRET).await.status, 200);

    let o = eventually(&app, &id, |o| o["status"] == "fulfilled").await;
    assert!(o["invoice"]["number"].as_str().unwrap().starts_with("INV-"));
    assert_eq!(o["shipment"]["carrier"], "shiprocket");
    assert!(
        o["shipment"]["awb"].as_str().unwrap().starts_with("DRYRUN"),
        "Shiprocket's dry run by default"
    );
    let kinds: Vec<&str> = o["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "order_created",
            "payment_succeeded",
            "invoice_issued",
            "shipment_created",
            "fulfilled"
        ]
    );
}

#[tokio::test]
async fn a_gift_card_needs_no_shipment() {
    let app = TestApp::spawn_with(Options {
        catalog: r#"{"currency":"INR","products":[{"sku":"GIFT-CARD-1000","name":"Gift card","unitPrice":100000,"available":10}]}"#,
        ..with_background()
    })
    .await;
    let (id, rzp, _, amount) = app.guest_order("GIFT-CARD-1000", 1, "razorpay").await;
    let body = razorpay_payment_event("payment.captured", "pay_gc", &rzp, Some(&id), inr(amount));
    assert_eq!(
        app.razorpay_event(&body, RAZORPAY_SECRET, "e_gc")
            .await
            .status,
        200
    );
    let o = eventually(&app, &id, |o| o["status"] == "fulfilled").await;
    assert_eq!(o["shipment"]["carrier"], "none");
}

#[tokio::test]
async fn an_abandoned_order_is_cancelled_and_its_stock_comes_back() {
    let app = TestApp::spawn_with(with_background()).await;
    let (id, _, _, _) = app.guest_order("SAREE-RED", 2, "stripe").await;
    assert_eq!(app.available("SAREE-RED").await, 1);
    app.clock.advance(Duration::from_secs(31 * 60));
    let o = eventually(&app, &id, |o| o["status"] == "cancelled").await;
    assert_eq!(
        o["timeline"].as_array().unwrap().last().unwrap()["type"],
        "cancelled"
    );
    assert_eq!(app.available("SAREE-RED").await, 3);
}

#[tokio::test]
async fn the_worker_announces_fulfilment_with_the_trace_of_the_delivery_that_paid() {
    let app = TestApp::spawn_with(with_background()).await;
    let (id, session, _, amount) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    let now = app.clock_now().unix_seconds();
    let body = stripe_session_paid(
        "evt_f_trace",
        "checkout.session.completed",
        &session,
        "pi_f_trace",
        Some(&id),
        inr(amount),
        now,
    );
    let r = app.stripe_event(&body, STRIPE_SECRET).await;
    assert_eq!(r.status, 200);
    let request_id = r.header("x-request-id").expect("a request id");

    eventually(&app, &id, |o| o["status"] == "fulfilled").await;
    let fulfilled: Vec<_> = app
        .published("order.fulfilled")
        .await
        .into_iter()
        .filter(|m| m.body["orderId"] == id)
        .collect();
    assert_eq!(fulfilled.len(), 1);
    assert_eq!(
        fulfilled[0].trace,
        oms_core::ports::Trace::request(request_id).with_event("evt_f_trace"),
        "the job reached the worker with its trace, and the worker's event carries it"
    );
}
