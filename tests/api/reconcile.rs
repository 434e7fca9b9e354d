//! Reconciliation over HTTP: payments whose webhook was lost, found by asking the provider
//! (the offline stand-in records what was paid through it) before the sweep would cancel; and
//! refunds whose webhook was lost, fetched from the provider once they have been pending
//! `RECONCILE_AFTER_MINUTES`.

use std::time::Duration;

use oms_core::ports::{
    FoundPayment, FoundPaymentStatus, PaymentProvider, ProviderError, ProviderRefund,
    ProviderRefundStatus,
};
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

fn paid_at_provider(
    app: &TestApp,
    provider: &str,
    provider_ref: &str,
    payment: &str,
    amount: i64,
    status: FoundPaymentStatus,
) {
    app.standin(provider).inner.record_payment(
        provider_ref,
        FoundPayment {
            payment_id: payment.into(),
            amount: inr(amount),
            status,
        },
    );
}

#[tokio::test]
async fn a_payment_whose_webhook_was_lost_is_found_before_the_sweep_would_cancel_it() {
    for provider in ["stripe", "razorpay"] {
        let app = TestApp::spawn().await;
        let before = app.available("MUG-BRASS").await;
        let (id, provider_ref, _, amount) = app.guest_order("MUG-BRASS", 1, provider).await;
        let payment = if provider == "stripe" {
            "pi_lost1"
        } else {
            "pay_lost1"
        };
        // The customer paid; the provider's webhook never arrives.
        paid_at_provider(
            &app,
            provider,
            &provider_ref,
            payment,
            amount,
            FoundPaymentStatus::Captured,
        );

        app.clock.advance(Duration::from_secs(31 * 60));
        let report = app.sweep().await;
        assert_eq!(report["reconciled"], 1, "{provider}: {report}");
        assert_eq!(report["cancelled"], 0, "{provider}: {report}");
        let order = app.order(&id).await;
        assert_eq!(order["status"], "paid", "{order}");
        assert_eq!(order["payment"]["providerPaymentId"], payment);
        let paid = order["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "payment_succeeded")
            .unwrap();
        assert_eq!(paid["meta"]["source"], "reconciliation");
        assert_eq!(
            app.available("MUG-BRASS").await,
            before - 1,
            "its stock was never given away"
        );
        assert_eq!(app.jobs_for(&id).await, 1, "fulfilment queued");
        assert_eq!(app.alerts("ops.webhook_missed").await.len(), 1);

        // The webhook turns up after all: nothing changes.
        let now = app.clock_now().unix_seconds();
        let late = if provider == "stripe" {
            let body = stripe_session_paid(
                "evt_late",
                "checkout.session.completed",
                &provider_ref,
                payment,
                Some(&id),
                inr(amount),
                now,
            );
            app.stripe_event(&body, STRIPE_SECRET).await
        } else {
            let body = razorpay_payment_event(
                "payment.captured",
                payment,
                &provider_ref,
                Some(&id),
                inr(amount),
            );
            app.razorpay_event(&body, RAZORPAY_SECRET, "evt_late").await
        };
        assert_eq!(late.status, 200, "{}", late.text);
        let after = app.order(&id).await;
        assert_eq!(count(&after, "payment_succeeded"), 1);
        assert_eq!(after["status"], "paid");
        assert_eq!(app.jobs_for(&id).await, 1);
        assert_eq!(app.sweep().await["reconciled"], 0, "found once");

        // The ops console lists the correction; its record is not a provider's body to replay.
        let listed = app
            .send(
                app.http
                    .get(app.url(&format!("/admin/orders/{id}/events")))
                    .bearer_auth(app.admin_token("ops-1")),
            )
            .await;
        let found = listed.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["source"] == "reconciliation")
            .cloned()
            .unwrap_or_else(|| panic!("no reconciliation event: {}", listed.text));
        assert_eq!(found["type"], "reconciliation.payment_captured");
        assert_eq!(found["outcome"], "applied");
        let replay = app
            .send(
                app.http
                    .post(app.url(&format!(
                        "/admin/events/{provider}/{}/replay",
                        found["eventId"].as_str().unwrap()
                    )))
                    .bearer_auth(app.admin_token("ops-1")),
            )
            .await;
        assert_eq!(replay.status, 409, "{}", replay.text);
        assert_eq!(replay.error_code(), "not_replayable");
    }
}

