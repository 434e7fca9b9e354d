use oms_e2e::{Options, TestApp, order_body};

#[tokio::test]
async fn n_plus_25_concurrent_orders_for_n_units_sell_exactly_n() {
    const N: usize = 40;
    let catalog: &'static str = Box::leak(
        format!(r#"{{"currency":"INR","products":[{{"sku":"DROP-1","name":"Limited drop","unitPrice":99900,"available":{N}}}]}}"#)
            .into_boxed_str(),
    );
    let app = TestApp::spawn_with(Options {
        catalog,
        ..Options::default()
    })
    .await;
    let body = order_body("DROP-1", 1, "razorpay");
    // Like a storefront: each checkout has its own Idempotency-Key and retries a 503 (a local
    // AWS API server under 65 concurrent transactions may time out); the key makes the retry safe.
    let buy = |i: usize| {
        let (app, body) = (&app, &body);
        async move {
            let key = format!("checkout-{i}");
            for _ in 0..5 {
                let r = app.create_order(body, None, Some(&key)).await;
                if r.status != 503 {
                    return r;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            panic!("still unavailable after 5 tries");
        }
    };
    let replies = futures_util::future::join_all((0..N + 25).map(buy)).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();

    let created = replies.iter().filter(|r| r.status == 201).count();
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(created, N, "{statuses:?}");
    assert_eq!(refused.len(), 25, "{statuses:?}");
    for r in refused {
        assert_eq!(r.error_code(), "insufficient_stock");
        assert_eq!(r.body["error"]["details"]["items"][0]["sku"], "DROP-1");
    }
    assert_eq!(app.available("DROP-1").await, 0);
}

#[tokio::test]
async fn an_order_that_cannot_be_filled_reserves_nothing_and_names_the_short_skus() {
    let app = TestApp::spawn().await;
    let mut body = order_body("CHAI-250G", 5, "stripe");
    body["items"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"sku": "SAREE-RED", "quantity": 4}));
    let r = app.create_order(&body, None, None).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error_code(), "insufficient_stock");
    let items = r.body["error"]["details"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["sku"], "SAREE-RED");
    assert_eq!(items[0]["requested"], 4);
    assert_eq!(items[0]["available"], 3);
    assert_eq!(
        app.available("CHAI-250G").await,
        1000,
        "no partial reservation"
    );
    assert_eq!(app.available("SAREE-RED").await, 3);
}
