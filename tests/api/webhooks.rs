//! Payment webhooks over HTTP: signatures, dedupe, concurrency, every documented payload shape.

use oms_core::ports::Trace;
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
    assert_eq!(
        app.outbox_len().await,
        1,
        "the entry stays, leased, until a worker receives the job (it clears it)"
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
            cleanup::run(&app.server.state.services, 100)
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
    assert_eq!(
        app.outbox_len().await,
        1,
        "the worker, not the sender, clears the entry"
    );
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

/// Found by a hostile run: the buyer paid twice, the duplicate was refunded, and the order
/// became `refunded` although the payment it kept was untouched (both providers).
#[tokio::test]
async fn a_refund_of_a_duplicate_payment_is_shown_apart_and_the_kept_payment_stays_paid() {
    let app = TestApp::spawn().await;
    // Razorpay: pay_1 kept, pay_2 a duplicate, refund.processed names pay_2.
    let (a, rzp_a, _, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    for (pay, event) in [("pay_1", "e_d1"), ("pay_2", "e_d2")] {
        let body = razorpay_payment_event("payment.captured", pay, &rzp_a, Some(&a), inr(amount));
        assert_eq!(
            app.razorpay_event(&body, RAZORPAY_SECRET, event)
                .await
                .status,
            200
        );
    }
    assert_eq!(app.order(&a).await["reviewReason"], "duplicate_payment");
    let refund =
        razorpay_refund_processed("rfnd_d2", "pay_2", &rzp_a, Some(&a), inr(amount), amount);
    assert_eq!(
        app.razorpay_event(&refund, RAZORPAY_SECRET, "e_d3")
            .await
            .status,
        200
    );
    let order = app.order(&a).await;
    assert_eq!(order["status"], "paid", "{order}");
    assert_eq!(order["refundedAmount"], 0);
    assert_eq!(order["refunds"], serde_json::json!([]));
    assert_eq!(order["otherPaymentRefunds"][0]["refundId"], "rfnd_d2");
    assert_eq!(order["otherPaymentRefunds"][0]["paymentId"], "pay_2");
    assert_eq!(order["otherPaymentRefunds"][0]["amount"], amount);
    assert_eq!(timeline(&order, "refund_other_payment"), 1);
    assert_eq!(
        order["requiresReview"], true,
        "a person still decides on the duplicate"
    );

    // Stripe: pi_1 paid the session, pi_2 paid again, charge.refunded for pi_2's charge.
    let (b, session, _, amount) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    let now = app.clock_now().unix_seconds();
    let paid = stripe_session_paid(
        "evt_s1",
        "checkout.session.completed",
        &session,
        "pi_1",
        Some(&b),
        inr(amount),
        now,
    );
    let again = stripe_intent_succeeded("evt_s2", "pi_2", Some(&b), inr(amount), now);
    let refund = stripe_charge_refunded("evt_s3", "ch_2", "pi_2", inr(amount), amount, None, now);
    for body in [&paid, &again, &refund] {
        let r = app.stripe_event(body, STRIPE_SECRET).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let order = app.order(&b).await;
    assert_eq!(order["status"], "paid", "{order}");
    assert_eq!(order["refundedAmount"], 0);
    assert_eq!(order["otherPaymentRefunds"][0]["paymentId"], "pi_2");
    assert_eq!(order["otherPaymentRefunds"][0]["chargeId"], "ch_2");
}

/// Found by a hostile run: Razorpay auto-refunded a failed attempt after the buyer's retry
/// succeeded; when that refund landed first, the retry's capture took it as its own and the
/// paid order was never fulfilled.
#[tokio::test]
async fn a_refunded_failed_attempt_landing_before_the_retry_leaves_the_retry_paid_and_fulfilled() {
    let app = TestApp::spawn().await;
    let (id, rzp, _, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let failed = razorpay_payment_event("payment.failed", "pay_0", &rzp, Some(&id), inr(amount));
    let refund = razorpay_refund_processed("rfnd_0", "pay_0", &rzp, Some(&id), inr(amount), amount);
    let retry = razorpay_payment_event("payment.captured", "pay_1", &rzp, Some(&id), inr(amount));
    for (body, event) in [(&failed, "e_f0"), (&refund, "e_f1"), (&retry, "e_f2")] {
        assert_eq!(
            app.razorpay_event(body, RAZORPAY_SECRET, event)
                .await
                .status,
            200
        );
    }
    let order = app.order(&id).await;
    assert_eq!(order["payment"]["providerPaymentId"], "pay_1");
    assert_eq!(order["refundedAmount"], 0, "{order}");
    assert_eq!(order["requiresReview"], false);
    assert!(
        ["paid", "fulfilled"].contains(&order["status"].as_str().unwrap()),
        "{order}"
    );
    assert_eq!(order["otherPaymentRefunds"][0]["refundId"], "rfnd_0");
    assert_eq!(app.jobs_for(&id).await, 1, "its fulfilment is queued");
}

/// Found by a hostile run: a charge reported first with only its cumulative `amount_refunded`
/// and later with its refund list was counted twice (400 refunded of a 300 refund history).
#[tokio::test]
async fn both_charge_refunded_shapes_count_each_refunded_unit_once_in_either_order() {
    let app = TestApp::spawn().await;
    for (round, first_cumulative) in [(0, true), (1, false)] {
        let (id, session, _, amount) = app.guest_order("MUG-BRASS", 1, "stripe").await;
        let now = app.clock_now().unix_seconds();
        let pi = format!("pi_c{round}");
        let ch = format!("ch_c{round}");
        let paid = stripe_session_paid(
            &format!("evt_c{round}"),
            "checkout.session.completed",
            &session,
            &pi,
            Some(&id),
            inr(amount),
            now,
        );
        assert_eq!(app.stripe_event(&paid, STRIPE_SECRET).await.status, 200);
        let cumulative = stripe_charge_refunded(
            &format!("evt_c{round}a"),
            &ch,
            &pi,
            inr(amount),
            100,
            None,
            now,
        );
        let listed = stripe_charge_refunded(
            &format!("evt_c{round}b"),
            &ch,
            &pi,
            inr(amount),
            300,
            Some(&[("re_1", 100), ("re_2", 200)]),
            now,
        );
        let sequence = if first_cumulative {
            [&cumulative, &listed]
        } else {
            [&listed, &cumulative]
        };
        for body in sequence {
            assert_eq!(app.stripe_event(body, STRIPE_SECRET).await.status, 200);
        }
        let order = app.order(&id).await;
        assert_eq!(order["refundedAmount"], 300, "round {round}: {order}");
        assert_eq!(order["status"], "partially_refunded");
    }
}

/// Found by a hostile run: a signed capture whose amount could not be read was answered 200 and
/// ignored; the sweep then cancelled the order and gave its stock away while the provider held
/// the money. Now the order is held for a person, alerted, and kept out of the sweep.
#[tokio::test]
async fn a_signed_capture_with_an_unreadable_amount_holds_the_order_alerts_and_survives_the_sweep()
{
    let app = TestApp::spawn().await;
    let before = app.available("SAREE-RED").await;
    let (id, rzp, _, amount) = app.guest_order("SAREE-RED", 1, "razorpay").await;
    let good = razorpay_payment_event("payment.captured", "pay_u", &rzp, Some(&id), inr(amount));
    let body = good.replace(
        &format!(r#""amount":{amount}"#),
        &format!(r#""amount":"{amount}""#),
    );
    assert_ne!(body, good);
    let r = app
        .razorpay_event(&body, RAZORPAY_SECRET, "e_unreadable")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let order = app.order(&id).await;
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["requiresReview"], true);
    assert_eq!(order["reviewReason"], "unreadable_payment_event");
    let alerts = app.alerts("ops.unreadable_payment_event").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["orderId"], id.as_str());
    assert_eq!(alerts[0]["eventId"], "e_unreadable");

    app.clock
        .advance(std::time::Duration::from_secs(24 * 60 * 60));
    cleanup::run(&app.server.state.services, 100)
        .await
        .expect("the sweep runs");
    let order = app.order(&id).await;
    assert_eq!(order["status"], "pending_payment", "{order}");
    assert_eq!(
        app.available("SAREE-RED").await,
        before - 1,
        "its unit stays reserved"
    );
    // A retry of the same delivery changes nothing and does not alert again.
    app.razorpay_event(&body, RAZORPAY_SECRET, "e_unreadable")
        .await;
    assert_eq!(app.alerts("ops.unreadable_payment_event").await.len(), 1);
}

#[tokio::test]
async fn a_paid_orders_job_and_events_carry_the_deliverys_request_id_and_event_id() {
    let app = TestApp::spawn().await;
    let (id, session, _, amount) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    let now = app.clock_now().unix_seconds();
    let body = stripe_session_paid(
        "evt_trace_1",
        "checkout.session.completed",
        &session,
        "pi_trace_1",
        Some(&id),
        inr(amount),
        now,
    );
    let r = app.stripe_event(&body, STRIPE_SECRET).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let request_id = r.header("x-request-id").expect("a request id").to_owned();
    let delivery = Trace::request(&request_id).with_event("evt_trace_1");

    let jobs: Vec<_> = app
        .jobs()
        .await
        .into_iter()
        .filter(|j| j.order_id.as_str() == id)
        .collect();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].trace, delivery, "the job names the delivery");
    let paid: Vec<_> = app
        .published("order.payment_succeeded")
        .await
        .into_iter()
        .filter(|m| m.body["orderId"] == id)
        .collect();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].trace, delivery, "so does the order event");
}

