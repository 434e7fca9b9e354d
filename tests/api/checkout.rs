//! The offline stand-in's checkout page, as a person uses it in a browser: the order and three
//! buttons, each an HTML form posting to the same URL.

use oms_e2e::{Options, Reply, TestApp};

const CATALOG: &str = r#"{"currency":"INR","products":[
  {"sku":"CHAI-250G","name":"Chai & <b>biscuits</b>","unitPrice":34900,"available":100}
]}"#;

fn checkout_url(app: &TestApp, checkout: &str) -> String {
    format!("{}/dev/checkout/{checkout}", app.server.base_url)
}

async fn page(app: &TestApp, checkout: &str) -> Reply {
    app.send(app.http.get(checkout_url(app, checkout))).await
}

/// What the page's button `outcome`/`deliverWebhook` posts.
async fn click(app: &TestApp, checkout: &str, form: &[(&str, &str)]) -> Reply {
    app.send(app.http.post(checkout_url(app, checkout)).form(form))
        .await
}

fn is_html(r: &Reply) -> bool {
    r.header("content-type")
        .is_some_and(|ct| ct.starts_with("text/html"))
}

#[tokio::test]
async fn the_checkout_page_shows_the_order_and_its_pay_button_pays_it() {
    let app = TestApp::spawn_with(Options {
        catalog: CATALOG,
        ..Options::default()
    })
    .await;
    let (id, session, _, amount) = app.guest_order("CHAI-250G", 2, "stripe").await;
    assert_eq!(amount, 69_800);

    let r = page(&app, &session).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(is_html(&r), "{:?}", r.headers);
    for shown in [
        id.as_str(),
        "INR 698.00",
        "INR 349.00",
        "CHAI-250G",
        "pending_payment",
        ">Pay</button>",
        ">Fail</button>",
        ">Pay but lose the webhook</button>",
        "method=\"post\"",
        &format!("action=\"/dev/checkout/{session}\""),
    ] {
        assert!(r.text.contains(shown), "{shown} not in {}", r.text);
    }
    // The product's name is data, shown as text: escaped, never markup.
    assert!(
        r.text.contains("Chai &amp; &lt;b&gt;biscuits&lt;/b&gt;"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("<b>biscuits"), "{}", r.text);

    // A form that is not one of the buttons changes nothing.
    let bad = click(&app, &session, &[("outcome", "maybe")]).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(is_html(&bad));
    assert_eq!(app.order(&id).await["status"], "pending_payment");

    // "Pay": the payment is made and its webhook delivered; the order is paid.
    let r = click(
        &app,
        &session,
        &[("outcome", "succeeded"), ("deliverWebhook", "true")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(is_html(&r));
    assert!(r.text.contains("Payment succeeded"), "{}", r.text);
    assert!(
        r.text.contains("<strong id=\"status\">paid</strong>"),
        "{}",
        r.text
    );
    let order = app.order(&id).await;
    assert_eq!(order["status"], "paid", "{order}");
    assert!(
        order["payment"]["providerPaymentId"]
            .as_str()
            .is_some_and(|p| p.starts_with("pi_test_")),
        "{order}"
    );
}

#[tokio::test]
async fn a_razorpay_order_has_a_page_too_and_its_lost_webhook_leaves_the_order_unpaid() {
    let app = TestApp::spawn().await;
    let (id, rzp_order, _, _) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    let r = page(&app, &rzp_order).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("INR 1299.00") && r.text.contains(&id),
        "{}",
        r.text
    );
    assert!(r.text.contains("Razorpay order"), "{}", r.text);

    let r = click(
        &app,
        &rzp_order,
        &[("outcome", "succeeded"), ("deliverWebhook", "false")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("webhook was lost"), "{}", r.text);
    assert_eq!(app.order(&id).await["status"], "pending_payment");
    // The provider holds the payment: reconciliation finds it.
    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    assert_eq!(app.sweep().await["reconciled"], 1);
    assert_eq!(app.order(&id).await["status"], "paid");

    // "Fail" on another order: payment_failed, through the delivered webhook.
    let (other, other_rzp, _, _) = app.guest_order("MUG-BRASS", 1, "razorpay").await;
    let r = click(&app, &other_rzp, &[("outcome", "failed")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Payment failed"), "{}", r.text);
    assert_eq!(app.order(&other).await["status"], "payment_failed");
}

#[tokio::test]
async fn an_unknown_checkout_is_a_not_found_page() {
    let app = TestApp::spawn().await;
    for checkout in [
        "cs_test_NOTOURS",
        "order_NOTOURS0000000",
        "<script>alert(1)",
    ] {
        let r = page(&app, checkout).await;
        assert_eq!(r.status, 404, "{checkout}: {}", r.text);
        assert!(is_html(&r));
        assert!(!r.text.contains("<script>"), "{}", r.text);
        let r = click(&app, checkout, &[("outcome", "succeeded")]).await;
        assert_eq!(r.status, 404, "{checkout}: {}", r.text);
    }
}
