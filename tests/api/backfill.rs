//! Backfill over HTTP (`POST /admin/backfill`, and `dev-server backfill` that loops over it):
//! a payment whose webhook the offline stand-in "lost" is found in what the provider lists and
//! applied once; a second run, and the late webhook, change nothing.

use std::time::Duration;

use oms_core::ports::ProviderError;
use oms_e2e::{RAZORPAY_SECRET, Reply, STRIPE_SECRET, TestApp};
use serde_json::{Value, json};

fn count(order: &Value, kind: &str) -> usize {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .count()
}

async fn backfill(app: &TestApp, body: &Value) -> Reply {
    app.send(
        app.http
            .post(app.url("/admin/backfill"))
            .bearer_auth(app.admin_token("ops-1"))
            .json(body),
    )
    .await
}

/// The customer pays at the stand-in's checkout; `deliver: false` loses the webhook.
async fn pay(app: &TestApp, checkout: &str, deliver: bool) {
    let url = format!("{}/dev/checkout/{checkout}", app.server.base_url);
    let r = app
        .send(
            app.http
                .post(url)
                .json(&json!({"outcome": "succeeded", "deliverWebhook": deliver})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// An hour ago, as RFC 3339.
fn an_hour_ago(app: &TestApp) -> String {
    app.clock_now().minus(Duration::from_secs(3600)).to_string()
}

#[tokio::test]
async fn a_payment_whose_webhook_was_lost_is_found_by_backfill_and_a_second_run_changes_nothing() {
    for provider in ["stripe", "razorpay"] {
        let app = TestApp::spawn().await;
        let before = app.available("MUG-BRASS").await;
        let (delivered, delivered_ref, _, _) = app.guest_order("MUG-BRASS", 1, provider).await;
        pay(&app, &delivered_ref, true).await;
        assert_eq!(app.order(&delivered).await["status"], "paid");
        let (lost, lost_ref, _, _) = app.guest_order("MUG-BRASS", 1, provider).await;
        pay(&app, &lost_ref, false).await;
        assert_eq!(app.order(&lost).await["status"], "pending_payment");

        let since = an_hour_ago(&app);
        let first = backfill(&app, &json!({"provider": provider, "since": since})).await;
        assert_eq!(first.status, 200, "{provider}: {}", first.text);
        assert_eq!(first.body["provider"], provider);
        assert_eq!(first.body["listed"], 2, "{provider}: {}", first.text);
        assert_eq!(first.body["applied"], 1, "{provider}: {}", first.text);
        assert_eq!(
            first.body["alreadyKnown"], 1,
            "{provider}: the delivered one"
        );
        assert_eq!(first.body["unmatched"], 0);
        assert_eq!(first.body["ignored"], 0);
        assert_eq!(first.body["nextCursor"], Value::Null);
        assert_eq!(first.body["corrections"][0]["orderId"], lost.as_str());

        let paid = app.order(&lost).await;
        assert_eq!(paid["status"], "paid", "{provider}: {paid}");
        let entry = paid["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "payment_succeeded")
            .unwrap();
        assert_eq!(entry["meta"]["source"], "backfill", "{provider}: {paid}");
        assert_eq!(app.jobs_for(&lost).await, 1, "fulfilment queued");
        assert_eq!(
            app.available("MUG-BRASS").await,
            before - 2,
            "stock kept for both"
        );
        let alerts = app.alerts("ops.webhook_missed").await;
        assert_eq!(alerts.len(), 1, "{provider}: {alerts:?}");
        assert_eq!(alerts[0]["source"], "backfill");

        let events = app
            .send(
                app.http
                    .get(app.url(&format!("/admin/orders/{lost}/events")))
                    .bearer_auth(app.admin_token("ops-1")),
            )
            .await;
        let listed = events.body["events"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{}", events.text);
        assert_eq!(listed[0]["source"], "backfill");
        assert_eq!(listed[0]["outcome"], "applied");
        let event_id = listed[0]["eventId"].as_str().unwrap().to_owned();
        if provider == "stripe" {
            assert!(
                event_id.starts_with("evt_"),
                "Stripe's own id is kept: {event_id}"
            );
        } else {
            assert!(event_id.starts_with("backfill:pay_"), "{event_id}");
        }

        // Twice = once.
        let second = backfill(&app, &json!({"provider": provider, "since": since})).await;
        assert_eq!(second.status, 200, "{}", second.text);
        assert_eq!(second.body["listed"], 2);
        assert_eq!(second.body["applied"], 0, "{provider}: {}", second.text);
        assert_eq!(second.body["alreadyKnown"], 2);
        assert_eq!(
            app.order(&lost).await,
            paid,
            "{provider}: the second run changed nothing"
        );
        assert_eq!(app.jobs_for(&lost).await, 1);
        assert_eq!(app.alerts("ops.webhook_missed").await.len(), 1);

        // The lost webhook turns up after all: nothing changes.
        let sent = app.standin(provider).inner.sent_events();
        let webhook = sent
            .iter()
            .find(|e| !e.delivered)
            .expect("the lost webhook is recorded");
        let late = if provider == "stripe" {
            app.stripe_event(&webhook.body, STRIPE_SECRET).await
        } else {
            app.razorpay_event(&webhook.body, RAZORPAY_SECRET, &webhook.event_id)
                .await
        };
        assert_eq!(late.status, 200, "{}", late.text);
        let after = app.order(&lost).await;
        assert_eq!(count(&after, "payment_succeeded"), 1);
        assert_eq!(after["status"], "paid");
        assert_eq!(after["updatedAt"], paid["updatedAt"], "{provider}");
        assert_eq!(app.jobs_for(&lost).await, 1);
    }
}

#[tokio::test]
async fn stripe_can_be_asked_for_the_undelivered_events_only() {
    let app = TestApp::spawn().await;
    let (delivered, delivered_ref, _, _) = app.guest_order("CHAI-250G", 1, "stripe").await;
    pay(&app, &delivered_ref, true).await;
    let (lost, lost_ref, _, _) = app.guest_order("CHAI-250G", 1, "stripe").await;
    pay(&app, &lost_ref, false).await;
    let r = backfill(
        &app,
        &json!({"provider": "stripe", "since": an_hour_ago(&app), "undeliveredOnly": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["listed"], 1, "only the lost one: {}", r.text);
    assert_eq!(r.body["applied"], 1);
    assert_eq!(app.order(&lost).await["status"], "paid");
    assert_eq!(app.order(&delivered).await["status"], "paid");

    // A window that ends before the payments lists nothing.
    let r = backfill(
        &app,
        &json!({
            "provider": "stripe",
            "since": an_hour_ago(&app),
            "until": app.clock_now().minus(Duration::from_secs(60)).to_string(),
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["listed"], 0, "{}", r.text);
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_loses_nothing_and_the_next_run_completes() {
    let app = TestApp::spawn().await;
    let (lost, lost_ref, _, _) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    pay(&app, &lost_ref, false).await;
    let standin = app.standin("razorpay");
    standin
        .inner
        .fail_backfills(Some(ProviderError::Unavailable(
            "razorpay answered 503".into(),
        )));
    let body = json!({"provider": "razorpay", "since": an_hour_ago(&app)});
    let down = backfill(&app, &body).await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert_eq!(down.error_code(), "payment_provider_unavailable");
    assert_eq!(down.header("retry-after"), Some("1"));
    assert_eq!(app.order(&lost).await["status"], "pending_payment");

    standin.inner.fail_backfills(None);
    let up = backfill(&app, &body).await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["applied"], 1, "{}", up.text);
    assert_eq!(app.order(&lost).await["status"], "paid");
}

#[tokio::test]
async fn bad_backfill_requests_are_refused_with_a_clear_error_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (id, checkout, _, _) = app.guest_order("MUG-BRASS", 1, "stripe").await;
    pay(&app, &checkout, false).await;
    let now = app.clock_now();
    let recent = an_hour_ago(&app);
    let old = now.minus(Duration::from_secs(31 * 24 * 3600)).to_string();
    let future = now.plus(Duration::from_secs(3600)).to_string();
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), "validation_failed", "provider"),
        (
            json!({"provider": "paypal", "since": recent}),
            "validation_failed",
            "provider",
        ),
        (json!({"provider": "stripe"}), "validation_failed", "since"),
        (
            json!({"provider": "stripe", "since": "yesterday"}),
            "validation_failed",
            "since",
        ),
        (
            json!({"provider": "stripe", "since": 1_700_000_000}),
            "validation_failed",
            "since",
        ),
        (
            json!({"provider": "stripe", "since": old}),
            "validation_failed",
            "since",
        ),
        (
            json!({"provider": "stripe", "since": future}),
            "validation_failed",
            "since",
        ),
        (
            json!({"provider": "stripe", "since": recent, "until": old}),
            "validation_failed",
            "until",
        ),
        (
            json!({"provider": "razorpay", "since": recent, "undeliveredOnly": true}),
            "validation_failed",
            "undeliveredOnly",
        ),
        (
            json!({"provider": "stripe", "since": recent, "cursor": ""}),
            "validation_failed",
            "cursor",
        ),
        (
            json!({"provider": "stripe", "since": recent, "limit": 5}),
            "validation_failed",
            "limit",
        ),
        (
            json!({"provider": "stripe", "since": recent, "cursor": "evt_never_issued"}),
            "backfill_refused",
            "",
        ),
    ];
    for (body, code, field) in cases {
        let r = backfill(&app, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.error_code(), code, "{body}: {}", r.text);
        if !field.is_empty() {
            let fields = r.body["error"]["details"]["fields"].as_array().unwrap();
            assert!(
                fields.iter().any(|f| f["field"] == field),
                "{body}: {}",
                r.text
            );
        }
    }
    let not_json = app
        .send(
            app.http
                .post(app.url("/admin/backfill"))
                .bearer_auth(app.admin_token("ops-1"))
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
    assert_eq!(not_json.status, 400, "{}", not_json.text);

    let body = json!({"provider": "stripe", "since": recent});
    let shopper = app
        .send(
            app.http
                .post(app.url("/admin/backfill"))
                .bearer_auth(app.token("shopper-1"))
                .json(&body),
        )
        .await;
    assert_eq!(shopper.status, 403, "{}", shopper.text);
    let anonymous = app
        .send(app.http.post(app.url("/admin/backfill")).json(&body))
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    assert_eq!(
        app.order(&id).await["status"],
        "pending_payment",
        "nothing was applied by a refused request"
    );
}

#[tokio::test]
async fn the_backfill_command_follows_the_cursor_until_the_provider_has_no_more() {
    let app = TestApp::spawn().await;
    let mut lost = Vec::new();
    // The stand-in lists 100 items a page, as the providers do.
    for _ in 0..3 {
        let (id, checkout, _, _) = app.guest_order("CHAI-250G", 1, "stripe").await;
        pay(&app, &checkout, false).await;
        lost.push(id);
    }
    // And a full page of undelivered events of a type this service does not act on, listed
    // first (newest first), so the lost payments are on the second page.
    for i in 0..100 {
        app.standin("stripe")
            .inner
            .record_event(oms_providers::offline::SentEvent {
                event_id: format!("evt_other_{i:03}"),
                body: json!({
                    "id": format!("evt_other_{i:03}"),
                    "object": "event",
                    "type": "customer.created",
                    "created": app.clock_now().unix_seconds(),
                    "data": {"object": {"id": format!("cus_{i}"), "object": "customer"}},
                })
                .to_string(),
                created: app.clock_now(),
                delivered: false,
            });
    }
    let args = dev_server::backfill::BackfillArgs {
        provider: "stripe".into(),
        since: an_hour_ago(&app),
        until: None,
        undelivered: true,
        api: Some(app.url("")),
        token: Some(app.admin_token("ops-1")),
    };
    let (api, token) = dev_server::backfill::target(&args, None, None).unwrap();
    let mut lines = Vec::new();
    let totals = dev_server::backfill::run(&api, &token, &args, |l| lines.push(l.to_owned()))
        .await
        .unwrap();
    assert_eq!(totals.pages, 2, "{lines:?}");
    assert_eq!(totals.listed, 103);
    assert_eq!(totals.applied, 3);
    assert_eq!(totals.ignored, 100, "types this service does not act on");
    for id in &lost {
        assert_eq!(app.order(id).await["status"], "paid");
        assert!(
            lines.iter().any(|l| l.contains(id.as_str())),
            "{id}: {lines:?}"
        );
    }
    let again = dev_server::backfill::run(&api, &token, &args, |_| {})
        .await
        .unwrap();
    assert_eq!((again.applied, again.already_known), (0, 103), "{again:?}");
}
