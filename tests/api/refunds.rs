//! Refunds started through the API (`POST /admin/orders/{orderId}/refunds`) and disputes, over
//! HTTP: the offline stand-ins answer refund calls as the providers do and then deliver the
//! provider's signed refund webhook, which settles the same ledger entry.

use oms_core::webhook::simulate::*;
use oms_e2e::{RAZORPAY_SECRET, STRIPE_SECRET, TestApp, inr};
use serde_json::{Value, json};

fn count(order: &Value, kind: &str) -> usize {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .count()
}

fn refund_status(order: &Value, refund_id: &str) -> String {
    order["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["refundId"] == refund_id)
        .and_then(|r| r["status"].as_str())
        .unwrap_or("absent")
        .to_owned()
}

/// Distinct refund ids the stand-in was asked for, and the number of calls.
fn calls(app: &TestApp, provider: &str) -> (usize, usize) {
    let calls = app.standin(provider).inner.refund_calls();
    let mut ids: Vec<&str> = calls.iter().map(|c| c.refund_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    (ids.len(), calls.len())
}

#[tokio::test]
async fn a_partial_refund_is_sent_then_settled_by_the_providers_webhook_and_counted_once() {
    for provider in ["stripe", "razorpay"] {
        let app = TestApp::spawn().await;
        let (id, payment, amount) = app.paid_order("MUG-BRASS", 2, provider).await;
        let part = amount / 4;

        let r = app
            .refund(
                &id,
                Some("refund-1"),
                &json!({"amount": part, "reason": "one tumbler dented"}),
            )
            .await;
        assert_eq!(r.status, 201, "{provider}: {}", r.text);
        let refund = &r.body["refund"];
        let refund_id = refund["refundId"].as_str().unwrap().to_owned();
        assert!(refund_id.starts_with("rf_"), "{refund}");
        assert_eq!(refund["amount"], part);
        assert_eq!(refund["reason"], "one tumbler dented");
        assert_eq!(refund["requestedBy"], "test-admin");
        // The stand-in accepts the refund as the providers do: pending, with its own id.
        assert!(
            matches!(refund["status"].as_str(), Some("pending" | "succeeded")),
            "{refund}"
        );
        let prefix = if provider == "stripe" {
            "re_test_"
        } else {
            "rfnd_"
        };
        assert!(
            refund["providerRefundId"]
                .as_str()
                .unwrap()
                .starts_with(prefix),
            "{refund}"
        );
        assert_eq!(r.body["order"]["orderId"], id.as_str());

        // Its webhook follows and settles the same entry.
        let order = app
            .order_until(&id, |o| refund_status(o, &refund_id) == "succeeded")
            .await;
        assert_eq!(order["refundedAmount"], part, "{provider}: {order}");
        assert_eq!(order["paymentStatus"], "partially_refunded");
        assert_eq!(order["status"], "partially_refunded");
        assert_eq!(order["fulfilmentStatus"], "unfulfilled");
        assert_eq!(
            order["refunds"].as_array().unwrap().len(),
            1,
            "the provider's refund is the same entry, not a second one: {order}"
        );
        assert_eq!(count(&order, "refund_requested"), 1);
        assert_eq!(count(&order, "refund_partial"), 1);
        assert_eq!(calls(&app, provider), (1, 1), "{provider}");
        let call = &app.standin(provider).inner.refund_calls()[0];
        assert_eq!(call.payment_id, payment);
        assert_eq!(call.amount.minor(), part);

        // The rest, with no amount: the whole refundable balance.
        let r = app.refund(&id, Some("refund-2"), &json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["refund"]["amount"], amount - part);
        let rest = r.body["refund"]["refundId"].as_str().unwrap().to_owned();
        let order = app
            .order_until(&id, |o| refund_status(o, &rest) == "succeeded")
            .await;
        assert_eq!(order["refundedAmount"], amount);
        assert_eq!(order["paymentStatus"], "refunded");
        assert_eq!(order["status"], "refunded");
        assert_eq!(count(&order, "refund_full"), 1);

        // Nothing is left to refund.
        let r = app
            .refund(&id, Some("refund-3"), &json!({"amount": 1}))
            .await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.error_code(), "refund_exceeds_balance");
        assert_eq!(r.body["error"]["details"]["refundable"], 0);
        assert_eq!(calls(&app, provider), (2, 2));
    }
}

#[tokio::test]
async fn ten_concurrent_identical_refund_requests_make_one_refund_and_one_provider_call() {
    let app = TestApp::spawn().await;
    let (id, _, amount) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    let body = json!({"amount": amount / 2, "reason": "late delivery"});
    let replies = futures_join(&app, &id, "same-key", &body, 10).await;
    let ids: Vec<&str> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["refund"]["refundId"].as_str().unwrap()
        })
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one refund: {ids:?}");
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.header("idempotent-replayed") == Some("true"))
            .count(),
        9,
        "nine answers are replays"
    );
    assert_eq!(calls(&app, "stripe"), (1, 1), "one provider call");
    let order = app
        .order_until(&id, |o| refund_status(o, ids[0]) == "succeeded")
        .await;
    assert_eq!(order["refundedAmount"], amount / 2);
    assert_eq!(count(&order, "refund_requested"), 1);

    // Later, the same again: the same refund; another body under the key: refused.
    let again = app.refund(&id, Some("same-key"), &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["refund"]["refundId"], ids[0]);
    assert_eq!(again.body["refund"]["status"], "succeeded");
    let other = app
        .refund(
            &id,
            Some("same-key"),
            &json!({"amount": 100, "reason": "late delivery"}),
        )
        .await;
    assert_eq!(other.status, 409, "{}", other.text);
    assert_eq!(other.error_code(), "idempotency_key_reused");
    assert_eq!(calls(&app, "stripe"), (1, 1));
}

