//! Payment webhooks over HTTP: signatures, dedupe, concurrency, every documented payload shape.

use oms_core::webhook::simulate::*;
use oms_e2e::{RAZORPAY_SECRET, STRIPE_SECRET, TestApp, inr};

fn timeline(order: &serde_json::Value, kind: &str) -> usize {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .count()
}

#[tokio::test]
async fn a_signed_checkout_session_pays_the_order_once_and_queues_one_job() {
    let app = TestApp::spawn().await;
    let (id, session, _, amount) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    let now = app.clock_now().unix_seconds();
    let body = stripe_session_paid(
        "evt_1",
        "checkout.session.completed",
        &session,
        "pi_1",
        Some(&id),
        inr(amount),
        now,
    );

    let r = app.stripe_event(&body, STRIPE_SECRET).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, serde_json::json!({"received": true}));
    let order = app.order(&id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment"]["providerPaymentId"], "pi_1");
    assert_eq!(timeline(&order, "payment_succeeded"), 1);
    assert_eq!(app.jobs_for(&id).await, 1);

    // The provider redelivers: still 200, nothing more happens.
    let again = app.stripe_event(&body, STRIPE_SECRET).await;
    assert_eq!(again.status, 200);
    assert_eq!(timeline(&app.order(&id).await, "payment_succeeded"), 1);
    assert_eq!(app.jobs_for(&id).await, 1);
    assert!(
        app.outbox_len().await == 0,
        "the job was sent, nothing is owed"
    );
}

#[tokio::test]
async fn bad_old_and_other_secret_signatures_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (id, session, _, amount) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    let now = app.clock_now().unix_seconds();
    let body = stripe_session_paid(
        "evt_bad",
        "checkout.session.completed",
        &session,
        "pi_1",
        Some(&id),
        inr(amount),
        now,
    );

    let post = |sig: Option<String>| {
        let mut req = app
            .http
            .post(app.url("/webhooks/stripe"))
            .body(body.clone());
        if let Some(s) = sig {
            req = req.header("stripe-signature", s);
        }
        app.send(req)
    };
    let secret = oms_core::Secret::new(STRIPE_SECRET);
    let cases = [
        None,
        Some("garbage".to_owned()),
        Some(stripe_signature(
            &oms_core::Secret::new("whsec_someone_else"),
            now,
            &body,
        )),
        Some(stripe_signature(&secret, now - 301, &body)),
        Some(stripe_signature(
            &secret,
            now,
            &body.replace("\"paid\"", "\"PAID\""),
        )),
        Some(format!("t={now}")),
    ];
    for sig in cases {
        let r = post(sig.clone()).await;
        assert_eq!(r.status, 400, "{sig:?}: {}", r.text);
        assert_eq!(r.error_code(), "invalid_signature");
    }
    let r = app
        .send(
            app.http
                .post(app.url("/webhooks/razorpay"))
                .header("x-razorpay-signature", "00ff")
                .body("{}"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "invalid_signature");

    let order = app.order(&id).await;
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(app.jobs_for(&id).await, 0);
    assert!(app.events().await.is_empty(), "nothing was even recorded");
}

