//! `GET /metrics` on the dev server: the counters and histograms the Lambdas emit as EMF, and
//! requests by route, in the Prometheus text format, scraped as Prometheus would after a
//! purchase. The recorder is one per process, shared by the tests running beside this one, so
//! every check is on how much a value grew, never on the value itself.

use oms_e2e::{Options, TestApp};

/// The sum of every sample of `name` whose labels include all of `labels`.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(series, value)| {
            let (metric, set) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let has = |(k, v): &(&str, &str)| {
                set.split("\",")
                    .any(|pair| pair.trim_end_matches('"') == format!("{k}=\"{v}"))
            };
            (metric == name && labels.iter().all(has)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let r = app.get_page("/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    r.text
}

#[test]
fn the_sample_reader_matches_names_and_labels() {
    let page = "# TYPE a counter\na{provider=\"stripe\",route=\"/api/v1/orders/{orderId}\"} 3\n\
                a{provider=\"razorpay\"} 4\nab 9\nb_bucket{le=\"0.5\"} 2\n";
    assert_eq!(sample(page, "a", &[]), 7.0);
    assert_eq!(sample(page, "a", &[("provider", "stripe")]), 3.0);
    assert_eq!(
        sample(page, "a", &[("route", "/api/v1/orders/{orderId}")]),
        3.0
    );
    assert_eq!(sample(page, "a", &[("provider", "paypal")]), 0.0);
    assert_eq!(sample(page, "b_bucket", &[("le", "0.5")]), 2.0);
}

#[tokio::test]
async fn a_purchase_shows_on_the_metrics_page() {
    let app = TestApp::spawn_with(Options {
        env: vec![("DEV_BACKGROUND", "true".into())],
        ..Options::default()
    })
    .await;
    let before = scrape(&app).await;
    let created = [
        ("method", "POST"),
        ("route", "/api/v1/orders"),
        ("status", "201"),
    ];
    let webhook = [
        ("method", "POST"),
        ("route", "/api/v1/webhooks/stripe"),
        ("status", "200"),
    ];
    let stripe = [("provider", "stripe")];

    let (id, _, _) = app.paid_order("CHAI-250G", 1, "stripe").await;
    app.order_until(&id, |o| o["status"] == "fulfilled").await;

    let after = scrape(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    assert!(grew("orders_created", &stripe) >= 1.0, "{after}");
    assert!(grew("payments_success", &stripe) >= 1.0, "{after}");
    assert!(grew("http_requests_total", &created) >= 1.0, "{after}");
    assert!(grew("http_requests_total", &webhook) >= 1.0, "{after}");
    let timed = [("method", "POST"), ("route", "/api/v1/orders")];
    assert!(
        grew("http_request_duration_seconds_count", &timed) >= 1.0,
        "{after}"
    );
    // A histogram with buckets, not a summary: the slowest bucket holds every request.
    let mut all = timed.to_vec();
    all.push(("le", "+Inf"));
    assert_eq!(
        sample(&after, "http_request_duration_seconds_bucket", &all),
        sample(&after, "http_request_duration_seconds_count", &timed)
    );
    // The worker's histogram, recorded when its job returns — just after the order it
    // fulfilled is saved, so a scrape may come between the two: wait for it a little.
    let processed = sample(&before, "order_processing_time_count", &[]);
    let mut page = after;
    for _ in 0..100 {
        if sample(&page, "order_processing_time_count", &[]) > processed {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = scrape(&app).await;
    }
    panic!("the worker's processing time is missing: {page}");
}

#[tokio::test]
async fn made_up_paths_and_methods_do_not_grow_the_label_set() {
    let app = TestApp::spawn().await;
    let odd = "/api/v1/no-such-route-7c1e";
    let r = app
        .http
        .request(
            reqwest::Method::from_bytes(b"BREW").expect("a method"),
            app.url("/orders"),
        )
        .send()
        .await
        .expect("BREW");
    assert_eq!(r.status(), 405);
    let before = scrape(&app).await;
    assert_eq!(app.get_page(odd).await.status, 404);
    let after = scrape(&app).await;
    assert!(!after.contains("no-such-route"), "{after}");
    assert!(!after.contains("BREW"), "{after}");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(
        sample(&after, "http_requests_total", &unmatched)
            - sample(&before, "http_requests_total", &unmatched)
            >= 1.0
    );
}
