//! The carrier's tracking webhook over HTTP, with the in-process worker shipping paid orders:
//! every mapped Shiprocket status id, out-of-order and repeated deliveries, the token, a parcel
//! that comes back, and AWBs no order has.

use std::time::Duration;

use oms_core::Timestamp;
use oms_core::tracking::{SHIPROCKET_STATUSES, ShipmentState};
use oms_e2e::{Options, SHIPROCKET_TOKEN, TestApp};
use serde_json::Value;

fn with_worker(extra: &[(&'static str, &str)]) -> Options {
    let mut env = vec![("DEV_BACKGROUND", "true".to_owned())];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Options {
        env,
        ..Options::default()
    }
}

/// A paid order the worker has shipped: `(orderId, awb)`.
async fn shipped(app: &TestApp, sku: &str, provider: &str) -> (String, String) {
    let (id, _, _) = app.paid_order(sku, 1, provider).await;
    let o = app.order_until(&id, |o| o["status"] == "fulfilled").await;
    let awb = o["shipment"]["awb"].as_str().unwrap().to_owned();
    assert!(!awb.is_empty());
    (id, awb)
}

fn at(app: &TestApp, minutes: i64) -> Timestamp {
    Timestamp::from_unix_millis(app.clock_now().unix_millis() + minutes * 60_000)
}

fn kinds(o: &Value) -> Vec<String> {
    o["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn count(o: &Value, kind: &str) -> usize {
    kinds(o).iter().filter(|k| *k == kind).count()
}

#[tokio::test]
async fn every_mapped_status_id_moves_a_shipment_to_its_state() {
    let app = TestApp::spawn_with(with_worker(&[])).await;
    for (status_id, state) in SHIPROCKET_STATUSES {
        let (id, awb) = shipped(&app, "CHAI-250G", "razorpay").await;
        let r = app
            .track(&awb, &id, status_id, at(&app, 5), Some(SHIPROCKET_TOKEN))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, serde_json::json!({"received": true}));
        let o = app.order(&id).await;
        assert_eq!(
            o["shipment"]["status"],
            state.as_str(),
            "status id {status_id}"
        );
        assert_eq!(o["shipment"]["carrierStatus"]["id"], status_id);
        assert_eq!(o["shipment"]["courier"], "Delhivery Surface");
        assert_eq!(o["shipment"]["events"][0]["statusId"], status_id);
        assert_eq!(
            o["shipment"]["events"][0]["location"],
            "Bengaluru Hub (Karnataka)"
        );
        assert_eq!(
            count(&o, &format!("shipment_{}", state.as_str())),
            1,
            "status id {status_id}: {:?}",
            kinds(&o)
        );
        let (status, fulfilment) = match state {
            ShipmentState::Delivered => ("delivered", "delivered"),
            ShipmentState::Returned => ("fulfilled", "returned"),
            ShipmentState::Cancelled => ("fulfilled", "cancelled"),
            _ => ("fulfilled", "fulfilled"),
        };
        assert_eq!(o["status"], status, "status id {status_id}");
        assert_eq!(o["fulfilmentStatus"], fulfilment, "status id {status_id}");
    }
    // An id this service does not map is shown as sent and moves nothing.
    let (id, awb) = shipped(&app, "CHAI-250G", "razorpay").await;
    let created = app.order(&id).await["shipment"]["status"].clone();
    let r = app
        .track(&awb, &id, 99, at(&app, 5), Some(SHIPROCKET_TOKEN))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let o = app.order(&id).await;
    assert_eq!(o["shipment"]["events"][0]["status"], "unmapped");
    assert_eq!(o["shipment"]["carrierStatus"]["id"], 99);
    assert_eq!(
        o["shipment"]["status"], created,
        "as the carrier answered at creation"
    );
    // The problems reached the operators, each once.
    for (kind, n) in [
        ("ops.shipment_undelivered", 1),
        ("ops.shipment_lost", 1),
        ("ops.shipment_damaged", 1),
        ("ops.shipment_returning", 7),
        ("ops.shipment_returned", 1),
        ("ops.shipment_cancelled", 2),
    ] {
        let alerts = app.alerts(kind).await;
        assert_eq!(alerts.len(), n, "{kind}: {alerts:?}");
        assert_eq!(alerts[0]["category"], "delivery");
    }
    assert_eq!(app.alerts("ops.shipment_lost").await[0]["severity"], "high");
    assert_eq!(app.alerts("order.delivered").await.len(), 1);
    assert_eq!(app.alerts("order.returned").await.len(), 1);
}

/// Picked up, in transit, out for delivery, a failed attempt, out again, delivered.
const JOURNEY: [(u32, i64); 6] = [(42, 10), (18, 20), (17, 30), (21, 40), (17, 50), (7, 60)];

#[tokio::test]
async fn out_of_order_and_repeated_deliveries_end_where_the_ordered_ones_do() {
    let app = TestApp::spawn_with(with_worker(&[])).await;
    let (a, awb_a) = shipped(&app, "CHAI-250G", "stripe").await;
    let (b, awb_b) = shipped(&app, "CHAI-250G", "stripe").await;
    for (id, minutes) in JOURNEY {
        let r = app
            .track(&awb_a, &a, id, at(&app, minutes), Some(SHIPROCKET_TOKEN))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // The same updates to the other order, backwards and each twice.
    for (id, minutes) in JOURNEY.iter().rev().chain(JOURNEY.iter()) {
        let r = app
            .track(&awb_b, &b, *id, at(&app, *minutes), Some(SHIPROCKET_TOKEN))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let oa = app
        .order_until(&a, |o| count(o, "customer_notified") == 2)
        .await;
    let ob = app
        .order_until(&b, |o| count(o, "customer_notified") == 1)
        .await;
    for o in [&oa, &ob] {
        assert_eq!(o["status"], "delivered");
        assert_eq!(o["fulfilmentStatus"], "delivered");
        assert_eq!(o["shipment"]["status"], "delivered");
        assert_eq!(o["shipment"]["events"].as_array().unwrap().len(), 6);
        assert_eq!(count(o, "shipment_delivered"), 1);
    }
    assert_eq!(oa["shipment"]["events"], ob["shipment"]["events"]);
    // In order, the customer was told it is out for delivery (once, though it went out twice)
    // and that it was delivered; backwards, delivered came first and only that was sent.
    let told = |o: &Value| -> Vec<String> {
        o["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "customer_notified")
            .map(|e| e["meta"]["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(told(&oa), vec!["out_for_delivery", "delivered"]);
    assert_eq!(told(&ob), vec!["delivered"]);
    // Nothing more arrives however long one waits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(told(&app.order(&a).await).len(), 2);
    assert_eq!(told(&app.order(&b).await).len(), 1);
    assert_eq!(app.alerts("order.delivered").await.len(), 2);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_changes_nothing_and_the_previous_one_still_works() {
    let app = TestApp::spawn_with(with_worker(&[(
        "SHIPROCKET_WEBHOOK_TOKEN",
        "new-token-2026,old-token-2025",
    )]))
    .await;
    let (id, awb) = shipped(&app, "MUG-BRASS", "razorpay").await;
    let before = app.order(&id).await;
    for token in [
        None,
        Some("wrong"),
        Some(""),
        Some(SHIPROCKET_TOKEN),
        Some("new-token-20"),
    ] {
        let r = app.track(&awb, &id, 7, at(&app, 5), token).await;
        assert_eq!(r.status, 401, "{token:?}: {}", r.text);
        assert_eq!(r.error_code(), "unauthorized");
    }
    assert_eq!(app.order(&id).await, before);
    assert_eq!(
        app.track(&awb, &id, 42, at(&app, 5), Some("old-token-2025"))
            .await
            .status,
        200,
        "the previous token, during a rotation"
    );
    let r = app
        .track(&awb, &id, 17, at(&app, 6), Some("new-token-2026"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.order(&id).await["shipment"]["status"],
        "out_for_delivery"
    );
}

#[tokio::test]
async fn an_unreadable_delivery_is_400_and_the_alias_route_is_the_same_webhook() {
    let app = TestApp::spawn_with(with_worker(&[])).await;
    let (id, awb) = shipped(&app, "MUG-BRASS", "stripe").await;
    let post = |path: &'static str, body: String| {
        app.http
            .post(app.url(path))
            .header("content-type", "application/json")
            .header("x-api-key", SHIPROCKET_TOKEN)
            .body(body)
    };
    let before = app.order(&id).await;
    for body in [
        "not json".to_owned(),
        serde_json::json!({"awb": awb, "shipment_status_id": 7}).to_string(),
        serde_json::json!({"awb": "x y", "shipment_status_id": 7, "current_timestamp": "03 12 2026 10:00:00"}).to_string(),
    ] {
        let r = app.send(post("/webhooks/shiprocket", body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.error_code(), "invalid_tracking_update");
    }
    assert_eq!(app.order(&id).await, before);
    let body =
        oms_core::tracking::simulate::shiprocket_body(&awb, &id, 7, "DELIVERED", at(&app, 5));
    let r = app.send(post("/webhooks/courier-tracking", body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.order(&id).await["status"], "delivered");
}

#[tokio::test]
async fn a_parcel_back_at_the_seller_gives_its_stock_back_once_and_is_held_for_a_person() {
    let app = TestApp::spawn_with(with_worker(&[])).await;
    let (id, awb) = shipped(&app, "SAREE-RED", "razorpay").await;
    let stock = app.available("SAREE-RED").await;
    for (status, minutes) in [(21, 10), (9, 20), (10, 30), (10, 30), (10, 40), (42, 5)] {
        let r = app
            .track(&awb, &id, status, at(&app, minutes), Some(SHIPROCKET_TOKEN))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(app.available("SAREE-RED").await, stock + 1, "once");
    let o = app.order(&id).await;
    assert_eq!(o["fulfilmentStatus"], "returned");
    assert_eq!(o["shipment"]["status"], "returned");
    assert_eq!(
        o["requiresReview"], true,
        "RTO_REFUND_POLICY=review, the default"
    );
    assert_eq!(o["reviewReason"], "returned_to_origin");
    assert_eq!(o["paymentStatus"], "paid", "nothing refunded by itself");
    assert_eq!(count(&o, "shipment_returned"), 1);
    assert_eq!(o["shipment"]["events"].as_array().unwrap().len(), 5);
    let alerts = app.alerts("ops.shipment_returned").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["requiresReview"], true);
    assert_eq!(app.alerts("order.returned").await.len(), 1);
}

#[tokio::test]
async fn under_the_refund_policy_a_returned_parcel_is_refunded_in_full_once() {
    let app = TestApp::spawn_with(with_worker(&[("RTO_REFUND_POLICY", "refund")])).await;
    let (id, awb) = shipped(&app, "MUG-BRASS", "stripe").await;
    let stock = app.available("MUG-BRASS").await;
    for minutes in [10, 10, 20] {
        let r = app
            .track(&awb, &id, 10, at(&app, minutes), Some(SHIPROCKET_TOKEN))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let o = app
        .order_until(&id, |o| o["refunds"][0]["status"] == "succeeded")
        .await;
    assert_eq!(o["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(o["refunds"][0]["requestedBy"], "rto");
    assert_eq!(o["paymentStatus"], "refunded");
    assert_eq!(o["requiresReview"], false);
    assert_eq!(app.available("MUG-BRASS").await, stock + 1);
    assert_eq!(app.standin("stripe").inner.refund_calls().len(), 1);
}

#[tokio::test]
async fn updates_for_an_awb_no_order_has_are_answered_and_alerted_once() {
    let app = TestApp::spawn_with(with_worker(&[])).await;
    for (status, minutes) in [(42, 1), (18, 2), (42, 1)] {
        let r = app
            .track(
                "UNKNOWN123",
                "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0",
                status,
                at(&app, minutes),
                Some(SHIPROCKET_TOKEN),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let alerts = app.alerts("ops.unmatched_tracking").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["awb"], "UNKNOWN123");
    assert_eq!(alerts[0]["category"], "delivery");
    // An order's own id with another order's AWB finds nothing either.
    let (id, _) = shipped(&app, "MUG-BRASS", "razorpay").await;
    let before = app.order(&id).await;
    let r = app
        .track("OTHERAWB1", &id, 7, at(&app, 3), Some(SHIPROCKET_TOKEN))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.order(&id).await, before);
    assert_eq!(app.alerts("ops.unmatched_tracking").await.len(), 2);
}