async fn futures_join(
    app: &TestApp,
    id: &str,
    key: &str,
    body: &Value,
    n: usize,
) -> Vec<oms_e2e::Reply> {
    futures_util::future::join_all((0..n).map(|_| app.refund(id, Some(key), body))).await
}

#[tokio::test]
async fn malformed_unauthorised_and_unknown_refund_requests_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (id, _, amount) = app.paid_order("CHAI-250G", 1, "razorpay").await;
    let before = app.order(&id).await;
    let url = app.url(&format!("/admin/orders/{id}/refunds"));
    let admin = app.admin_token("test-admin");

    let missing_key = app.refund(&id, None, &json!({"amount": 100})).await;
    assert_eq!(missing_key.status, 400, "{}", missing_key.text);
    assert_eq!(missing_key.error_code(), "validation_failed");
    assert_eq!(
        missing_key.body["error"]["details"]["fields"][0]["field"],
        "Idempotency-Key"
    );
    for (body, field) in [
        (json!({"amount": 0}), "amount"),
        (json!({"amount": -5}), "amount"),
        (json!({"amount": amount, "reason": ""}), "reason"),
        (json!({"reason": "x".repeat(501)}), "reason"),
        (json!({"reason": "bad\u{0007}bell"}), "reason"),
    ] {
        let r = app.refund(&id, Some("k-bad"), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.error_code(), "validation_failed");
        assert_eq!(
            r.body["error"]["details"]["fields"][0]["field"], field,
            "{body}"
        );
    }
    for body in [
        json!({"amount": "100"}),
        json!({"amount": 1.5}),
        json!({"amunt": 100}),
    ] {
        let r = app.refund(&id, Some("k-bad"), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    let not_json = app
        .send(
            app.http
                .post(&url)
                .bearer_auth(&admin)
                .header("Idempotency-Key", "k")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.error_code(), "invalid_json");

    let anonymous = app
        .send(
            app.http
                .post(&url)
                .header("Idempotency-Key", "k")
                .json(&json!({})),
        )
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let shopper = app
        .send(
            app.http
                .post(&url)
                .bearer_auth(app.token("shopper-1"))
                .header("Idempotency-Key", "k")
                .json(&json!({})),
        )
        .await;
    assert_eq!(shopper.status, 403, "{}", shopper.text);
    assert_eq!(shopper.error_code(), "forbidden");

    for unknown in ["ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ9", "not-an-order"] {
        let r = app.refund(unknown, Some("k"), &json!({})).await;
        assert_eq!(r.status, 404, "{unknown}: {}", r.text);
        assert_eq!(r.error_code(), "not_found");
    }

    assert_eq!(app.order(&id).await, before, "nothing changed");
    assert_eq!(calls(&app, "razorpay"), (0, 0), "nothing was sent");
}

#[tokio::test]
async fn an_unpaid_order_is_not_refundable_and_the_balance_counts_refunds_in_flight() {
    let app = TestApp::spawn().await;
    let (unpaid, _, _, _) = app.guest_order("CHAI-250G", 1, "stripe").await;
    let r = app.refund(&unpaid, Some("k1"), &json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "not_refundable");

    let (id, _, amount) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    // The webhook is held back: the first refund stays in flight.
    app.standin("stripe").set_delivering(false);
    let first = app
        .refund(&id, Some("k2"), &json!({"amount": amount * 6 / 10}))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["refund"]["status"], "pending");
    assert_eq!(
        first.body["order"]["refundedAmount"], 0,
        "not counted before it settles"
    );

    let too_much = app
        .refund(&id, Some("k3"), &json!({"amount": amount / 2}))
        .await;
    assert_eq!(too_much.status, 409, "{}", too_much.text);
    assert_eq!(too_much.error_code(), "refund_exceeds_balance");
    assert_eq!(
        too_much.body["error"]["details"],
        json!({"requested": amount / 2, "refundable": amount - amount * 6 / 10, "currency": "INR"})
    );
    assert_eq!(
        calls(&app, "stripe"),
        (1, 1),
        "nothing sent for the refused one"
    );

    let rest = app.refund(&id, Some("k4"), &json!({})).await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.body["refund"]["amount"], amount - amount * 6 / 10);
    assert_eq!(calls(&app, "stripe"), (2, 2));
}

