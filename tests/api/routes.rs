//! `docs/openapi.yaml` describes the API exactly: every route it lists is served by a Lambda's
//! router and routed by `template.yaml`, and the other way round; and the API collection
//! (`bruno/`) has a request for every route it lists, and none for a route it does not. All are
//! read from the sources, so a route added in one place only fails here.

use std::collections::BTreeSet;

const LAMBDA_ROUTERS: &[&str] = &[
    "crates/create-order/src/lib.rs",
    "crates/orders-api/src/lib.rs",
    "crates/payment-webhook/src/lib.rs",
];

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `(METHOD, path)` pairs under `paths:` in the OpenAPI document.
pub(crate) fn openapi_routes(yaml: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut in_paths = false;
    let mut path: Option<String> = None;
    for line in yaml.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let (Some(p), Some(m)) = (
            &path,
            line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')),
        ) && ["get", "post", "put", "patch", "delete"].contains(&m)
        {
            routes.insert((m.to_uppercase(), p.clone()));
        }
    }
    routes
}

/// `(METHOD, path)` pairs from `.route("path", method(handler))` calls in a router's source.
fn router_routes(source: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut rest = source;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let Some(start) = rest.find('"') else { break };
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        let path = &after[..end];
        let tail = after[end + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
        let method: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        routes.insert((method.to_uppercase(), path.to_owned()));
    }
    routes
}

/// `(METHOD, path)` pairs the Lambdas' routers serve, read from their sources.
pub(crate) fn served_routes() -> BTreeSet<(String, String)> {
    let mut served = BTreeSet::new();
    for file in LAMBDA_ROUTERS {
        let source = std::fs::read_to_string(root().join(file)).expect(file);
        served.extend(router_routes(&source));
    }
    served
}

/// `(METHOD, path)` pairs of the HTTP API events in the SAM template (`Method: X` followed by
/// `Path: "/api/v1/…"`; SAM wants literal paths, so the prefix is literal too).
fn template_routes(template: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut rest = template;
    while let Some(i) = rest.find("Method: ") {
        // `BuildMethod: rust-cargolambda` is not an event's method.
        let standalone = !rest[..i].ends_with(|c: char| c.is_ascii_alphabetic());
        rest = &rest[i + "Method: ".len()..];
        if !standalone {
            continue;
        }
        let method: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let marker = "Path: \"/api/v1";
        let Some(j) = rest.find(marker) else { break };
        let after = &rest[j + marker.len()..];
        let Some(end) = after.find('"') else { break };
        routes.insert((method.to_uppercase(), after[..end].to_owned()));
    }
    routes
}

/// `(METHOD, path)` of each request of a Bruno collection file (`.bru`) on the API: its method
/// block (`get {`, `post {`, …) and that block's `url: {{baseUrl}}/…`, query left off. `None`
/// for a file that is no request (a folder's or an environment's) or whose URL is not on the API
/// (the dev server's offline checkout).
fn bru_request(source: &str) -> Option<(String, String)> {
    let mut lines = source.lines();
    let method = lines.by_ref().find_map(|line| {
        ["get", "post", "put", "patch", "delete"]
            .into_iter()
            .find(|m| line.trim_end() == format!("{m} {{"))
    })?;
    let url = lines
        .take_while(|line| line.trim_end() != "}")
        .find_map(|line| line.trim().strip_prefix("url:"))?
        .trim();
    let path = url.strip_prefix("{{baseUrl}}")?;
    let path = path.split('?').next().unwrap_or(path);
    Some((method.to_uppercase(), path.to_owned()))
}

/// Whether a request's path (literal segments, or `{{variables}}`) is an instance of an
/// OpenAPI path template (`/orders/{orderId}`): the same segments, a `{parameter}` standing for
/// any one.
fn instance_of(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// Every `.bru` file under `dir`, with its path.
fn bru_files(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).expect("a collection folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            bru_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "bru") {
            let source = std::fs::read_to_string(&path).expect("a .bru file");
            out.push((path, source));
        }
    }
}

#[test]
fn the_api_collection_has_a_request_for_every_documented_route_and_no_other() {
    let yaml =
        std::fs::read_to_string(root().join("docs/openapi.yaml")).expect("docs/openapi.yaml");
    let documented = openapi_routes(&yaml);
    let mut files = Vec::new();
    bru_files(&root().join("bruno"), &mut files);
    let requests: Vec<_> = files
        .iter()
        .filter_map(|(file, source)| bru_request(source).map(|r| (file, r)))
        .collect();
    assert!(
        requests.len() >= documented.len(),
        "parsed too few collection requests: {requests:?}"
    );
    let undocumented: Vec<_> = requests
        .iter()
        .filter(|(_, (method, path))| {
            !documented
                .iter()
                .any(|(m, template)| m == method && instance_of(template, path))
        })
        .collect();
    let uncovered: Vec<_> = documented
        .iter()
        .filter(|(m, template)| {
            !requests
                .iter()
                .any(|(_, (method, path))| m == method && instance_of(template, path))
        })
        .collect();
    assert!(
        undocumented.is_empty() && uncovered.is_empty(),
        "collection requests not in docs/openapi.yaml: {undocumented:?}; documented routes with no request in bruno/: {uncovered:?}"
    );
}