#[tokio::test]
async fn eight_concurrent_deliveries_of_one_event_pay_once_with_one_job() {
    let app = TestApp::spawn().await;
    let (id, rzp_order, _, amount) = app.guest_order("CHAI-250G", 2, "razorpay").await;
    let body = razorpay_payment_event(
        "payment.captured",
        "pay_8x",
        &rzp_order,
        Some(&id),
        inr(amount),
    );
    let replies = futures_util::future::join_all(
        (0..8).map(|_| app.razorpay_event(&body, RAZORPAY_SECRET, "evt_rzp_8x")),
    )
    .await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let order = app.order(&id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(timeline(&order, "payment_succeeded"), 1);
    assert_eq!(app.jobs_for(&id).await, 1);
}

/// The payment webhook and the stale-order sweep racing on the same expired order, three times
/// over the three units of a scarce product. Whichever lands first, the money is kept — paid
/// directly, or cancelled and then reinstated with its stock taken again — and each order's
/// unit is taken exactly once.
#[tokio::test]
async fn a_payment_racing_the_sweep_on_an_expired_order_is_kept_with_its_stock_taken_once() {
    let app = TestApp::spawn().await;
    assert_eq!(app.available("SAREE-RED").await, 3);
    for round in 0..3u64 {
        let (id, rzp_order, _, amount) = app.guest_order("SAREE-RED", 1, "razorpay").await;
        app.clock.advance(std::time::Duration::from_secs(31 * 60));
        let body = razorpay_payment_event(
            "payment.captured",
            &format!("pay_race{round}"),
            &rzp_order,
            Some(&id),
            inr(amount),
        );
        let event_id = format!("evt_race{round}");
        let (hook, sweep) = tokio::join!(
            app.razorpay_event(&body, RAZORPAY_SECRET, &event_id),
            cleanup::run(&app.server.state, 100)
        );
        assert_eq!(hook.status, 200, "{}", hook.text);
        sweep.expect("the sweep runs");
        let order = app.order(&id).await;
        assert_eq!(order["status"], "paid", "round {round}: {order}");
        assert_eq!(order["requiresReview"], false, "round {round}: {order}");
        assert_eq!(timeline(&order, "payment_succeeded"), 1);
        // Cancelled by the sweep first? Then reinstated, once.
        assert_eq!(
            timeline(&order, "cancelled"),
            timeline(&order, "reinstated"),
            "round {round}: {order}"
        );
        assert_eq!(app.available("SAREE-RED").await, 2 - round);
    }
}

#[tokio::test]
async fn order_paid_and_payment_captured_for_one_payment_count_once() {
    let app = TestApp::spawn().await;
    let (id, rzp_order, _, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let captured = razorpay_payment_event(
        "payment.captured",
        "pay_1",
        &rzp_order,
        Some(&id),
        inr(amount),
    );
    let paid = razorpay_order_paid("pay_1", &rzp_order, Some(&id), inr(amount));
    let (a, b) = tokio::join!(
        app.razorpay_event(&captured, RAZORPAY_SECRET, "evt_a"),
        app.razorpay_event(&paid, RAZORPAY_SECRET, "evt_b")
    );
    assert_eq!((a.status, b.status), (200, 200));
    let order = app.order(&id).await;
    assert_eq!(timeline(&order, "payment_succeeded"), 1);
    assert_eq!(order["requiresReview"], false);
    assert_eq!(app.jobs_for(&id).await, 1);
}

#[tokio::test]
async fn every_documented_stripe_shape_reaches_its_order() {
    let app = TestApp::spawn().await;
    let now = app.clock_now().unix_seconds();

    // Checkout Session linked by client_reference_id only (no metadata).
    let (a, session_a, _, amount_a) = app.guest_order("CHAI-250G", 1, "stripe").await;
    let body = stripe_session_paid(
        "evt_a",
        "checkout.session.completed",
        &session_a,
        "pi_a",
        Some(&a),
        inr(amount_a),
        now,
    )
    .replace(
        &format!(r#""metadata":{{"orderId":"{a}"}}"#),
        r#""metadata":{}"#,
    );
    assert!(!body.contains("\"orderId\""));
    assert_eq!(app.stripe_event(&body, STRIPE_SECRET).await.status, 200);
    assert_eq!(app.order(&a).await["status"], "paid");

    // Checkout Session with nothing of ours but its own id: found through the session reference.
    let (b, session_b, _, amount_b) = app.guest_order("CHAI-250G", 1, "stripe").await;
    let body = stripe_session_paid(
        "evt_b",
        "checkout.session.async_payment_succeeded",
        &session_b,
        "pi_b",
        None,
        inr(amount_b),
        now,
    );
    assert_eq!(app.stripe_event(&body, STRIPE_SECRET).await.status, 200);
    assert_eq!(app.order(&b).await["status"], "paid");

    // PaymentIntent with metadata, after a failed attempt: the failure then the success.
    let (c, _, _, amount_c) = app.guest_order("CHAI-250G", 1, "stripe").await;
    let failed = stripe_intent_failed("evt_c1", "pi_c", Some(&c), inr(amount_c), now);
    assert_eq!(app.stripe_event(&failed, STRIPE_SECRET).await.status, 200);
    assert_eq!(app.order(&c).await["status"], "payment_failed");
    let ok = stripe_intent_succeeded("evt_c2", "pi_c", Some(&c), inr(amount_c), now);
    assert_eq!(app.stripe_event(&ok, STRIPE_SECRET).await.status, 200);
    assert_eq!(app.order(&c).await["status"], "paid");

    // charge.refunded carries no metadata: found through the payment intent recorded at payment.
    let refund = stripe_charge_refunded("evt_c3", "ch_c", "pi_c", inr(amount_c), 10_000, None, now);
    assert_eq!(app.stripe_event(&refund, STRIPE_SECRET).await.status, 200);
    let order = app.order(&c).await;
    assert_eq!(order["status"], "partially_refunded");
    assert_eq!(order["refundedAmount"], 10_000);
    let full = stripe_charge_refunded("evt_c4", "ch_c", "pi_c", inr(amount_c), amount_c, None, now);
    assert_eq!(app.stripe_event(&full, STRIPE_SECRET).await.status, 200);
    let order = app.order(&c).await;
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refundedAmount"], amount_c);
}

#[tokio::test]
async fn every_documented_razorpay_shape_reaches_its_order() {
    let app = TestApp::spawn().await;
    // Empty notes arrive as [] — the order is found by its Razorpay order id.
    let (a, rzp_a, _, amount_a) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let failed = razorpay_payment_event("payment.failed", "pay_a1", &rzp_a, None, inr(amount_a));
    assert!(failed.contains(r#""notes":[]"#));
    assert_eq!(
        app.razorpay_event(&failed, RAZORPAY_SECRET, "e_a1")
            .await
            .status,
        200
    );
    assert_eq!(app.order(&a).await["status"], "payment_failed");
    // A UPI retry succeeds after the failure: the documented, normal sequence.
    let captured =
        razorpay_payment_event("payment.captured", "pay_a2", &rzp_a, None, inr(amount_a));
    assert_eq!(
        app.razorpay_event(&captured, RAZORPAY_SECRET, "e_a2")
            .await
            .status,
        200
    );
    assert_eq!(app.order(&a).await["status"], "paid");
    // A refund names only the payment: found through the payment id recorded at payment.
    let refund =
        razorpay_refund_processed("rfnd_a", "pay_a2", &rzp_a, None, inr(amount_a), amount_a);
    assert_eq!(
        app.razorpay_event(&refund, RAZORPAY_SECRET, "e_a3")
            .await
            .status,
        200
    );
    assert_eq!(app.order(&a).await["status"], "refunded");

    // order.paid carries the order and the payment entity.
    let (b, rzp_b, _, amount_b) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let paid = razorpay_order_paid("pay_b", &rzp_b, Some(&b), inr(amount_b));
    assert_eq!(
        app.razorpay_event(&paid, RAZORPAY_SECRET, "e_b")
            .await
            .status,
        200
    );
    assert_eq!(app.order(&b).await["status"], "paid");

    // payment.authorized is recorded and changes nothing.
    let (c, rzp_c, _, amount_c) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let auth = razorpay_payment_event(
        "payment.authorized",
        "pay_c",
        &rzp_c,
        Some(&c),
        inr(amount_c),
    );
    assert_eq!(
        app.razorpay_event(&auth, RAZORPAY_SECRET, "e_c")
            .await
            .status,
        200
    );
    assert_eq!(app.order(&c).await["status"], "pending_payment");
}

#[tokio::test]
async fn a_mismatched_amount_pays_but_holds_the_order_until_an_admin_clears_it() {
    let app = TestApp::spawn().await;
    let (id, rzp, token, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let short = razorpay_payment_event(
        "payment.captured",
        "pay_short",
        &rzp,
        Some(&id),
        inr(amount - 100),
    );
    assert_eq!(
        app.razorpay_event(&short, RAZORPAY_SECRET, "e_short")
            .await
            .status,
        200
    );
    let order = app.order(&id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["requiresReview"], true);
    assert_eq!(order["reviewReason"], "amount_mismatch");
    assert_eq!(
        app.jobs_for(&id).await,
        0,
        "no fulfilment while under review"
    );

    let clear = |auth: Option<String>| {
        let mut req = app
            .http
            .post(app.url(&format!("/admin/orders/{id}/clear-review")));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        app.send(req)
    };
    let r = clear(Some(app.token("mallory"))).await;
    assert_eq!((r.status, r.error_code()), (403, "forbidden"));
    let r = clear(None).await;
    assert_eq!((r.status, r.error_code()), (401, "unauthorized"));
    let _ = token;
    assert_eq!(app.jobs_for(&id).await, 0);

    let r = clear(Some(app.admin_token("ops-1"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["requiresReview"], false);
    assert_eq!(timeline(&r.body, "review_cleared"), 1);
    assert_eq!(app.jobs_for(&id).await, 1);
    // Clearing again changes nothing and queues nothing more.
    assert_eq!(clear(Some(app.admin_token("ops-1"))).await.status, 200);
    assert_eq!(app.jobs_for(&id).await, 1);
    let missing = app
        .send(
            app.http
                .post(app.url("/admin/orders/ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0/clear-review"))
                .bearer_auth(app.admin_token("ops-1")),
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn an_event_for_no_known_order_is_acknowledged_recorded_and_alerted() {
    let app = TestApp::spawn().await;
    let body = razorpay_payment_event(
        "payment.captured",
        "pay_ghost",
        "order_ghost",
        None,
        inr(100),
    );
    let r = app.razorpay_event(&body, RAZORPAY_SECRET, "e_ghost").await;
    assert_eq!(r.status, 200);
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "unmatched");
    assert!(
        !events[0].1.is_empty(),
        "the payload is kept for investigation"
    );
    let alerts = app.alerts("ops.unmatched_payment_event").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["category"], "payment");
    // A retry of the same event does not alert twice.
    app.razorpay_event(&body, RAZORPAY_SECRET, "e_ghost").await;
    assert_eq!(app.alerts("ops.unmatched_payment_event").await.len(), 1);
}

#[tokio::test]
async fn unknown_types_and_unreadable_bodies_are_acknowledged_and_recorded() {
    let app = TestApp::spawn().await;
    let vector = include_str!(
        "../../crates/core/tests/fixtures/vectors/stripe_invoiceitem_created_event.json"
    );
    assert_eq!(app.stripe_event(vector, STRIPE_SECRET).await.status, 200);
    assert_eq!(
        app.stripe_event("not json at all", STRIPE_SECRET)
            .await
            .status,
        200
    );
    let outcomes: Vec<String> = app.events().await.into_iter().map(|e| e.0).collect();
    assert_eq!(outcomes, vec!["ignored", "ignored"]);
}

#[tokio::test]
async fn a_queue_outage_is_a_5xx_and_the_providers_retry_sends_the_job() {
    let app = TestApp::spawn().await;
    let (id, rzp, _, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let body = razorpay_payment_event("payment.captured", "pay_q", &rzp, Some(&id), inr(amount));
    app.fail_next_sends(1);
    let r = app.razorpay_event(&body, RAZORPAY_SECRET, "e_q").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error_code(), "service_unavailable");
    assert_eq!(
        app.order(&id).await["status"],
        "paid",
        "the money is recorded"
    );
    assert_eq!(app.jobs_for(&id).await, 0);
    assert_eq!(app.outbox_len().await, 1, "the job is owed");

    let retry = app.razorpay_event(&body, RAZORPAY_SECRET, "e_q").await;
    assert_eq!(retry.status, 200);
    assert_eq!(app.jobs_for(&id).await, 1);
    assert!(app.outbox_len().await == 0);
    assert_eq!(timeline(&app.order(&id).await, "payment_succeeded"), 1);
}

#[tokio::test]
async fn a_rotated_secret_still_accepts_retries_signed_with_the_old_one() {
    let app = TestApp::spawn_with(oms_e2e::Options {
        env: vec![(
            "RAZORPAY_WEBHOOK_SECRET",
            "rzp_new_secret,rzp_old_secret".into(),
        )],
        ..Default::default()
    })
    .await;
    let (id, rzp, _, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let body = razorpay_payment_event("payment.captured", "pay_r", &rzp, Some(&id), inr(amount));
    assert_eq!(
        app.razorpay_event(&body, "rzp_old_secret", "e_r")
            .await
            .status,
        200
    );
    assert_eq!(app.order(&id).await["status"], "paid");
    assert_eq!(
        app.razorpay_event(&body, RAZORPAY_SECRET, "e_r2")
            .await
            .status,
        400,
        "the dev default is no longer accepted"
    );
}

#[tokio::test]
async fn the_razorpay_checkout_confirmation_is_verified_and_recorded_but_never_pays() {
    let app = TestApp::spawn().await;
    let (id, rzp, token, _) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let key = oms_core::Secret::new(oms_e2e::RAZORPAY_KEY_SECRET);
    let sig = oms_core::webhook::signature::hmac_hex(&key, format!("{rzp}|pay_cv").as_bytes());
    let body = |sig: &str, order: &str| serde_json::json!({"razorpayOrderId": order, "razorpayPaymentId": "pay_cv", "razorpaySignature": sig});
    let verify = |b: serde_json::Value, tok: Option<&str>| {
        let mut req = app
            .http
            .post(app.url(&format!("/orders/{id}/razorpay/verify")))
            .json(&b);
        if let Some(t) = tok {
            req = req.header("X-Order-Token", t);
        }
        app.send(req)
    };
    let r = verify(body(&sig, &rzp), None).await;
    assert_eq!(r.status, 404, "someone else's order stays invisible");
    let r = verify(body(&"0".repeat(64), &rzp), Some(&token)).await;
    assert_eq!((r.status, r.error_code()), (400, "invalid_signature"));
    let r = verify(body(&sig, "order_other"), Some(&token)).await;
    assert_eq!((r.status, r.error_code()), (400, "validation_failed"));
    let r = verify(body(&sig, &rzp), Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["verified"], true);
    assert_eq!(r.body["status"], "pending_payment");
    assert_eq!(
        app.order(&id).await["status"],
        "pending_payment",
        "the webhook stays the source of truth"
    );

    // The webhook that follows names only the payment and Razorpay order: it finds the order.
    let captured = razorpay_payment_event(
        "payment.captured",
        "pay_cv",
        "order_unrelated",
        None,
        inr(34_900),
    );
    assert_eq!(
        app.razorpay_event(&captured, RAZORPAY_SECRET, "e_cv")
            .await
            .status,
        200
    );
    assert_eq!(app.order(&id).await["status"], "paid");
}
