//! `GET /orders/{orderId}/downloads/{sku}`: a short-lived link to a digital product's file for
//! the order's buyer once it is paid — the dev server's signed route in memory, an S3
//! pre-signed link (to the local AWS API server) with `DEV_BACKEND=aws`.

use oms_core::webhook::simulate;
use oms_e2e::{Options, RAZORPAY_SECRET, Reply, TestApp, inr};
use serde_json::{Value, json};

const GIFT: &str = "GIFT-CARD-1000";
const CATALOG: &str = r#"{"currency":"INR","products":[
  {"sku":"GIFT-CARD-1000","name":"Gift card","unitPrice":100000,"available":1000},
  {"sku":"CHAI-250G","name":"Masala chai 250 g","unitPrice":34900,"available":1000}
]}"#;
/// The demo gift card's file (`demo/downloads/`), which every link must fetch.
const GIFT_FILE: &[u8] = include_bytes!("../../demo/downloads/GIFT-CARD-1000");

async fn app() -> TestApp {
    TestApp::spawn_with(Options {
        catalog: CATALOG,
        env: Vec::new(),
    })
    .await
}

/// A guest order of `items`: `(orderId, razorpay order id, accessToken, amount)`.
async fn guest_order(app: &TestApp, items: Value) -> (String, String, String, i64) {
    let mut body = oms_e2e::order_body(GIFT, 1, "razorpay");
    body["items"] = items;
    let r = app.create_order(&body, None, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.body["orderId"].as_str().unwrap().to_owned(),
        r.body["payment"]["providerOrderId"]
            .as_str()
            .unwrap()
            .to_owned(),
        r.body["accessToken"].as_str().unwrap().to_owned(),
        r.body["amount"].as_i64().unwrap(),
    )
}

