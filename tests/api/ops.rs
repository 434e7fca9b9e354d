//! The ops console's event routes over HTTP: an order's recorded provider events, and replays.

use oms_core::webhook::simulate::*;
use oms_e2e::{RAZORPAY_SECRET, TestApp, inr};
use serde_json::Value;

async fn events(app: &TestApp, id: &str, token: &str) -> oms_e2e::Reply {
    app.send(
        app.http
            .get(app.url(&format!("/admin/orders/{id}/events")))
            .bearer_auth(token),
    )
    .await
}

async fn replay(app: &TestApp, provider: &str, event_id: &str) -> oms_e2e::Reply {
    app.send(
        app.http
            .post(app.url(&format!("/admin/events/{provider}/{event_id}/replay")))
            .bearer_auth(app.admin_token("ops-1")),
    )
    .await
}

fn count(order: &Value, kind: &str) -> usize {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .count()
}

#[tokio::test]
async fn an_admin_sees_an_orders_events_newest_first_with_their_outcome_and_source() {
    let app = TestApp::spawn().await;
    let (id, rzp_order, _, amount) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    let captured = razorpay_payment_event(
        "payment.captured",
        "pay_1",
        &rzp_order,
        Some(&id),
        inr(amount),
    );
    assert_eq!(
        app.razorpay_event(&captured, RAZORPAY_SECRET, "evt_cap")
            .await
            .status,
        200
    );
    app.clock.advance(std::time::Duration::from_secs(1));
    let paid = razorpay_order_paid("pay_1", &rzp_order, Some(&id), inr(amount));
    assert_eq!(
        app.razorpay_event(&paid, RAZORPAY_SECRET, "evt_paid")
            .await
            .status,
        200
    );

    let r = events(&app, &id, &app.admin_token("ops-1")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body["events"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", r.text);
    assert_eq!(list[0]["eventId"], "evt_paid", "newest first");
    assert_eq!(
        list[0]["outcome"], "no_change",
        "its sibling paid the order"
    );
    assert_eq!(list[1]["eventId"], "evt_cap");
    assert_eq!(list[1]["outcome"], "applied");
    assert_eq!(list[1]["type"], "payment.captured");
    assert_eq!(list[1]["source"], "webhook");
    assert!(
        list[1].get("payload").is_none(),
        "the raw body is not shown"
    );

    let shopper = events(&app, &id, &app.token("shopper-1")).await;
    assert_eq!(shopper.status, 403);
    let anonymous = app.get(&format!("/admin/orders/{id}/events")).await;
    assert_eq!(anonymous.status, 401);
    let unknown = events(
        &app,
        "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ9",
        &app.admin_token("ops-1"),
    )
    .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn a_replay_of_an_applied_event_changes_nothing_and_a_formerly_unmatched_one_applies() {
    let app = TestApp::spawn().await;
    let (id, rzp_order, _, amount) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    // A refund of a payment nobody knows yet: it names neither the order nor a known payment.
    let refund = razorpay_refund_processed("rfnd_1", "pay_1", "", None, inr(amount), 10_000);
    let r = app
        .razorpay_event(&refund, RAZORPAY_SECRET, "evt_refund")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.order(&id).await["refundedAmount"], 0, "unmatched");

    let captured = razorpay_payment_event(
        "payment.captured",
        "pay_1",
        &rzp_order,
        Some(&id),
        inr(amount),
    );
    assert_eq!(
        app.razorpay_event(&captured, RAZORPAY_SECRET, "evt_cap")
            .await
            .status,
        200
    );
    let before = app.order(&id).await;

    // The applied capture, replayed: nothing changes.
    let r = replay(&app, "razorpay", "evt_cap").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["outcome"], "no_change");
    assert_eq!(r.body["orderId"], id.as_str());
    assert_eq!(count(&app.order(&id).await, "payment_succeeded"), 1);
    assert_eq!(app.order(&id).await["timeline"], before["timeline"]);
    let again = replay(&app, "razorpay", "evt_cap").await;
    assert_eq!(again.body["outcome"], "duplicate");

    // The unmatched refund, replayed now that its payment is known: it applies, once.
    let r = replay(&app, "razorpay", "evt_refund").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["outcome"], "applied");
    let order = app.order(&id).await;
    assert_eq!(order["refundedAmount"], 10_000, "{order}");
    assert_eq!(
        replay(&app, "razorpay", "evt_refund").await.body["outcome"],
        "duplicate"
    );
    assert_eq!(app.order(&id).await["refundedAmount"], 10_000);

    let listed = events(&app, &id, &app.admin_token("ops-1")).await;
    let sources: Vec<&str> = listed.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    assert!(sources.contains(&"replay"), "{sources:?}");

    for (provider, event) in [("razorpay", "evt_nope"), ("paypal", "evt_cap")] {
        assert_eq!(replay(&app, provider, event).await.status, 404);
    }
}
