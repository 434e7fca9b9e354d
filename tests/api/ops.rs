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

async fn admin_get(app: &TestApp, path: &str) -> oms_e2e::Reply {
    app.send(
        app.http
            .get(app.url(path))
            .bearer_auth(app.admin_token("ops-1")),
    )
    .await
}

fn ids(reply: &oms_e2e::Reply, list: &str, field: &str) -> Vec<String> {
    reply.body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.text))
        .iter()
        .map(|o| o[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_admin_searches_the_review_queue_by_status_and_time_and_pages_through_it() {
    let app = TestApp::spawn().await;
    let start = app.clock_now();
    // Three orders a second apart: the first paid short (held for review), the second paid,
    // the third left unpaid.
    let mut made = Vec::new();
    for (i, pay) in [Some(-100), Some(0), None].into_iter().enumerate() {
        let (id, rzp, _, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
        if let Some(short) = pay {
            let body = razorpay_payment_event(
                "payment.captured",
                &format!("pay_{i}"),
                &rzp,
                Some(&id),
                inr(amount + short),
            );
            let r = app
                .razorpay_event(&body, RAZORPAY_SECRET, &format!("evt_{i}"))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        made.push(id);
        app.clock.advance(std::time::Duration::from_secs(1));
    }
    let (held, paid, unpaid) = (&made[0], &made[1], &made[2]);

    let review = admin_get(&app, "/admin/orders?requiresReview=true").await;
    assert_eq!(review.status, 200, "{}", review.text);
    assert_eq!(ids(&review, "orders", "orderId"), [held.as_str()]);
    assert_eq!(review.body["orders"][0]["reviewReason"], "amount_mismatch");
    assert!(review.body["nextCursor"].is_null());

    let all_paid = admin_get(&app, "/admin/orders?status=paid").await;
    assert_eq!(
        ids(&all_paid, "orders", "orderId"),
        [paid.clone(), held.clone()],
        "newest first, held or not"
    );
    let paid_clear = admin_get(&app, "/admin/orders?status=paid&requiresReview=false").await;
    assert_eq!(ids(&paid_clear, "orders", "orderId"), [paid.as_str()]);
    let pending = admin_get(&app, "/admin/orders?status=pending_payment").await;
    assert_eq!(ids(&pending, "orders", "orderId"), [unpaid.as_str()]);

    // Everything, one order a page, newest first; the window keeps the first second only.
    let mut seen = Vec::new();
    let mut path = "/admin/orders?limit=1".to_owned();
    for _ in 0..10 {
        let page = admin_get(&app, &path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(ids(&page, "orders", "orderId"));
        match page.body["nextCursor"].as_str() {
            Some(c) => path = format!("/admin/orders?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [unpaid.clone(), paid.clone(), held.clone()]);
    let first_second = admin_get(
        &app,
        &format!(
            "/admin/orders?from={}&to={}",
            start,
            start.plus(std::time::Duration::from_secs(1))
        ),
    )
    .await;
    assert_eq!(ids(&first_second, "orders", "orderId"), [held.as_str()]);

    // The events list: both captures applied, none unmatched yet.
    let applied = admin_get(&app, "/admin/events?outcome=applied").await;
    assert_eq!(applied.status, 200, "{}", applied.text);
    assert_eq!(ids(&applied, "events", "eventId"), ["evt_1", "evt_0"]);
    assert_eq!(applied.body["events"][0]["orderId"], paid.as_str());
    let unmatched = admin_get(&app, "/admin/events?outcome=unmatched").await;
    assert!(ids(&unmatched, "events", "eventId").is_empty());
}

#[tokio::test]
async fn every_unmatched_event_is_listed_and_searches_refuse_what_they_cannot_answer() {
    let app = TestApp::spawn().await;
    let stray = razorpay_payment_event(
        "payment.captured",
        "pay_stray",
        "order_NOSUCHORDER0001",
        None,
        inr(1_000),
    );
    let r = app
        .razorpay_event(&stray, RAZORPAY_SECRET, "evt_stray")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let unmatched = admin_get(&app, "/admin/events?outcome=unmatched").await;
    assert_eq!(unmatched.status, 200, "{}", unmatched.text);
    assert_eq!(ids(&unmatched, "events", "eventId"), ["evt_stray"]);
    assert!(unmatched.body["events"][0].get("orderId").is_none());
    assert!(unmatched.body["events"][0].get("payload").is_none());
    let one = admin_get(&app, "/admin/events/razorpay/evt_stray").await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["outcome"], "unmatched");
    assert_eq!(
        one.body["payload"]["payload"]["payment"]["entity"]["id"], "pay_stray",
        "the raw body as received: {}",
        one.text
    );
    assert_eq!(
        admin_get(&app, "/admin/events/razorpay/evt_none")
            .await
            .status,
        404
    );
    assert_eq!(
        admin_get(&app, "/admin/events/paypal/evt_stray")
            .await
            .status,
        404
    );

    for bad in [
        "/admin/orders?status=shipped",
        "/admin/orders?requiresReview=yes",
        "/admin/orders?requiresreview=true",
        "/admin/orders?from=yesterday",
        "/admin/orders?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
        "/admin/orders?status=paid&status=cancelled",
        "/admin/orders?limit=0",
        "/admin/orders?cursor=not-a-cursor",
        "/admin/events?outcome=lost",
        "/admin/events?status=paid",
    ] {
        let r = admin_get(&app, bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.error_code(), "validation_failed", "{bad}");
    }
    // A cursor from one search is refused by another.
    let (_, _, _, _) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let _ = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let first = admin_get(&app, "/admin/orders?status=pending_payment&limit=1").await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let other = admin_get(&app, &format!("/admin/orders?status=paid&cursor={cursor}")).await;
    assert_eq!(other.status, 400, "{}", other.text);

    for path in ["/admin/orders", "/admin/events"] {
        let shopper = app
            .send(
                app.http
                    .get(app.url(path))
                    .bearer_auth(app.token("shopper-1")),
            )
            .await;
        assert_eq!(shopper.status, 403, "{path}");
        assert_eq!(app.get(path).await.status, 401, "{path}");
    }
}

#[tokio::test]
async fn an_admin_finds_an_order_by_any_of_its_provider_ids() {
    let app = TestApp::spawn().await;
    let (stripe_id, session, _, _) = app.guest_order("CHAI-250G", 1, "stripe").await;
    let (rzp_id, payment, _) = app.paid_order("CHAI-250G", 1, "razorpay").await;
    let rzp_order = app.order(&rzp_id).await["payment"]["providerOrderId"]
        .as_str()
        .unwrap()
        .to_owned();

    for (path, want) in [
        (
            format!("/admin/orders?paymentRef={session}"),
            vec![stripe_id.clone()],
        ),
        (
            format!("/admin/orders?paymentRef={session}&provider=stripe"),
            vec![stripe_id.clone()],
        ),
        (
            format!("/admin/orders?paymentRef={session}&provider=razorpay"),
            vec![],
        ),
        (
            format!("/admin/orders?paymentRef={payment}"),
            vec![rzp_id.clone()],
        ),
        (
            format!("/admin/orders?paymentRef={rzp_order}&provider=razorpay"),
            vec![rzp_id.clone()],
        ),
        // The other filters still apply to what the id finds.
        (
            format!("/admin/orders?paymentRef={payment}&status=paid"),
            vec![rzp_id.clone()],
        ),
        (
            format!("/admin/orders?paymentRef={payment}&status=cancelled"),
            vec![],
        ),
        (
            "/admin/orders?paymentRef=pay_NOSUCHPAYMENT1".to_owned(),
            vec![],
        ),
    ] {
        let r = admin_get(&app, &path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(ids(&r, "orders", "orderId"), want, "{path}");
        assert!(r.body["nextCursor"].is_null(), "{path}");
    }

    for bad in [
        "/admin/orders?provider=stripe",
        "/admin/orders?paymentRef=pay_1&provider=paypal",
        "/admin/orders?paymentRef=",
        "/admin/orders?paymentRef=PAYREF%23stripe%23pi_1",
        "/admin/orders?paymentRef=pay_1&cursor=abc",
    ] {
        let r = admin_get(&app, bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.error_code(), "validation_failed", "{bad}");
    }
    let long = format!("/admin/orders?paymentRef={}", "a".repeat(256));
    assert_eq!(admin_get(&app, &long).await.status, 400);
}