/// Razorpay captures `amount` for the order.
async fn pay(app: &TestApp, id: &str, razorpay_order: &str, amount: i64) {
    let payment = format!("pay_{}", &id[4..18]);
    let body = simulate::razorpay_payment_event(
        "payment.captured",
        &payment,
        razorpay_order,
        Some(id),
        inr(amount),
    );
    let r = app
        .razorpay_event(&body, RAZORPAY_SECRET, &format!("evt_paid_{id}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn download(app: &TestApp, id: &str, sku: &str, order_token: Option<&str>) -> Reply {
    let mut req = app
        .http
        .get(app.url(&format!("/orders/{id}/downloads/{sku}")));
    if let Some(t) = order_token {
        req = req.header("X-Order-Token", t);
    }
    app.send(req).await
}

/// Fetches a link's file; `(status, bytes)`.
async fn fetch(app: &TestApp, url: &str) -> (u16, Vec<u8>) {
    let res = app
        .http
        .get(url)
        .send()
        .await
        .expect("the link's host answers");
    let status = res.status().as_u16();
    (status, res.bytes().await.expect("a body").to_vec())
}

fn granted(order: &Value) -> usize {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "download_granted")
        .count()
}

#[tokio::test]
async fn a_paid_gift_card_gives_its_buyer_a_short_lived_link_to_its_file_and_nobody_else() {
    let app = app().await;
    let items = json!([{"sku": GIFT, "quantity": 1}, {"sku": "CHAI-250G", "quantity": 1}]);
    let (id, rzp, token, amount) = guest_order(&app, items).await;

    let r = download(&app, &id, GIFT, Some(&token)).await;
    assert_eq!((r.status, r.error_code()), (409, "not_paid"), "{}", r.text);

    pay(&app, &id, &rzp, amount).await;
    let r = download(&app, &id, GIFT, Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sku"], GIFT);
    let expires = app.clock_now().plus(std::time::Duration::from_secs(300));
    assert_eq!(r.body["expiresAt"], json!(expires));
    let url = r.body["url"].as_str().unwrap();
    if app.server.parts.memory.is_some() {
        assert!(
            url.contains("/dev/downloads/GIFT-CARD-1000?expires="),
            "{url}"
        );
    } else {
        // Pre-signed by S3's client, to the local AWS API server's bucket.
        assert!(url.contains("/downloads/GIFT-CARD-1000?"), "{url}");
        assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=300"));
    }
    assert_eq!(fetch(&app, url).await, (200, GIFT_FILE.to_vec()));
    let entry = app.order(&id).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "download_granted")
        .cloned()
        .expect("the grant is on the timeline");
    assert_eq!(
        (&entry["meta"]["sku"], &entry["meta"]["by"]),
        (&json!(GIFT), &json!("guest"))
    );
    assert_eq!(entry["meta"]["expiresAt"], json!(expires));

    // Anyone else, a physical SKU, a SKU not on the order: as if it did not exist.
    let stranger = app.token("someone-else");
    let others = [
        download(&app, &id, GIFT, Some("not-the-token")).await,
        download(&app, &id, GIFT, None).await,
        app.send(
            app.http
                .get(app.url(&format!("/orders/{id}/downloads/{GIFT}")))
                .bearer_auth(&stranger),
        )
        .await,
        download(&app, &id, "CHAI-250G", Some(&token)).await,
        download(&app, &id, "MUG-BRASS", Some(&token)).await,
        download(&app, "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0", GIFT, Some(&token)).await,
        download(&app, &id, "not%20a%20sku", Some(&token)).await,
    ];
    for r in others {
        assert_eq!((r.status, r.error_code()), (404, "not_found"), "{}", r.text);
    }
    assert_eq!(granted(&app.order(&id).await), 1, "refusals record nothing");
}

#[tokio::test]
async fn an_order_held_for_review_is_locked_until_an_admin_clears_it() {
    let app = app().await;
    let (id, rzp, token, amount) = guest_order(&app, json!([{"sku": GIFT, "quantity": 1}])).await;
    pay(&app, &id, &rzp, amount - 1).await;
    assert_eq!(app.order(&id).await["requiresReview"], true);

    let r = download(&app, &id, GIFT, Some(&token)).await;
    assert_eq!(
        (r.status, r.error_code()),
        (423, "under_review"),
        "{}",
        r.text
    );

    let admin = app.admin_token("test-admin");
    let clear = app.url(&format!("/admin/orders/{id}/clear-review"));
    let r = app.send(app.http.post(clear).bearer_auth(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = download(&app, &id, GIFT, Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["url"].as_str().unwrap();
    assert_eq!(fetch(&app, url).await, (200, GIFT_FILE.to_vec()));
}

#[tokio::test]
async fn a_full_refund_ends_the_downloads() {
    let app = app().await;
    let (id, rzp, token, amount) = guest_order(&app, json!([{"sku": GIFT, "quantity": 1}])).await;
    pay(&app, &id, &rzp, amount).await;
    assert_eq!(download(&app, &id, GIFT, Some(&token)).await.status, 200);

    let r = app.refund(&id, Some("refund-all"), &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    app.order_until(&id, |o| o["paymentStatus"] == "refunded")
        .await;
    let r = download(&app, &id, GIFT, Some(&token)).await;
    assert_eq!((r.status, r.error_code()), (409, "not_paid"), "{}", r.text);
}

#[tokio::test]
async fn the_eleventh_link_for_a_product_is_refused_and_recorded_nowhere() {
    let app = app().await;
    let (id, rzp, token, amount) = guest_order(&app, json!([{"sku": GIFT, "quantity": 1}])).await;
    pay(&app, &id, &rzp, amount).await;
    for n in 1..=10 {
        let r = download(&app, &id, GIFT, Some(&token)).await;
        assert_eq!(r.status, 200, "grant {n}: {}", r.text);
    }
    let before = app.order(&id).await;
    let r = download(&app, &id, GIFT, Some(&token)).await;
    assert_eq!(
        (r.status, r.error_code()),
        (403, "download_limit"),
        "{}",
        r.text
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains("10"));
    let after = app.order(&id).await;
    assert_eq!(granted(&after), 10);
    assert_eq!(after["timeline"], before["timeline"], "nothing recorded");
    assert_eq!(after["updatedAt"], before["updatedAt"], "nothing changed");
}

#[tokio::test]
async fn a_forged_or_expired_local_link_is_refused() {
    let app = app().await;
    if app.server.parts.memory.is_none() {
        return; // S3 checks its own links.
    }
    let (id, rzp, token, amount) = guest_order(&app, json!([{"sku": GIFT, "quantity": 1}])).await;
    pay(&app, &id, &rzp, amount).await;
    let r = download(&app, &id, GIFT, Some(&token)).await;
    let url = r.body["url"].as_str().unwrap().to_owned();
    let forged = url.replace("GIFT-CARD-1000?", "CHAI-250G?");
    let r = app.send(app.http.get(&forged)).await;
    assert_eq!((r.status, r.error_code()), (403, "forbidden"), "{}", r.text);
    let unsigned = url.split('?').next().unwrap().to_owned();
    let r = app.send(app.http.get(&unsigned)).await;
    assert_eq!((r.status, r.error_code()), (403, "forbidden"), "{}", r.text);
    app.clock.advance(std::time::Duration::from_secs(301));
    let r = app.send(app.http.get(&url)).await;
    assert_eq!((r.status, r.error_code()), (403, "forbidden"), "{}", r.text);
}
