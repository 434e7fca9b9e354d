use oms_e2e::{TestApp, order_body};

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_response_without_a_second_reservation() {
    let app = TestApp::spawn().await;
    let body = order_body("MUG-BRASS", 2, "razorpay");
    let first = app.create_order(&body, None, Some("key-1")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = app.create_order(&body, None, Some("key-1")).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.text, first.text,
        "byte-identical response, same access token"
    );
    assert_eq!(app.available("MUG-BRASS").await, 48);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    app.create_order(&order_body("MUG-BRASS", 2, "razorpay"), None, Some("key-1"))
        .await;
    let r = app
        .create_order(&order_body("MUG-BRASS", 3, "razorpay"), None, Some("key-1"))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error_code(), "idempotency_key_reused");
    assert_eq!(app.available("MUG-BRASS").await, 48);
}

#[tokio::test]
async fn keys_are_private_to_each_caller() {
    let app = TestApp::spawn().await;
    let body = order_body("MUG-BRASS", 1, "razorpay");
    let a = app
        .create_order(&body, Some(&app.token("alice")), Some("same"))
        .await;
    let b = app
        .create_order(&body, Some(&app.token("bob")), Some("same"))
        .await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.body["orderId"], b.body["orderId"]);
    assert_eq!(app.available("MUG-BRASS").await, 48);
}

#[tokio::test]
async fn a_key_expires_after_a_day() {
    let app = TestApp::spawn().await;
    let body = order_body("MUG-BRASS", 1, "razorpay");
    let a = app.create_order(&body, None, Some("daily")).await;
    app.clock
        .advance(std::time::Duration::from_secs(24 * 3600 + 1));
    let b = app.create_order(&body, None, Some("daily")).await;
    assert_eq!(b.status, 201);
    assert_eq!(b.header("idempotent-replayed"), None);
    assert_ne!(a.body["orderId"], b.body["orderId"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_order() {
    let app = TestApp::spawn().await;
    let body = order_body("MUG-BRASS", 1, "stripe");
    let alice = app.token("alice");
    let replies = futures_util::future::join_all(
        (0..10).map(|_| app.create_order(&body, Some(&alice), Some("double-click"))),
    )
    .await;
    let ids: std::collections::HashSet<_> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["orderId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.available("MUG-BRASS").await, 49);
}