#[test]
fn the_template_routes_exactly_the_documented_routes() {
    let yaml =
        std::fs::read_to_string(root().join("docs/openapi.yaml")).expect("docs/openapi.yaml");
    let template = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let documented = openapi_routes(&yaml);
    let routed = template_routes(&template);
    let missing: Vec<_> = documented.difference(&routed).collect();
    let extra: Vec<_> = routed.difference(&documented).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "documented but not routed by template.yaml: {missing:?}; routed but not documented: {extra:?}"
    );
}

#[test]
fn the_openapi_document_and_the_routers_list_the_same_routes() {
    let yaml =
        std::fs::read_to_string(root().join("docs/openapi.yaml")).expect("docs/openapi.yaml");
    let documented = openapi_routes(&yaml);
    let served = served_routes();
    assert!(
        documented.len() >= 9,
        "parsed too few documented routes: {documented:?}"
    );
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in docs/openapi.yaml: {undocumented:?}; documented but served by no router: {unserved:?}"
    );
}

#[test]
fn the_route_readers_understand_both_formats() {
    let yaml = "openapi: 3.0.3\npaths:\n  /a/{id}:\n    get:\n      x: 1\n    post:\n  /b:\n    delete:\ncomponents:\n  /c:\n    get:\n";
    let got: Vec<_> = openapi_routes(yaml).into_iter().collect();
    assert_eq!(
        got,
        vec![
            ("DELETE".into(), "/b".into()),
            ("GET".into(), "/a/{id}".into()),
            ("POST".into(), "/a/{id}".into())
        ]
    );
    let tpl = "Metadata:\n  BuildMethod: rust-cargolambda\nEvents:\n  A:\n    Properties: { ApiId: !Ref HttpApi, Method: GET, Path: \"/api/v1/a/{id}\" }\n  B:\n    Properties:\n      Method: POST\n      Path: \"/api/v1/b\"\n";
    let got: Vec<_> = template_routes(tpl).into_iter().collect();
    assert_eq!(
        got,
        vec![
            ("GET".into(), "/a/{id}".into()),
            ("POST".into(), "/b".into())
        ]
    );
    let src = "Router::new()\n  .route(\"/x\", get(h))\n  .route(\n    \"/y/{id}\",\n    post(other),\n  )";
    let got: Vec<_> = router_routes(src).into_iter().collect();
    assert_eq!(
        got,
        vec![
            ("GET".into(), "/x".into()),
            ("POST".into(), "/y/{id}".into())
        ]
    );
    let bru = "meta {\n  name: A\n  seq: 1\n}\n\nput {\n  url: {{baseUrl}}/a/{{id}}/b?x=1\n  body: json\n}\n\ntests {\n  get {\n}\n";
    assert_eq!(bru_request(bru), Some(("PUT".into(), "/a/{{id}}/b".into())));
    let offline = "post {\n  url: {{checkoutUrl}}\n}\n";
    assert_eq!(bru_request(offline), None);
    assert_eq!(bru_request("meta {\n  name: A folder\n}\n"), None);
    assert!(instance_of("/a/{id}/b", "/a/{{id}}/b"));
    assert!(instance_of("/p/{sku}", "/p/GIFT-CARD-1000"));
    assert!(!instance_of("/a/{id}", "/a/{{id}}/b"));
    assert!(!instance_of("/a/b", "/a/c"));
}

#[test]
fn the_dashboard_charts_every_business_metric_the_code_emits() {
    // The stack's dashboard: its body is the `!Sub |` block under `DashboardBody:` in the
    // template, JSON once the stack's region is put in.
    let template = std::fs::read_to_string(root().join("template.yaml")).expect("template");
    let start = template
        .find("DashboardBody: !Sub |\n")
        .expect("the template has a dashboard")
        + "DashboardBody: !Sub |\n".len();
    let dashboard: String = template[start..]
        .lines()
        .take_while(|l| l.starts_with("        ") || l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
        .replace("${AWS::Region}", "ap-south-1");
    let parsed: serde_json::Value =
        serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(parsed["widgets"].as_array().is_some_and(|w| !w.is_empty()));
    let mut sources = String::new();
    for f in [
        "crates/create-order/src/lib.rs",
        "crates/payment-webhook/src/lib.rs",
        "crates/post-payment-worker/src/lib.rs",
    ] {
        sources.push_str(&std::fs::read_to_string(root().join(f)).expect(f));
    }
    for metric in [
        "orders_created",
        "order_processing_time",
        "payments_success",
        "payment_failures",
        "webhook_failures",
        "fulfilment_failures",
    ] {
        assert!(
            sources.contains(&format!("\"{metric}\"")),
            "{metric} is not emitted by the code"
        );
        assert!(
            dashboard.contains(&format!("\\\"{metric}\\\"")),
            "{metric} is not on the dashboard"
        );
    }
}
