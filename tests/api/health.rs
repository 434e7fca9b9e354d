use oms_e2e::TestApp;

#[tokio::test]
async fn health_reports_ok_with_the_version_and_request_id() {
    let app = TestApp::spawn().await;
    let r = app.get("/health").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        r.body["request"]["requestId"].as_str(),
        r.header("x-request-id")
    );
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn a_well_formed_client_request_id_is_echoed_and_a_hostile_one_replaced() {
    let app = TestApp::spawn().await;
    let r = app
        .send(
            app.http
                .get(app.url("/health"))
                .header("x-request-id", "shop-7f3a"),
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("shop-7f3a"));
    let r = app
        .send(
            app.http
                .get(app.url("/health"))
                .header("x-request-id", "bad id\"<script>"),
        )
        .await;
    assert!(r.header("x-request-id").unwrap().starts_with("req_"));
}

#[tokio::test]
async fn the_catalog_lists_prices_in_minor_units_and_stock() {
    let app = TestApp::spawn().await;
    let r = app.get("/products").await;
    assert_eq!(r.status, 200);
    let products = r.body["products"].as_array().unwrap();
    assert_eq!(products.len(), 3);
    let saree = products.iter().find(|p| p["sku"] == "SAREE-RED").unwrap();
    assert_eq!(saree["unitPrice"], 1_849_900);
    assert_eq!(saree["currency"], "INR");
    assert_eq!(saree["available"], 3);
    assert_eq!(saree["name"], "Kanjivaram saree");
}