#[tokio::test]
async fn a_refund_the_provider_could_not_take_is_kept_and_the_sweep_sends_it_once_with_the_same_key()
 {
    let app = TestApp::spawn().await;
    let (id, _, amount) = app.paid_order("MUG-BRASS", 1, "razorpay").await;
    let standin = app.standin("razorpay");
    standin
        .inner
        .fail_refunds(Some(oms_core::ports::ProviderError::Unavailable(
            "razorpay answered 503".into(),
        )));

    let r = app.refund(&id, Some("k"), &json!({"amount": 5_000})).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error_code(), "payment_provider_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.body["error"]["details"]["status"], "requested");
    let refund_id = r.body["error"]["details"]["refundId"]
        .as_str()
        .unwrap()
        .to_owned();
    let order = app.order(&id).await;
    assert_eq!(refund_status(&order, &refund_id), "requested");
    assert_eq!(order["refundedAmount"], 0);

    // The balance holds it: a full refund now would ask for too much.
    let full = app
        .refund(&id, Some("k-full"), &json!({"amount": amount}))
        .await;
    assert_eq!(full.error_code(), "refund_exceeds_balance");

    // The client retries at once: the same refund, no second call while the first holds it.
    let retry = app.refund(&id, Some("k"), &json!({"amount": 5_000})).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.body["refund"]["refundId"], refund_id.as_str());
    assert_eq!(retry.body["refund"]["status"], "requested");
    assert_eq!(calls(&app, "razorpay"), (1, 1));

    // The provider is back; the sweep leaves a refund still held alone, then sends it once.
    standin.inner.fail_refunds(None);
    assert_eq!(app.sweep().await["refundsSent"], 0);
    app.clock.advance(std::time::Duration::from_secs(120));
    assert_eq!(app.sweep().await["refundsSent"], 1);
    assert_eq!(app.sweep().await["refundsSent"], 0, "sent once");
    let calls_made = standin.inner.refund_calls();
    assert_eq!(calls_made.len(), 2);
    assert!(
        calls_made.iter().all(|c| c.refund_id == refund_id),
        "one key"
    );

    let order = app
        .order_until(&id, |o| refund_status(o, &refund_id) == "succeeded")
        .await;
    assert_eq!(order["refundedAmount"], 5_000);
    assert_eq!(count(&order, "refund_partial"), 1);
}

#[tokio::test]
async fn a_refund_the_provider_keeps_refusing_to_take_is_retried_and_brought_to_a_person() {
    let app = TestApp::spawn().await;
    let (id, _, _) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    let standin = app.standin("stripe");
    standin
        .inner
        .fail_refunds(Some(oms_core::ports::ProviderError::Unavailable(
            "stripe answered 500".into(),
        )));
    let r = app.refund(&id, Some("k"), &json!({"amount": 1_000})).await;
    assert_eq!(r.status, 503, "{}", r.text);
    for sweep in 2..=5 {
        app.clock.advance(std::time::Duration::from_secs(300));
        app.sweep().await;
        assert!(
            app.alerts("ops.refund_not_sent").await.is_empty(),
            "call {sweep}"
        );
    }
    app.clock.advance(std::time::Duration::from_secs(300));
    app.sweep().await;
    let alerts = app.alerts("ops.refund_not_sent").await;
    assert_eq!(alerts.len(), 1, "after the sixth call: {alerts:?}");
    assert_eq!(alerts[0]["orderId"], id.as_str());
    assert_eq!(alerts[0]["attempts"], 6);
    assert_eq!(standin.inner.refund_calls().len(), 6);
    assert_eq!(
        refund_status(
            &app.order(&id).await,
            r.body["error"]["details"]["refundId"].as_str().unwrap()
        ),
        "requested",
        "still owed, still retried"
    );
}

