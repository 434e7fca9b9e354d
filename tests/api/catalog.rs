//! The operators' catalog: products created and repriced through `PUT /admin/products/{sku}`,
//! stock adjusted through `POST /admin/products/{sku}/stock` with a record of every change.

use oms_e2e::{Reply, TestApp, order_body};
use serde_json::{Value, json};

const ADMIN: &str = "ops-admin";

async fn put_product(app: &TestApp, token: Option<&str>, sku: &str, body: &Value) -> Reply {
    let mut req = app
        .http
        .put(app.url(&format!("/admin/products/{sku}")))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await
}

async fn adjust(app: &TestApp, token: Option<&str>, sku: &str, body: &Value) -> Reply {
    let mut req = app
        .http
        .post(app.url(&format!("/admin/products/{sku}/stock")))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await
}

async fn records(app: &TestApp, token: Option<&str>, sku: &str, query: &str) -> Reply {
    let mut req = app
        .http
        .get(app.url(&format!("/admin/products/{sku}/stock{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await
}

fn product(name: &str, price: i64, available: Option<u32>) -> Value {
    let mut body = json!({"name": name, "unitPrice": price, "currency": "INR"});
    if let Some(a) = available {
        body["available"] = json!(a);
    }
    body
}

/// The catalog entry for `sku` as `GET /products` lists it.
async fn listed(app: &TestApp, sku: &str) -> Option<Value> {
    let r = app.get("/products").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["products"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["sku"] == sku))
        .cloned()
}

/// Every stock record of `sku`, newest first, read page by page.
async fn all_records(app: &TestApp, sku: &str) -> Vec<Value> {
    let admin = app.admin_token(ADMIN);
    let r = records(app, Some(&admin), sku, "?limit=100").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["nextCursor"].is_null(), "{}", r.text);
    r.body["records"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_new_product_is_created_then_repriced_without_touching_its_stock() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token(ADMIN);

    let r = put_product(
        &app,
        Some(&admin),
        "TEA-DARJ-100G",
        &product("Darjeeling, 100 g", 45_000, Some(12)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"sku": "TEA-DARJ-100G", "name": "Darjeeling, 100 g", "unitPrice": 45_000, "currency": "INR", "available": 12})
    );
    assert_eq!(listed(&app, "TEA-DARJ-100G").await, Some(r.body.clone()));

    // A reload of the catalog file: the stock in it is not applied to a known product.
    let r = put_product(
        &app,
        Some(&admin),
        "TEA-DARJ-100G",
        &product("Darjeeling first flush, 100 g", 49_900, Some(500)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Darjeeling first flush, 100 g");
    assert_eq!(r.body["unitPrice"], 49_900);
    assert_eq!(
        r.body["available"], 12,
        "stock changes go through the stock route"
    );
    assert_eq!(listed(&app, "TEA-DARJ-100G").await, Some(r.body.clone()));

    // Without `available` a product starts with no stock, and can be ordered once restocked.
    let r = put_product(
        &app,
        Some(&admin),
        "TEA-NILGIRI",
        &product("Nilgiri, 100 g", 39_900, None),
    )
    .await;
    assert_eq!(
        (r.status, r.body["available"].as_u64()),
        (201, Some(0)),
        "{}",
        r.text
    );
    let order = app
        .create_order(&order_body("TEA-NILGIRI", 1, "razorpay"), None, None)
        .await;
    assert_eq!(order.status, 409, "{}", order.text);
    let r = adjust(
        &app,
        Some(&admin),
        "TEA-NILGIRI",
        &json!({"delta": 4, "reason": "first delivery"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let order = app
        .create_order(&order_body("TEA-NILGIRI", 1, "razorpay"), None, None)
        .await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert_eq!(
        order.body["amount"], 39_900,
        "priced from the new catalog entry"
    );
    assert_eq!(app.available("TEA-NILGIRI").await, 3);
}

#[tokio::test]
async fn restocks_and_write_offs_move_stock_and_are_listed_newest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token(ADMIN);
    let r = put_product(
        &app,
        Some(&admin),
        "MUG-STEEL",
        &product("Steel mug", 49_900, Some(10)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = adjust(
        &app,
        Some(&admin),
        "MUG-STEEL",
        &json!({"delta": 5, "reason": "restock from supplier"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["product"]["available"], 15);
    let first = r.body["record"].clone();
    assert_eq!(
        first,
        json!({"sku": "MUG-STEEL", "number": 1, "at": app.clock_now().to_string(), "by": ADMIN,
               "delta": 5, "reason": "restock from supplier", "level": 15})
    );

    // An order takes 2 between the adjustments: the next record's level counts it.
    let order = app
        .create_order(&order_body("MUG-STEEL", 2, "razorpay"), None, None)
        .await;
    assert_eq!(order.status, 201, "{}", order.text);
    app.clock.advance(std::time::Duration::from_secs(60));
    let r = adjust(
        &app,
        Some(&admin),
        "MUG-STEEL",
        &json!({"delta": -3, "reason": "damaged in transit"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["product"]["available"], 10);
    assert_eq!(r.body["record"]["level"], 10);
    assert_eq!(app.available("MUG-STEEL").await, 10);

    let list = all_records(&app, "MUG-STEEL").await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], r.body["record"], "newest first");
    assert_eq!(list[0]["at"], app.clock_now().to_string());
    assert_eq!(list[1], first);

    // Paged: one at a time, the cursor leading to the older record and then to nothing.
    let page = records(&app, Some(&admin), "MUG-STEEL", "?limit=1").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["product"]["available"], 10);
    assert_eq!(page.body["records"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["records"][0]["number"], 2);
    let cursor = page.body["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let page = records(
        &app,
        Some(&admin),
        "MUG-STEEL",
        &format!("?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["records"][0]["number"], 1);
    assert!(page.body["nextCursor"].is_null(), "{}", page.text);

    // A cursor issued for another product is refused.
    let r = put_product(
        &app,
        Some(&admin),
        "MUG-BRASS-2",
        &product("Brass mug", 99_900, Some(1)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = records(
        &app,
        Some(&admin),
        "MUG-BRASS-2",
        &format!("?cursor={cursor}"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error_code(), "validation_failed");
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "cursor");
}

#[tokio::test]
async fn a_write_off_below_zero_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token(ADMIN);
    let r = put_product(
        &app,
        Some(&admin),
        "SCARF-SILK",
        &product("Silk scarf", 259_900, Some(3)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = adjust(
        &app,
        Some(&admin),
        "SCARF-SILK",
        &json!({"delta": -4, "reason": "stock count"}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "insufficient_stock");
    assert_eq!(
        r.body["error"]["details"]["items"],
        json!([{"sku": "SCARF-SILK", "requested": 4, "available": 3}]),
        "the create-order route's shape"
    );
    assert_eq!(app.available("SCARF-SILK").await, 3);
    assert!(all_records(&app, "SCARF-SILK").await.is_empty());

    let r = adjust(
        &app,
        Some(&admin),
        "SCARF-SILK",
        &json!({"delta": -3, "reason": "stock count"}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["record"]["level"].as_u64()),
        (200, Some(0)),
        "{}",
        r.text
    );
    let r = adjust(
        &app,
        Some(&admin),
        "SCARF-SILK",
        &json!({"delta": -1, "reason": "stock count"}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["error"]["details"]["items"][0]["available"], 0);
    assert_eq!(app.available("SCARF-SILK").await, 0);
    assert_eq!(all_records(&app, "SCARF-SILK").await.len(), 1);
}

#[tokio::test]
async fn guests_get_401_and_customers_403_on_every_catalog_route_whatever_they_send() {
    let app = TestApp::spawn().await;
    let customer = app.token("shopper");
    let good = product("Chai", 34_900, Some(5));
    let bad = json!({"name": "", "unitPrice": -1, "currency": "inr"});
    for (token, status, code) in [
        (None, 401, "unauthorized"),
        (Some(customer.as_str()), 403, "forbidden"),
    ] {
        for body in [&good, &bad] {
            let r = put_product(&app, token, "NEW-SKU", body).await;
            assert_eq!((r.status, r.error_code()), (status, code), "{}", r.text);
            let r = adjust(
                &app,
                token,
                "CHAI-250G",
                &json!({"delta": 1, "reason": "x"}),
            )
            .await;
            assert_eq!((r.status, r.error_code()), (status, code), "{}", r.text);
            let r = adjust(&app, token, "CHAI-250G", &json!({"delta": 0})).await;
            assert_eq!((r.status, r.error_code()), (status, code), "{}", r.text);
        }
        let r = records(&app, token, "CHAI-250G", "").await;
        assert_eq!((r.status, r.error_code()), (status, code), "{}", r.text);
    }
    // The same answers as the existing admin route.
    let clear = "/admin/orders/ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0/clear-review";
    let r = app.send(app.http.post(app.url(clear))).await;
    assert_eq!((r.status, r.error_code()), (401, "unauthorized"));
    let r = app
        .send(app.http.post(app.url(clear)).bearer_auth(&customer))
        .await;
    assert_eq!((r.status, r.error_code()), (403, "forbidden"));

    assert_eq!(listed(&app, "NEW-SKU").await, None, "nothing was created");
    assert_eq!(
        app.available("CHAI-250G").await,
        1000,
        "nothing was adjusted"
    );
}

#[tokio::test]
async fn a_bad_sku_price_currency_or_adjustment_is_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token(ADMIN);
    let field = |r: &Reply| {
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.error_code(), "validation_failed");
        r.body["error"]["details"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let ok = product("Chai", 34_900, None);
    for (sku, body, expected) in [
        ("bad%20sku", ok.clone(), vec!["sku"]),
        ("x%23y", ok.clone(), vec!["sku"]),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": -1, "currency": "INR"}),
            vec!["unitPrice"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": 0, "currency": "INR"}),
            vec!["unitPrice"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": 1.5, "currency": "INR"}),
            vec!["unitPrice"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": "349", "currency": "INR"}),
            vec!["unitPrice"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": 100, "currency": "inr"}),
            vec!["currency"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": 100, "currency": "XYZ"}),
            vec!["currency"],
        ),
        (
            "CHAI",
            json!({"name": " ", "unitPrice": 100, "currency": "INR"}),
            vec!["name"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": 100, "currency": "INR", "available": -2}),
            vec!["available"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "currency": "INR"}),
            vec!["unitPrice"],
        ),
        (
            "CHAI",
            json!({"name": "Chai", "unitPrice": 100, "currency": "INR", "colour": "red"}),
            vec!["colour"],
        ),
        (
            "bad%20sku",
            json!({"name": "", "unitPrice": 0, "currency": "usd"}),
            vec!["sku", "name", "currency", "unitPrice"],
        ),
    ] {
        let r = put_product(&app, Some(&admin), sku, &body).await;
        assert_eq!(field(&r), expected, "{sku} {body}");
    }
    assert_eq!(listed(&app, "CHAI").await, None, "nothing was created");

    for (sku, body, expected) in [
        (
            "bad%20sku",
            json!({"delta": 1, "reason": "restock"}),
            vec!["sku"],
        ),
        (
            "CHAI-250G",
            json!({"delta": 0, "reason": "restock"}),
            vec!["delta"],
        ),
        (
            "CHAI-250G",
            json!({"delta": 1_000_001, "reason": "restock"}),
            vec!["delta"],
        ),
        (
            "CHAI-250G",
            json!({"delta": -1_000_001, "reason": "restock"}),
            vec!["delta"],
        ),
        (
            "CHAI-250G",
            json!({"delta": 1.5, "reason": "restock"}),
            vec!["delta"],
        ),
        (
            "CHAI-250G",
            json!({"delta": i64::MIN, "reason": "restock"}),
            vec!["delta"],
        ),
        (
            "CHAI-250G",
            json!({"delta": u64::MAX, "reason": "restock"}),
            vec!["delta"],
        ),
        (
            "CHAI-250G",
            json!({"delta": 1, "reason": ""}),
            vec!["reason"],
        ),
        (
            "CHAI-250G",
            json!({"delta": 1, "reason": "r".repeat(201)}),
            vec!["reason"],
        ),
        ("CHAI-250G", json!({"delta": 1}), vec!["reason"]),
    ] {
        let r = adjust(&app, Some(&admin), sku, &body).await;
        assert_eq!(field(&r), expected, "{sku} {body}");
    }
    let r = records(&app, Some(&admin), "bad%20sku", "").await;
    assert_eq!(field(&r), vec!["sku"]);
    let r = records(&app, Some(&admin), "CHAI-250G", "?limit=0").await;
    assert_eq!(field(&r), vec!["limit"]);
    assert_eq!(
        app.available("CHAI-250G").await,
        1000,
        "nothing was adjusted"
    );
}

#[tokio::test]
async fn the_stock_routes_answer_404_for_an_unknown_sku() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token(ADMIN);
    let r = adjust(
        &app,
        Some(&admin),
        "GHOST-1",
        &json!({"delta": 5, "reason": "restock"}),
    )
    .await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"), "{}", r.text);
    let r = records(&app, Some(&admin), "GHOST-1", "").await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"), "{}", r.text);
    assert_eq!(
        listed(&app, "GHOST-1").await,
        None,
        "a restock creates nothing"
    );
}

#[tokio::test]
async fn concurrent_write_offs_never_go_below_zero_and_every_success_is_recorded() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token(ADMIN);
    let r = put_product(
        &app,
        Some(&admin),
        "DROP-2",
        &product("Limited drop", 99_900, Some(10)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let write_off = |i: usize| {
        let (app, admin) = (&app, &admin);
        async move {
            adjust(
                app,
                Some(admin),
                "DROP-2",
                &json!({"delta": -1, "reason": format!("sold at the stall #{i}")}),
            )
            .await
        }
    };
    let replies = futures_util::future::join_all((0..20).map(write_off)).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    let ok: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    let refused = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!((ok.len(), refused), (10, 10), "{statuses:?}");
    for r in replies.iter().filter(|r| r.status == 409) {
        assert_eq!(r.error_code(), "insufficient_stock");
    }
    assert_eq!(app.available("DROP-2").await, 0);

    let list = all_records(&app, "DROP-2").await;
    assert_eq!(list.len(), ok.len(), "one record per successful adjustment");
    for (i, rec) in list.iter().enumerate() {
        let number = 10 - i as u64;
        assert_eq!(rec["number"], number, "newest first: {list:?}");
        assert_eq!(
            rec["level"],
            10 - number,
            "each level once, never below zero"
        );
        assert_eq!(rec["delta"], -1);
    }
    let mut answered: Vec<&Value> = ok.iter().map(|r| &r.body["record"]).collect();
    answered.sort_by_key(|r| std::cmp::Reverse(r["number"].as_u64()));
    assert_eq!(
        answered,
        list.iter().collect::<Vec<_>>(),
        "the records are the answers given"
    );
}
