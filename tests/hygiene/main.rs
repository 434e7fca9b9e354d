//! Secrets hygiene: every route is driven with known secrets, tokens and signatures while the
//! server logs at DEBUG into a buffer, and none of those values may appear in what was logged.
//! Its own test binary, because it installs the process-wide log subscriber.

use oms_core::Secret;
use oms_core::webhook::signature::hmac_hex;
use oms_core::webhook::simulate::{
    razorpay_order_paid, razorpay_signature, stripe_session_paid, stripe_signature,
};
use oms_e2e::{JWT_SECRET, Options, TestApp, inr, order_body};
use oms_memory::CapturedLogs;
use serde_json::json;

const STRIPE_WEBHOOK: &str = "whsec_hygiene_S7r1peW3bh00k";
const RAZORPAY_WEBHOOK: &str = "rzp_hygiene_W3bh00kS3cr3t";
const RAZORPAY_KEY: &str = "rzp_hygiene_K3yS3cr3t";

#[tokio::test]
async fn no_secret_token_or_signature_reaches_the_logs() {
    let logs = CapturedLogs::default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug")
        .with_writer(logs.clone())
        .init();

    let app = TestApp::spawn_with(Options {
        env: vec![
            ("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK.into()),
            ("RAZORPAY_WEBHOOK_SECRET", RAZORPAY_WEBHOOK.into()),
            ("RAZORPAY_KEY_SECRET", RAZORPAY_KEY.into()),
            // The worker runs, so its steps log too.
            ("DEV_BACKGROUND", "true".into()),
        ],
        ..Options::default()
    })
    .await;
    let mut sensitive: Vec<String> = vec![
        STRIPE_WEBHOOK.into(),
        RAZORPAY_WEBHOOK.into(),
        RAZORPAY_KEY.into(),
        JWT_SECRET.into(),
    ];

    assert_eq!(app.get("/health").await.status, 200);
    assert_eq!(app.get("/products").await.status, 200);

    // A signed-in user's order, and the user's list.
    let user = app.token("hygiene-user");
    let admin = app.admin_token("hygiene-admin");
    sensitive.extend([user.clone(), admin.clone()]);
    let r = app
        .create_order(
            &order_body("CHAI-250G", 1, "stripe"),
            Some(&user),
            Some("idem-hygiene-1"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let stripe_order = r.body["orderId"].as_str().unwrap().to_owned();
    let session = r.body["payment"]["sessionId"].as_str().unwrap().to_owned();
    let amount = r.body["amount"].as_i64().unwrap();
    assert_eq!(
        app.get_order(&stripe_order, Some(&user), None).await.status,
        200
    );
    let list = app
        .send(app.http.get(app.url("/orders")).bearer_auth(&user))
        .await;
    assert_eq!(list.status, 200);
    let forged = format!("{}x", &user[..user.len() - 1]);
    sensitive.push(forged.clone());
    assert_eq!(
        app.send(app.http.get(app.url("/orders")).bearer_auth(&forged))
            .await
            .status,
        401
    );

    // A guest order read with its access token, and with a wrong one.
    let (guest_order, rzp_order, access, guest_amount) =
        app.guest_order("MUG-BRASS", 1, "razorpay").await;
    sensitive.push(access.clone());
    assert_eq!(
        app.get_order(&guest_order, None, Some(&access))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get_order(&guest_order, None, Some("otk_wrong_hygiene_token"))
            .await
            .status,
        404
    );

    // Razorpay Checkout's confirmation, with a bad and a good signature.
    let checkout_sig = hmac_hex(
        &Secret::new(RAZORPAY_KEY),
        format!("{rzp_order}|pay_hyg1").as_bytes(),
    );
    sensitive.push(checkout_sig.clone());
    for sig in ["ab".repeat(32), checkout_sig] {
        app.send(
            app.http
                .post(app.url(&format!("/orders/{guest_order}/razorpay/verify")))
                .header("X-Order-Token", &access)
                .json(&json!({"razorpayOrderId": rzp_order, "razorpayPaymentId": "pay_hyg1", "razorpaySignature": sig})),
        )
        .await;
    }

    // Webhooks: a forged and a good Stripe delivery, then Razorpay's.
    let now = app.clock_now().unix_seconds();
    let body = stripe_session_paid(
        "evt_hygiene_1",
        "checkout.session.completed",
        &session,
        "pi_hygiene",
        Some(&stripe_order),
        inr(amount),
        now,
    );
    let good = stripe_signature(&Secret::new(STRIPE_WEBHOOK), now, &body);
    let bad = stripe_signature(&Secret::new("whsec_wrong"), now, &body);
    sensitive.extend([good.clone(), bad.clone()]);
    for sig in [&bad, &good] {
        app.send(
            app.http
                .post(app.url("/webhooks/stripe"))
                .header("content-type", "application/json")
                .header("stripe-signature", sig)
                .body(body.clone()),
        )
        .await;
    }
    let paid = razorpay_order_paid(
        "pay_hyg1",
        &rzp_order,
        Some(&guest_order),
        inr(guest_amount),
    );
    let rzp_sig = razorpay_signature(&Secret::new(RAZORPAY_WEBHOOK), &paid);
    sensitive.push(rzp_sig.clone());
    let r = app
        .send(
            app.http
                .post(app.url("/webhooks/razorpay"))
                .header("x-razorpay-signature", &rzp_sig)
                .header("x-razorpay-event-id", "evt_rzp_hygiene")
                .body(paid.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The admin route, as a non-admin and as an admin.
    for token in [&user, &admin] {
        app.send(
            app.http
                .post(app.url(&format!("/admin/orders/{stripe_order}/clear-review")))
                .bearer_auth(token),
        )
        .await;
    }
    // The catalog routes, as a non-admin and as an admin.
    for token in [&user, &admin] {
        app.send(
            app.http
                .put(app.url("/admin/products/HYGIENE-1"))
                .bearer_auth(token)
                .json(&json!({"name": "Hygiene", "unitPrice": 100, "currency": "INR", "available": 2})),
        )
        .await;
        app.send(
            app.http
                .post(app.url("/admin/products/HYGIENE-1/stock"))
                .bearer_auth(token)
                .json(&json!({"delta": 3, "reason": "restock"})),
        )
        .await;
        app.send(
            app.http
                .get(app.url("/admin/products/HYGIENE-1/stock"))
                .bearer_auth(token),
        )
        .await;
    }
    assert_eq!(app.available("HYGIENE-1").await, 5);
    // Paid (the in-process worker may already have fulfilled it).
    let status = app.order(&stripe_order).await["status"].clone();
    assert!(status == "paid" || status == "fulfilled", "{status}");

    let logged = logs.text();
    // The capture works: the requests above were logged, with their orders.
    assert!(
        logged.contains(&stripe_order) && logged.contains("webhook signature rejected"),
        "the capture saw no request logs:\n{logged}"
    );
    for value in &sensitive {
        assert!(
            !logged.contains(value.as_str()),
            "a secret, token or signature was logged: {value}"
        );
    }
    // A signature header is only ever reduced to nothing; its hex never shows up in part.
    let v1 = good.split("v1=").nth(1).unwrap();
    assert!(!logged.contains(v1));
}
