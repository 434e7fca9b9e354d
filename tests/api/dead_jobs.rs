//! The ops console's dead-letter routes over HTTP, with the in-process worker running: a job
//! that fails on every receive is listed, stays listed however often it is looked at, and once
//! moved back (its cause fixed) is fulfilled.

use std::time::Duration;

use oms_e2e::{Options, Reply, TestApp};
use serde_json::{Value, json};

/// The worker running, failing a job for good after two receives; no sweep to interfere.
fn worker_gives_up_after_two() -> Options {
    Options {
        env: vec![
            ("DEV_BACKGROUND", "true".into()),
            ("MAX_RECEIVE_COUNT", "2".into()),
            ("CLEANUP_INTERVAL_SECONDS", "3600".into()),
        ],
        ..Options::default()
    }
}

async fn list(app: &TestApp, query: &str, token: Option<&str>) -> Reply {
    let mut req = app.http.get(app.url(&format!("/admin/jobs/dead{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await
}

async fn redrive(app: &TestApp, body: Option<Value>, token: Option<&str>) -> Reply {
    let mut req = app.http.post(app.url("/admin/jobs/dead/redrive"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await
}

/// Lists until `n` jobs are dead (the worker retries in the background); the first listing
/// that shows them.
async fn dead_until(app: &TestApp, n: usize) -> Reply {
    let admin = app.admin_token("ops-1");
    for _ in 0..60 {
        let r = list(app, "", Some(&admin)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["count"] == json!(n) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "never {n} dead jobs: {}",
        list(app, "", Some(&admin)).await.text
    );
}

#[tokio::test]
async fn a_job_that_failed_for_good_is_listed_and_once_moved_back_is_fulfilled() {
    let app = TestApp::spawn_with(worker_gives_up_after_two()).await;
    let admin = app.admin_token("ops-1");
    let empty = list(&app, "", Some(&admin)).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.body, json!({"jobs": [], "count": 0}));

    // The carrier is down: every receive of the job fails, and it is set aside.
    app.server.parts.carrier_faults.set_down(true);
    let (id, _, _) = app.paid_order("MUG-BRASS", 1, "razorpay").await;
    let r = dead_until(&app, 1).await;
    let job = &r.body["jobs"][0];
    assert_eq!(job["orderId"], id.as_str(), "{}", r.text);
    assert_eq!(job["receiveCount"], 2, "{}", r.text);
    assert!(job["messageId"].as_str().is_some_and(|m| !m.is_empty()));
    if app.server.parts.aws.is_some() {
        assert!(job["sentAt"].is_string(), "SQS says when: {}", r.text);
    }
    assert_eq!(app.order(&id).await["status"], "paid", "not fulfilled");

    // Looking leaves it there, however often.
    for _ in 0..2 {
        let again = list(&app, "?limit=10", Some(&admin)).await;
        assert_eq!(again.body["count"], 1, "{}", again.text);
        assert_eq!(again.body["jobs"][0]["orderId"], id.as_str());
    }

    // Only admins look or move; bad limits are refused; none of it moves anything.
    let shopper = app.token("shopper-1");
    assert_eq!(list(&app, "", Some(&shopper)).await.status, 403);
    assert_eq!(list(&app, "", None).await.status, 401);
    assert_eq!(redrive(&app, None, Some(&shopper)).await.status, 403);
    assert_eq!(redrive(&app, None, None).await.status, 401);
    let bad = list(&app, "?limit=0", Some(&admin)).await;
    assert_eq!((bad.status, bad.error_code()), (400, "validation_failed"));
    for body in [
        json!({"limit": 0}),
        json!({"limit": "all"}),
        json!({"all": true}),
    ] {
        let bad = redrive(&app, Some(body.clone()), Some(&admin)).await;
        assert_eq!(
            (bad.status, bad.error_code()),
            (400, "validation_failed"),
            "{body}: {}",
            bad.text
        );
    }
    assert_eq!(list(&app, "", Some(&admin)).await.body["count"], 1);

    // The carrier is back: moved back, the job is done and nothing is left dead.
    app.server.parts.carrier_faults.set_down(false);
    let r = redrive(&app, None, Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"redriven": 1}));
    let o = app.order_until(&id, |o| o["status"] == "fulfilled").await;
    assert_eq!(o["invoice"]["number"], "INV-000001", "one invoice: {o}");
    let after = list(&app, "", Some(&admin)).await;
    assert_eq!(after.body, json!({"jobs": [], "count": 0}));
    let again = redrive(&app, Some(json!({"limit": 5})), Some(&admin)).await;
    assert_eq!(again.body, json!({"redriven": 0}));
}

#[tokio::test]
async fn a_redrive_moves_at_most_its_limit() {
    let app = TestApp::spawn_with(worker_gives_up_after_two()).await;
    let admin = app.admin_token("ops-1");
    app.server.parts.carrier_faults.set_down(true);
    let (a, _, _) = app.paid_order("MUG-BRASS", 1, "stripe").await;
    let (b, _, _) = app.paid_order("CHAI-250G", 2, "razorpay").await;
    dead_until(&app, 2).await;
    app.server.parts.carrier_faults.set_down(false);

    let r = redrive(&app, Some(json!({"limit": 1})), Some(&admin)).await;
    assert_eq!(r.body, json!({"redriven": 1}), "{}", r.text);
    let left = list(&app, "", Some(&admin)).await;
    assert_eq!(left.body["count"], 1, "{}", left.text);
    let r = redrive(&app, Some(json!({"limit": 100})), Some(&admin)).await;
    assert_eq!(r.body, json!({"redriven": 1}), "{}", r.text);
    for id in [a, b] {
        app.order_until(&id, |o| o["status"] == "fulfilled").await;
    }
}