#[tokio::test]
async fn a_job_the_sweep_sends_carries_the_trace_of_the_delivery_that_owed_it() {
    let app = TestApp::spawn().await;
    let (id, rzp, _, amount) = app.guest_order("CHAI-250G", 1, "razorpay").await;
    let body = razorpay_payment_event("payment.captured", "pay_tq", &rzp, Some(&id), inr(amount));
    app.fail_next_sends(1);
    // The request id a caller sends, when well formed, is the one the request goes by.
    let r = app
        .send(
            app.http
                .post(app.url("/webhooks/razorpay"))
                .header("content-type", "application/json")
                .header(
                    "x-razorpay-signature",
                    razorpay_signature(&oms_core::Secret::new(RAZORPAY_SECRET), &body),
                )
                .header("x-razorpay-event-id", "e_tq")
                .header("x-request-id", "delivery-tq-1")
                .body(body.clone()),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("x-request-id"), Some("delivery-tq-1"));
    assert_eq!(app.jobs_for(&id).await, 0);

    app.clock.advance(std::time::Duration::from_secs(5 * 60));
    assert_eq!(app.sweep().await["reenqueued"], 1);
    let jobs = app.jobs().await;
    let job = jobs
        .iter()
        .find(|j| j.order_id.as_str() == id)
        .expect("the sweep sent the job");
    assert_eq!(
        job.trace,
        Trace::request("delivery-tq-1").with_event("e_tq")
    );
}