#[tokio::test]
async fn an_unpaid_order_is_asked_about_ten_minutes_after_it_was_opened_not_only_at_expiry() {
    let app = TestApp::spawn().await;
    let (id, provider_ref, _, amount) = app.guest_order("CHAI-250G", 2, "razorpay").await;
    paid_at_provider(
        &app,
        "razorpay",
        &provider_ref,
        "pay_early",
        amount,
        FoundPaymentStatus::Captured,
    );
    app.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(app.sweep().await["reconciled"], 0, "too soon to ask");
    assert_eq!(app.order(&id).await["status"], "pending_payment");
    app.clock.advance(Duration::from_secs(6 * 60));
    assert_eq!(app.sweep().await["reconciled"], 1);
    assert_eq!(app.order(&id).await["status"], "paid");
}

#[tokio::test]
async fn an_expired_order_is_not_cancelled_while_its_provider_cannot_say_or_a_payment_is_settling()
{
    let app = TestApp::spawn().await;
    let before = app.available("MUG-BRASS").await;
    let (id, provider_ref, _, amount) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    let standin = app.standin("razorpay");
    standin.inner.fail_finds(Some(ProviderError::Unavailable(
        "razorpay answered 503".into(),
    )));
    app.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(app.sweep().await["cancelled"], 0, "not cancelled blind");
    assert_eq!(app.order(&id).await["status"], "pending_payment");
    assert_eq!(app.available("MUG-BRASS").await, before - 1);

    standin.inner.fail_finds(None);
    paid_at_provider(
        &app,
        "razorpay",
        &provider_ref,
        "pay_auth",
        amount,
        FoundPaymentStatus::Pending,
    );
    assert_eq!(app.sweep().await["cancelled"], 0, "a payment is settling");
    assert_eq!(app.order(&id).await["status"], "pending_payment");

    paid_at_provider(
        &app,
        "razorpay",
        &provider_ref,
        "pay_auth",
        amount,
        FoundPaymentStatus::Failed,
    );
    let report = app.sweep().await;
    assert_eq!(report["cancelled"], 1, "{report}");
    assert_eq!(app.order(&id).await["status"], "cancelled");
    assert_eq!(
        app.available("MUG-BRASS").await,
        before,
        "stock back once nothing was paid"
    );
}