#[tokio::test]
async fn a_refund_the_provider_refuses_is_recorded_failed_alerted_and_its_amount_released() {
    let app = TestApp::spawn().await;
    let (id, _, amount) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    app.standin("stripe")
        .inner
        .fail_refunds(Some(oms_core::ports::ProviderError::Rejected {
            status: 400,
            message: "stripe: charge already refunded".into(),
        }));
    let r = app.refund(&id, Some("k"), &json!({})).await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(r.error_code(), "payment_provider_error");
    assert_eq!(r.body["error"]["details"]["status"], "failed");
    let refund_id = r.body["error"]["details"]["refundId"]
        .as_str()
        .unwrap()
        .to_owned();
    let order = app.order(&id).await;
    assert_eq!(refund_status(&order, &refund_id), "failed");
    assert_eq!(order["refundedAmount"], 0);
    assert_eq!(order["paymentStatus"], "paid");
    assert_eq!(count(&order, "refund_failed"), 1);
    let alerts = app.alerts("ops.refund_failed").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["orderId"], id.as_str());

    // Nothing is in flight: the whole amount can be refunded with a new key.
    app.standin("stripe").inner.fail_refunds(None);
    let again = app.refund(&id, Some("k2"), &json!({})).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["refund"]["amount"], amount);
}

