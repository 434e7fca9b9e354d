//! `dev-server load-catalog`, the binary itself, against a dev server on a random port: the
//! shipped example loads, a second run only updates, a bad product fails the run without
//! stopping the others, and a token that is not an admin's loads nothing.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use dev_server::{DevServer, DevSettings, mint_token};
use serde_json::Value;

const SECRET: &str = "load-catalog-test-secret";

async fn spawn() -> DevServer {
    let settings = DevSettings::from_lookup(|k| match k {
        "PORT" => Some("0".into()),
        "DEV_BACKGROUND" => Some("false".into()),
        "DEV_JWT_SECRET" => Some(SECRET.into()),
        _ => None,
    })
    .unwrap();
    dev_server::spawn(&settings).await.unwrap()
}

fn token(groups: &[&str]) -> String {
    mint_token(
        SECRET,
        "catalog-loader",
        None,
        groups,
        Duration::from_secs(600),
    )
}

/// Runs the binary off the runtime's threads, so the server keeps answering meanwhile.
async fn load(server: &DevServer, token: &str, file: PathBuf) -> Output {
    let api = server.api_url("");
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dev-server"))
            .args(["load-catalog", "--api", &api])
            .arg(file)
            .env("OMS_ADMIN_TOKEN", token)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{name}-{}.json", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn products(server: &DevServer) -> Vec<Value> {
    let v: Value = reqwest::get(server.api_url("/products"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["products"].as_array().cloned().unwrap_or_default()
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/catalog.example.json")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_catalog_loads_and_loading_it_again_only_updates() {
    let server = spawn().await;
    let admin = token(&["admin"]);
    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(example()).unwrap()).unwrap();

    // The demo catalog already holds some of the example's SKUs: those are updated.
    let before: Vec<String> = products(&server)
        .await
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_owned())
        .collect();
    let first = load(&server, &admin, example()).await;
    assert!(first.status.success(), "{first:?}");
    let out = stdout(&first);
    for e in &entries {
        let sku = e["sku"].as_str().unwrap();
        let verb = if before.iter().any(|s| s == sku) {
            "updated"
        } else {
            "created"
        };
        assert!(out.contains(&format!("{verb} {sku}")), "{sku}: {out}");
    }
    let listed = products(&server).await;
    for e in &entries {
        let p = listed
            .iter()
            .find(|p| p["sku"] == e["sku"])
            .unwrap_or_else(|| panic!("{} not loaded", e["sku"]));
        assert_eq!((&p["name"], &p["unitPrice"]), (&e["name"], &e["unitPrice"]));
    }
    let darjeeling = listed.iter().find(|p| p["sku"] == "TEA-DARJ-100G").unwrap();
    assert_eq!(
        darjeeling["available"], 0,
        "no available in the file: no stock"
    );

    let again = load(&server, &admin, example()).await;
    assert!(again.status.success(), "{again:?}");
    let out = stdout(&again);
    assert!(!out.lines().any(|l| l.starts_with("created")), "{out}");
    assert!(
        out.ends_with(&format!("0 created, {} updated, 0 failed\n", entries.len())),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_product_fails_the_run_but_not_the_others_and_stock_is_never_reset() {
    let server = spawn().await;
    let admin = token(&["admin"]);
    let file = temp_file(
        "catalog-mixed",
        r#"[{"sku":"OK-1","name":"Fine","unitPrice":100,"currency":"INR","available":4},
            {"sku":"BAD-PRICE","name":"Free","unitPrice":0,"currency":"INR"},
            {"sku":"OK-2","name":"Also fine","unitPrice":200,"currency":"INR"}]"#,
    );
    let run = load(&server, &admin, file.clone()).await;
    assert!(!run.status.success(), "{run:?}");
    let out = stdout(&run);
    assert!(out.contains("created OK-1 (available 4)"), "{out}");
    assert!(
        out.contains("failed  BAD-PRICE: 400 validation_failed"),
        "{out}"
    );
    assert!(out.contains("created OK-2"), "{out}");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("2 created, 0 updated, 1 failed"),
        "{run:?}"
    );

    // Stock moved since (an order, a count): the file's 4 is not applied again.
    let r = reqwest::Client::new()
        .post(server.api_url("/admin/products/OK-1/stock"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"delta": -3, "reason": "stock count"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fixed = temp_file(
        "catalog-fixed",
        r#"[{"sku":"OK-1","name":"Fine","unitPrice":100,"currency":"INR","available":4}]"#,
    );
    let run = load(&server, &admin, fixed.clone()).await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        stdout(&run)
            .contains("updated OK-1 (available stays 1: the file's 4 only applies to new products"),
        "{run:?}"
    );
    let ok1 = products(&server)
        .await
        .into_iter()
        .find(|p| p["sku"] == "OK-1")
        .unwrap();
    assert_eq!(ok1["available"], 1);
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(fixed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_is_not_an_admins_loads_nothing_and_fails() {
    let server = spawn().await;
    let run = load(&server, &token(&[]), example()).await;
    assert!(!run.status.success(), "{run:?}");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("403 forbidden"),
        "{run:?}"
    );
    assert!(
        !products(&server)
            .await
            .iter()
            .any(|p| p["sku"] == "TEA-DARJ-100G")
    );
    let unreadable = load(
        &server,
        &token(&["admin"]),
        PathBuf::from("/nonexistent/catalog.json"),
    )
    .await;
    assert!(!unreadable.status.success());
}
