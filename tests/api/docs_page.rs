//! The API as a storefront developer first meets it: `GET /docs` on the dev server, rendered by
//! a real browser (headless Chromium, Debian's package, which `./scripts/test` installs), lists
//! every route the Lambdas serve; `GET /openapi.yaml` is the document it renders.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oms_e2e::TestApp;

use crate::routes::{openapi_routes, served_routes};

/// The browser: `CHROMIUM` if set, else the first of Debian's headless shell and full
/// Chromium on the `PATH`.
fn browser() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
    };
    ["chromium-headless-shell", "chromium"]
        .into_iter()
        .find(|name| on_path(name))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "needs headless Chromium (Debian: apt-get install chromium-headless-shell; \
                 ./scripts/test installs it), or its path in CHROMIUM"
            )
        })
}

/// The DOM of `url` once its scripts have run (up to 20 s of the page's own time), as the
/// browser serialises it.
fn rendered_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("oms-docs-{}", std::process::id()));
    let mut child = Command::new(browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the browser starts");
    let started = Instant::now();
    while child.try_wait().expect("the browser runs").is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("the browser did not finish rendering {url} within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("the browser's output");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(out.status.success(), "the browser failed: {:?}", out.status);
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

/// `(METHOD, path)` of every operation Swagger UI rendered: each operation is a block of
/// class `opblock opblock-<method>` holding its path in a `data-path` attribute.
fn listed_operations(dom: &str) -> BTreeSet<(String, String)> {
    const BLOCK: &str = "class=\"opblock opblock-";
    const PATH: &str = "data-path=\"";
    let mut listed = BTreeSet::new();
    let mut rest = dom;
    while let Some(i) = rest.find(BLOCK) {
        rest = &rest[i + BLOCK.len()..];
        let method: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let Some(j) = rest.find(PATH) else { break };
        let after = &rest[j + PATH.len()..];
        let Some(end) = after.find('"') else { break };
        listed.insert((method.to_uppercase(), after[..end].to_owned()));
    }
    listed
}

#[test]
fn the_operation_reader_understands_swagger_ui_blocks() {
    let dom = r#"<div class="opblock opblock-get" id="operations-default-health"><span class="opblock-summary-path" data-path="/health"><a>/health</a></span></div>
        <div class="opblock opblock-post is-open" id="x"><span class="opblock-summary-path" data-path="/orders/{orderId}/cancel"></span></div>"#;
    let got: Vec<_> = listed_operations(dom).into_iter().collect();
    assert_eq!(
        got,
        vec![
            ("GET".into(), "/health".into()),
            ("POST".into(), "/orders/{orderId}/cancel".into())
        ]
    );
}

#[tokio::test]
#[ignore = "needs headless Chromium: ./scripts/test installs it"]
async fn the_docs_page_lists_every_route_the_lambdas_serve() {
    let app = TestApp::spawn().await;
    let url = format!("{}/docs", app.server.base_url);
    let dom = tokio::task::spawn_blocking(move || rendered_dom(&url))
        .await
        .expect("the browser task");
    assert!(
        dom.contains("<title>Order service API (dev server)</title>"),
        "not the docs page: {}",
        &dom[..dom.len().min(500)]
    );
    let listed = listed_operations(&dom);
    let served = served_routes();
    let missing: Vec<_> = served.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&served).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "served but not listed on /docs: {missing:?}; listed but served by no router: {unknown:?} \
         ({} operations listed)",
        listed.len()
    );
}

#[tokio::test]
async fn the_document_is_served_as_yaml_with_every_served_route() {
    let app = TestApp::spawn().await;
    let r = app.get_page("/openapi.yaml").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/yaml; charset=utf-8")
    );
    let yaml = r.text;
    assert!(yaml.starts_with("openapi: 3."), "{}", &yaml[..80]);
    assert_eq!(openapi_routes(&yaml), served_routes());
}