#[tokio::test]
async fn the_stand_in_checkout_takes_a_payment_and_delivers_or_loses_its_webhook() {
    let app = TestApp::spawn().await;
    let app = &app;
    let pay = |checkout: String, body: serde_json::Value| async move {
        let url = format!("{}/dev/checkout/{checkout}", app.server.base_url);
        app.send(app.http.post(url).json(&body)).await
    };
    // Delivered: paid at once, as with the real provider.
    let (delivered, session, _, _) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    let r = pay(session, serde_json::json!({"outcome": "succeeded"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["webhookDelivered"], true);
    assert_eq!(app.order(&delivered).await["status"], "paid");

    // Lost: the provider holds the money, the order does not know, until reconciliation.
    let (lost, rzp_order, _, _) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    let r = pay(
        rzp_order,
        serde_json::json!({"outcome": "succeeded", "deliverWebhook": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["webhookDelivered"], false);
    assert_eq!(app.order(&lost).await["status"], "pending_payment");
    app.clock.advance(Duration::from_secs(11 * 60));
    let report = app.sweep().await;
    assert_eq!(report["reconciled"], 1, "{report}");
    assert_eq!(app.order(&lost).await["status"], "paid");
    assert_eq!(app.order(&delivered).await["status"], "paid");

    let unknown = pay(
        "order_NOTOURS0000000".into(),
        serde_json::json!({"outcome": "failed"}),
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
}

/// The refund a stand-in made for `payment`, as a lookup at the provider reports it now.
async fn refund_at_provider(
    app: &TestApp,
    provider: &str,
    payment: &str,
    provider_refund_id: &str,
) -> ProviderRefund {
    app.standin(provider)
        .inner
        .get_refund(payment, provider_refund_id)
        .await
        .expect("the stand-in made the refund")
}

fn refund_of<'a>(order: &'a Value, refund_id: &str) -> &'a Value {
    order["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["refundId"] == refund_id)
        .unwrap_or_else(|| panic!("no refund {refund_id}: {order}"))
}

#[tokio::test]
async fn a_refund_whose_webhook_was_lost_is_settled_by_the_sweep_and_a_late_webhook_changes_nothing()
 {
    for provider in ["stripe", "razorpay"] {
        let app = TestApp::spawn().await;
        let (id, payment, amount) = app.paid_order("MUG-BRASS", 2, provider).await;
        let part = amount / 4;
        let standin = app.standin(provider);
        // The provider will complete the refund; its webhook never arrives.
        standin.set_delivering(false);
        let r = app.refund(&id, Some("k"), &json!({"amount": part})).await;
        assert_eq!(r.status, 201, "{provider}: {}", r.text);
        assert_eq!(r.body["refund"]["status"], "pending");
        let refund_id = r.body["refund"]["refundId"].as_str().unwrap().to_owned();
        let prid = r.body["refund"]["providerRefundId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            standin
                .inner
                .settle_refund(&prid, ProviderRefundStatus::Succeeded)
        );

        // Not asked about before RECONCILE_AFTER_MINUTES (10).
        app.clock.advance(Duration::from_secs(5 * 60));
        let report = app.sweep().await;
        assert_eq!(report["refundsChecked"], 0, "{provider}: {report}");
        assert!(standin.inner.refund_lookups().is_empty());
        assert_eq!(
            refund_of(&app.order(&id).await, &refund_id)["status"],
            "pending"
        );

        app.clock.advance(Duration::from_secs(6 * 60));
        let report = app.sweep().await;
        assert_eq!(report["refundsChecked"], 1, "{provider}: {report}");
        assert_eq!(report["refundsReconciled"], 1, "{provider}: {report}");
        assert_eq!(
            standin.inner.refund_lookups(),
            vec![(payment.clone(), prid.clone())],
            "{provider}: the refund asked for by the payment refunded and its own id"
        );
        let order = app.order(&id).await;
        assert_eq!(
            refund_of(&order, &refund_id)["status"],
            "succeeded",
            "{order}"
        );
        assert_eq!(order["refundedAmount"], part);
        assert_eq!(order["status"], "partially_refunded");
        let settled: Vec<&Value> = order["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "refund_partial")
            .collect();
        assert_eq!(settled.len(), 1, "{order}");
        assert_eq!(settled[0]["meta"]["source"], "reconciliation");
        let alerts = app.alerts("ops.webhook_missed").await;
        assert_eq!(alerts.len(), 1, "{provider}: {alerts:?}");
        assert_eq!(alerts[0]["refundId"], refund_id.as_str());
        assert_eq!(alerts[0]["status"], "succeeded");

        // The lost webhook turns up after all (twice): nothing changes, the money counts once.
        let found = refund_at_provider(&app, provider, &payment, &prid).await;
        let spec = |status| RefundSpec {
            id: &prid,
            payment_id: &payment,
            amount: inr(part),
            status,
            our_id: Some(&refund_id),
        };
        for _ in 0..2 {
            let late = if provider == "stripe" {
                let body = stripe_refund_event(
                    "evt_refund_late",
                    "refund.updated",
                    &spec("succeeded"),
                    found.charge_id.as_deref().unwrap_or_default(),
                    Some(&id),
                    app.clock_now().unix_seconds(),
                );
                app.stripe_event(&body, STRIPE_SECRET).await
            } else {
                let body = razorpay_refund_event(
                    "refund.processed",
                    &spec("processed"),
                    "",
                    Some(&id),
                    inr(amount),
                );
                app.razorpay_event(&body, RAZORPAY_SECRET, "evt_refund_late")
                    .await
            };
            assert_eq!(late.status, 200, "{provider}: {}", late.text);
        }
        let after = app.order(&id).await;
        assert_eq!(after["refundedAmount"], part, "{provider}: {after}");
        assert_eq!(count(&after, "refund_partial"), 1);
        assert_eq!(refund_of(&after, &refund_id)["status"], "succeeded");
        assert_eq!(after["status"], "partially_refunded");
        let report = app.sweep().await;
        assert_eq!(report["refundsChecked"], 0, "settled: no more checks");
        assert_eq!(app.alerts("ops.webhook_missed").await.len(), 1);
    }
}

#[tokio::test]
async fn a_refund_still_pending_is_asked_about_again_later_and_an_unreachable_provider_loses_nothing()
 {
    let app = TestApp::spawn().await;
    let (id, payment, amount) = app.paid_order("MUG-BRASS", 1, "razorpay").await;
    let standin = app.standin("razorpay");
    standin.set_delivering(false);
    let r = app.refund(&id, Some("k"), &json!({"amount": amount})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund_id = r.body["refund"]["refundId"].as_str().unwrap().to_owned();
    let prid = r.body["refund"]["providerRefundId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Still pending at the provider: checked, and left for RECONCILE_AFTER_MINUTES more.
    app.clock.advance(Duration::from_secs(11 * 60));
    let report = app.sweep().await;
    assert_eq!(report["refundsChecked"], 1, "{report}");
    assert_eq!(report["refundsReconciled"], 0, "{report}");
    assert_eq!(app.sweep().await["refundsChecked"], 0, "its check moved on");
    app.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(app.sweep().await["refundsChecked"], 0, "not due yet");
    assert_eq!(standin.inner.refund_lookups().len(), 1);
    let order = app.order(&id).await;
    assert_eq!(refund_of(&order, &refund_id)["status"], "pending");
    assert_eq!(order["refundedAmount"], 0);

    // The provider cannot be asked: nothing changes, the refund stays due.
    standin
        .inner
        .fail_refund_lookups(Some(ProviderError::Unavailable(
            "razorpay answered 503".into(),
        )));
    standin
        .inner
        .settle_refund(&prid, ProviderRefundStatus::Failed);
    app.clock.advance(Duration::from_secs(6 * 60));
    let report = app.sweep().await;
    assert_eq!(report["refundsChecked"], 0, "{report}");
    assert_eq!(
        refund_of(&app.order(&id).await, &refund_id)["status"],
        "pending"
    );

    // Back: the next sweep asks at once and finds it failed.
    standin.inner.fail_refund_lookups(None);
    let report = app.sweep().await;
    assert_eq!(report["refundsChecked"], 1, "{report}");
    assert_eq!(report["refundsReconciled"], 1, "{report}");
    let order = app.order(&id).await;
    assert_eq!(refund_of(&order, &refund_id)["status"], "failed", "{order}");
    assert_eq!(order["refundedAmount"], 0);
    assert_eq!(count(&order, "refund_failed"), 1);
    assert_eq!(app.alerts("ops.refund_failed").await.len(), 1);
    assert_eq!(app.alerts("ops.webhook_missed").await.len(), 1);
    // The amount is free again; the provider's late `refund.failed` changes nothing.
    let failed = razorpay_refund_event(
        "refund.failed",
        &RefundSpec {
            id: &prid,
            payment_id: &payment,
            amount: inr(amount),
            status: "failed",
            our_id: Some(&refund_id),
        },
        "",
        Some(&id),
        inr(amount),
    );
    let late = app
        .razorpay_event(&failed, RAZORPAY_SECRET, "evt_rf_failed")
        .await;
    assert_eq!(late.status, 200, "{}", late.text);
    assert_eq!(count(&app.order(&id).await, "refund_failed"), 1);
    let again = app.refund(&id, Some("k2"), &json!({})).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["refund"]["amount"], amount);
}