#[tokio::test]
async fn a_webhook_that_settles_a_refund_before_its_answer_is_recorded_counts_it_once() {
    for provider in ["stripe", "razorpay"] {
        let app = TestApp::spawn().await;
        let (id, _, amount) = app.paid_order("MUG-BRASS", 1, provider).await;
        app.standin(provider).set_delivering_first(true);
        let r = app
            .refund(&id, Some("k"), &json!({"amount": amount / 3}))
            .await;
        assert_eq!(r.status, 201, "{provider}: {}", r.text);
        assert_eq!(r.body["refund"]["status"], "succeeded", "{}", r.text);
        let order = &r.body["order"];
        assert_eq!(order["refundedAmount"], amount / 3, "{order}");
        assert_eq!(count(order, "refund_partial"), 1);
        assert_eq!(order["refunds"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn refund_webhooks_redelivered_and_racing_in_both_shapes_count_each_refund_once() {
    let app = TestApp::spawn().await;
    let (id, payment, amount) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    let standin = app.standin("stripe");
    standin.set_delivering(false);
    let r = app.refund(&id, Some("k"), &json!({"amount": 10_000})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund_id = r.body["refund"]["refundId"].as_str().unwrap().to_owned();
    let re = r.body["refund"]["providerRefundId"]
        .as_str()
        .unwrap()
        .to_owned();
    let charge = standin.inner.refund_calls()[0]
        .payment_id
        .replace("pi_", "ch_");
    let spec = RefundSpec {
        id: &re,
        payment_id: &payment,
        amount: inr(10_000),
        status: "succeeded",
        our_id: Some(&refund_id),
    };
    let now = app.clock_now().unix_seconds();
    let updated = stripe_refund_event("evt_r1", "refund.updated", &spec, &charge, Some(&id), now);
    let listing =
        stripe_charge_refunded_listing("evt_r2", &charge, inr(amount), 10_000, &[spec], now);
    let replies = futures_util::future::join_all([
        app.stripe_event(&updated, STRIPE_SECRET),
        app.stripe_event(&listing, STRIPE_SECRET),
        app.stripe_event(&updated, STRIPE_SECRET),
        app.stripe_event(&listing, STRIPE_SECRET),
    ])
    .await;
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    let order = app.order(&id).await;
    assert_eq!(order["refundedAmount"], 10_000, "{order}");
    assert_eq!(refund_status(&order, &refund_id), "succeeded");
    assert_eq!(order["refunds"].as_array().unwrap().len(), 1, "{order}");
    assert_eq!(count(&order, "refund_partial"), 1);
}

#[tokio::test]
async fn a_refund_the_provider_fails_later_is_marked_failed_and_alerted() {
    let app = TestApp::spawn().await;
    let (id, payment, amount) = app.paid_order("MUG-BRASS", 1, "razorpay").await;
    let standin = app.standin("razorpay");
    standin.set_delivering(false);
    let r = app.refund(&id, Some("k"), &json!({"amount": amount})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund_id = r.body["refund"]["refundId"].as_str().unwrap().to_owned();
    let rfnd = r.body["refund"]["providerRefundId"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = razorpay_refund_event(
        "refund.failed",
        &RefundSpec {
            id: &rfnd,
            payment_id: &payment,
            amount: inr(amount),
            status: "failed",
            our_id: Some(&refund_id),
        },
        "",
        Some(&id),
        inr(amount),
    );
    for _ in 0..2 {
        let r = app
            .razorpay_event(&failed, RAZORPAY_SECRET, "evt_rf_failed")
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let order = app.order(&id).await;
    assert_eq!(refund_status(&order, &refund_id), "failed", "{order}");
    assert_eq!(order["refundedAmount"], 0);
    assert_eq!(count(&order, "refund_failed"), 1);
    assert_eq!(app.alerts("ops.refund_failed").await.len(), 1);
    // The amount is free again.
    let again = app.refund(&id, Some("k2"), &json!({})).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["refund"]["amount"], amount);
}

fn dispute<'a>(id: &'a str, payment: &'a str, minor: i64, status: &'a str) -> DisputeSpec<'a> {
    DisputeSpec {
        id,
        payment_id: payment,
        amount: inr(minor),
        status,
        reason: "fraudulent",
        due_by: Some(1_800_600_000),
    }
}

#[tokio::test]
async fn a_dispute_before_shipping_holds_the_order_blocks_refunds_and_a_win_releases_it() {
    let app = TestApp::spawn().await;
    let (id, payment, amount) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    assert_eq!(app.jobs_for(&id).await, 1);
    let charge = payment.replace("pi_", "ch_");
    let now = app.clock_now().unix_seconds();
    let opened = stripe_dispute_event(
        "evt_d1",
        "charge.dispute.created",
        &dispute("du_1", &payment, amount, "needs_response"),
        &charge,
        now,
    );
    for _ in 0..2 {
        assert_eq!(app.stripe_event(&opened, STRIPE_SECRET).await.status, 200);
    }
    let order = app.order(&id).await;
    assert_eq!(order["dispute"]["id"], "du_1", "{order}");
    assert_eq!(order["dispute"]["status"], "open");
    assert_eq!(order["dispute"]["amount"], amount);
    assert_eq!(order["dispute"]["reason"], "fraudulent");
    assert_eq!(
        order["dispute"]["evidenceDueBy"],
        "2027-01-22T06:40:00.000Z"
    );
    assert_eq!(order["requiresReview"], true, "held: nothing ships");
    assert_eq!(order["reviewReason"], "disputed");
    assert_eq!(count(&order, "dispute_opened"), 1);
    let alerts = app.alerts("ops.dispute_opened").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["evidenceDueBy"], "2027-01-22T06:40:00.000Z");

    let refused = app.refund(&id, Some("k"), &json!({})).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.error_code(), "order_disputed");
    assert_eq!(calls(&app, "stripe"), (0, 0));

    let won = stripe_dispute_event(
        "evt_d2",
        "charge.dispute.closed",
        &dispute("du_1", &payment, amount, "won"),
        &charge,
        now,
    );
    assert_eq!(app.stripe_event(&won, STRIPE_SECRET).await.status, 200);
    let order = app.order(&id).await;
    assert_eq!(order["dispute"]["status"], "won");
    assert_eq!(order["requiresReview"], false, "{order}");
    assert_eq!(count(&order, "dispute_won"), 1);
    assert_eq!(
        app.jobs_for(&id).await,
        2,
        "fulfilment queued again once released"
    );
    // A late `updated` does not reopen it.
    let late = stripe_dispute_event(
        "evt_d3",
        "charge.dispute.updated",
        &dispute("du_1", &payment, amount, "under_review"),
        &charge,
        now,
    );
    assert_eq!(app.stripe_event(&late, STRIPE_SECRET).await.status, 200);
    assert_eq!(app.order(&id).await["dispute"]["status"], "won");

    let r = app.refund(&id, Some("k2"), &json!({"amount": 100})).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn a_lost_dispute_arriving_first_is_final_alerted_and_leaves_the_refundable_balance() {
    let app = TestApp::spawn().await;
    let (id, payment, amount) = app.paid_order("MUG-BRASS", 1, "razorpay").await;
    let provider_order = String::new();
    let lost = razorpay_dispute_event(
        "payment.dispute.lost",
        &dispute("disp_1", &payment, 40_000, "lost"),
        &provider_order,
        Some(&id),
        inr(amount),
    );
    let created = razorpay_dispute_event(
        "payment.dispute.created",
        &dispute("disp_1", &payment, 40_000, "open"),
        &provider_order,
        Some(&id),
        inr(amount),
    );
    // Delivered out of order: the loss first, then the opening.
    assert_eq!(
        app.razorpay_event(&lost, RAZORPAY_SECRET, "evt_d_lost")
            .await
            .status,
        200
    );
    assert_eq!(
        app.razorpay_event(&created, RAZORPAY_SECRET, "evt_d_new")
            .await
            .status,
        200
    );
    let order = app.order(&id).await;
    assert_eq!(order["dispute"]["status"], "lost", "{order}");
    assert_eq!(count(&order, "dispute_opened"), 1);
    assert_eq!(count(&order, "dispute_lost"), 1);
    assert_eq!(app.alerts("ops.dispute_lost").await.len(), 1);
    assert_eq!(
        order["requiresReview"], true,
        "a person decides about the goods"
    );

    let r = app.refund(&id, Some("k"), &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["refund"]["amount"],
        amount - 40_000,
        "the lost amount is gone already"
    );
}

/// A late payment (refunded automatically), a chargeback on it and an admin's refund, racing
/// in every order: whatever wins, the money asked back from the provider never exceeds what
/// was captured, each refund is asked for once, and the dispute is recorded.
#[tokio::test]
async fn a_late_payment_a_dispute_and_an_admin_refund_racing_never_refund_more_than_was_paid() {
    for order_of_events in 0..3 {
        let app = TestApp::spawn().await;
        let (id, provider_ref, token, amount) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
        let cancel = app
            .send(
                app.http
                    .post(app.url(&format!("/orders/{id}/cancel")))
                    .header("X-Order-Token", &token)
                    .json(&json!({})),
            )
            .await;
        assert_eq!(cancel.status, 200, "{}", cancel.text);
        let payment = razorpay_payment_event(
            "payment.captured",
            "pay_late",
            &provider_ref,
            Some(&id),
            inr(amount),
        );
        let opened = razorpay_dispute_event(
            "payment.dispute.created",
            &dispute("disp_1", "pay_late", amount, "open"),
            &provider_ref,
            Some(&id),
            inr(amount),
        );
        let pay = app.razorpay_event(&payment, RAZORPAY_SECRET, "evt_pay");
        let chargeback = app.razorpay_event(&opened, RAZORPAY_SECRET, "evt_disp");
        let whole = json!({});
        let admin = app.refund(&id, Some("k"), &whole);
        let (p, d, a) = match order_of_events {
            0 => {
                let (p, d, a) = tokio::join!(pay, chargeback, admin);
                (p, d, a)
            }
            1 => {
                let p = pay.await;
                let (d, a) = tokio::join!(chargeback, admin);
                (p, d, a)
            }
            _ => {
                let d = chargeback.await;
                let (p, a) = tokio::join!(pay, admin);
                (p, d, a)
            }
        };
        assert_eq!(p.status, 200, "{}", p.text);
        assert_eq!(d.status, 200, "{}", d.text);
        assert!(
            a.status == 201 || a.status == 409,
            "admin refund: {} {}",
            a.status,
            a.text
        );
        let order = app
            .order_until(&id, |o| {
                o["refunds"].as_array().is_some_and(|r| {
                    r.iter()
                        .all(|r| r["status"] != "pending" && r["status"] != "requested")
                })
            })
            .await;
        let asked: i64 = app
            .standin("razorpay")
            .inner
            .refund_calls()
            .iter()
            .map(|c| c.amount.minor())
            .sum();
        assert!(asked <= amount, "asked back {asked} of {amount}: {order}");
        assert!(order["refundedAmount"].as_i64().unwrap() <= amount);
        let mut ids: Vec<String> = app
            .standin("razorpay")
            .inner
            .refund_calls()
            .iter()
            .map(|c| c.refund_id.clone())
            .collect();
        let calls = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), calls, "each refund asked for once");
        assert_eq!(order["status"], "cancelled", "{order}");
        assert_eq!(order["dispute"]["id"], "disp_1");
        assert_eq!(count(&order, "payment_succeeded"), 1);
    }
}
