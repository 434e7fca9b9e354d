use std::time::Duration;

use oms_e2e::{TestApp, order_body};

async fn place(app: &TestApp, token: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let r = app
            .create_order(&order_body("CHAI-250G", 1, "razorpay"), Some(token), None)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["orderId"].as_str().unwrap().to_owned());
        app.clock.advance(Duration::from_secs(1));
    }
    ids
}

fn ids_of(r: &oms_e2e::Reply) -> Vec<String> {
    r.body["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("no orders in {}", r.text))
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn my_orders_come_newest_first_in_pages_that_join_up() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice");
    let bob = app.token("bob");
    let mut mine = place(&app, &alice, 7).await;
    place(&app, &bob, 2).await;
    mine.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/orders?limit=3".to_owned(),
            Some(c) => format!("/orders?limit=3&cursor={c}"),
        };
        let r = app
            .send(app.http.get(app.url(&path)).bearer_auth(&alice))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        let ids = ids_of(&r);
        assert!(ids.len() <= 3);
        seen.extend(ids);
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, mine,
        "all of alice's orders, newest first, none of bob's"
    );
}

#[tokio::test]
async fn the_page_size_defaults_to_twenty_and_is_capped_at_a_hundred() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice");
    place(&app, &alice, 23).await;
    let r = app
        .send(app.http.get(app.url("/orders")).bearer_auth(&alice))
        .await;
    assert_eq!(ids_of(&r).len(), 20);
    assert!(r.body["nextCursor"].is_string());
    let r = app
        .send(
            app.http
                .get(app.url("/orders?limit=500"))
                .bearer_auth(&alice),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(ids_of(&r).len(), 23);
    assert!(r.body["nextCursor"].is_null());
}

#[tokio::test]
async fn listing_needs_a_sign_in_and_sane_parameters() {
    let app = TestApp::spawn().await;
    let r = app.get("/orders").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "unauthorized");

    let alice = app.token("alice");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("cursor=zz", "cursor"),
    ] {
        let r = app
            .send(
                app.http
                    .get(app.url(&format!("/orders?{query}")))
                    .bearer_auth(&alice),
            )
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert_eq!(r.error_code(), "validation_failed");
        assert_eq!(r.body["error"]["details"]["fields"][0]["field"], field);
    }
}
