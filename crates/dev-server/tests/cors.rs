//! The dev server answers browsers as the HTTP API's CORS configuration does: the storefront's
//! origins may call it, others get no CORS grant, and the rules are template.yaml's.

use std::path::Path;

use dev_server::{
    CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE, CORS_METHODS, CorsOrigins,
    DEFAULT_CORS_ORIGINS, DevServer, DevSettings,
};
use reqwest::Method;

async fn spawn(cors: Option<&str>) -> DevServer {
    let cors = cors.map(str::to_owned);
    let settings = DevSettings::from_lookup(|k| match k {
        "PORT" => Some("0".into()),
        "DEV_BACKGROUND" => Some("false".into()),
        "DEV_CORS_ORIGINS" => cors.clone(),
        _ => None,
    })
    .unwrap();
    dev_server::spawn(&settings).await.unwrap()
}

async fn preflight(server: &DevServer, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, server.api_url("/orders"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A comma-separated header's items, lower-cased and sorted.
fn items(value: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = value
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_preflight_from_the_storefront_origin_is_granted_with_the_templates_rules() {
    let server = spawn(None).await;
    let res = preflight(&server, "http://localhost:3001").await;
    assert!(res.status().is_success(), "{res:?}");
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("http://localhost:3001")
    );
    assert_eq!(
        items(header(&res, "access-control-allow-methods")),
        items(Some("GET,POST,PUT,OPTIONS"))
    );
    assert_eq!(
        items(header(&res, "access-control-allow-headers")),
        items(Some(
            "authorization,content-type,idempotency-key,x-order-token,x-request-id"
        ))
    );
    assert_eq!(header(&res, "access-control-max-age"), Some("600"));
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_grant() {
    let server = spawn(None).await;
    let res = preflight(&server, "https://evil.example").await;
    assert_eq!(header(&res, "access-control-allow-origin"), None, "{res:?}");
    let res = reqwest::Client::new()
        .get(server.api_url("/products"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "access-control-allow-origin"), None, "{res:?}");
}

#[tokio::test]
async fn a_listed_origins_real_request_may_read_the_exposed_headers() {
    let server = spawn(Some("https://shop.example, http://localhost:3001")).await;
    let res = reqwest::Client::new()
        .get(server.api_url("/products"))
        .header("Origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert_eq!(
        items(header(&res, "access-control-expose-headers")),
        items(Some("x-request-id,location,idempotent-replayed"))
    );
    assert!(header(&res, "x-request-id").is_some());
}

#[test]
fn dev_cors_origins_takes_a_list_of_origins_or_a_lone_star() {
    let parse = |v: &str| {
        DevSettings::from_lookup(|k| (k == "DEV_CORS_ORIGINS").then(|| v.to_owned()))
            .map(|s| s.cors_origins)
    };
    assert_eq!(parse("*").unwrap(), CorsOrigins::Any);
    assert!(
        matches!(parse(" https://a.example , http://localhost:3001 ").unwrap(),
        CorsOrigins::List(l) if l.len() == 2)
    );
    for bad in [
        "localhost:3001",
        "http://localhost:3001/",
        "https://shop.example/app",
        "*, http://localhost:3001",
        "http://",
    ] {
        let e = parse(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
        assert!(e.to_string().contains("DEV_CORS_ORIGINS"), "{e}");
    }
}

/// The value of `key: ...` in the `CorsConfiguration` block of template.yaml.
fn template_value<'a>(cors_block: &'a str, key: &str) -> &'a str {
    cors_block
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("{key} is not in CorsConfiguration"))
        .trim()
}

/// A YAML flow list, `[A, B]`, lower-cased and sorted.
fn flow_list(value: &str) -> Vec<String> {
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a [list]: {value}"));
    items(Some(inner))
}

fn sorted_lower<T: AsRef<str>>(values: impl IntoIterator<Item = T>) -> Vec<String> {
    items(Some(
        &values
            .into_iter()
            .map(|v| v.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(","),
    ))
}

#[test]
fn the_dev_servers_cors_rules_are_the_templates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let template = std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml");
    let start = template
        .find("CorsConfiguration:")
        .expect("template.yaml has a CorsConfiguration");
    let block: String = template[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.trim().is_empty() || l.starts_with("        "))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        template_value(&block, "AllowOrigins"),
        "!Ref StorefrontOrigins"
    );
    assert_eq!(
        flow_list(template_value(&block, "AllowMethods")),
        sorted_lower(CORS_METHODS.iter().map(|m| m.as_str()))
    );
    assert_eq!(
        flow_list(template_value(&block, "AllowHeaders")),
        sorted_lower(CORS_ALLOW_HEADERS.iter().map(|h| h.as_str()))
    );
    assert_eq!(
        flow_list(template_value(&block, "ExposeHeaders")),
        sorted_lower(CORS_EXPOSE_HEADERS.iter().map(|h| h.as_str()))
    );
    assert_eq!(
        template_value(&block, "MaxAge"),
        CORS_MAX_AGE.as_secs().to_string()
    );

    // The default origins are the dev stack's.
    let samconfig = std::fs::read_to_string(root.join("samconfig.toml")).expect("samconfig.toml");
    let dev = samconfig
        .split("[prod")
        .next()
        .expect("samconfig.toml's dev section");
    assert!(
        dev.contains(&format!("\"StorefrontOrigins={DEFAULT_CORS_ORIGINS}\"")),
        "samconfig.toml's dev StorefrontOrigins is not {DEFAULT_CORS_ORIGINS}"
    );
}
