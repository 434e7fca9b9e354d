//! The emulator speaks the Lambda Runtime API as the runtime clients expect it: a tiny fake
//! runtime client polls `next`, checks the headers a real client reads, and answers through
//! `response`, `error` and `init/error`.

use std::time::Duration;

use oms_bench::emulator::{Emulator, Invocation, Report};

const ARN: &str = "arn:aws:lambda:ap-south-1:123456789012:function:probe";

fn url(emulator: &Emulator, path: &str) -> String {
    format!("http://{}{path}", emulator.runtime_api())
}

async fn next(http: &reqwest::Client, emulator: &Emulator) -> (String, reqwest::Response) {
    let res = http
        .get(url(emulator, "/2018-06-01/runtime/invocation/next"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = res.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (id, res)
}

#[tokio::test]
async fn a_runtime_client_gets_its_event_and_its_response_is_reported() {
    let mut emulator = Emulator::start(vec![Invocation::new(ARN, br#"{"n":1}"#.to_vec(), 5_000)])
        .await
        .unwrap();
    assert!(emulator.runtime_api().starts_with("127.0.0.1:"));
    let http = reqwest::Client::new();

    let (id, res) = next(&http, &emulator).await;
    let h = res.headers();
    assert_eq!(h["lambda-runtime-invoked-function-arn"], ARN);
    assert!(
        h["lambda-runtime-trace-id"]
            .to_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    let deadline: u64 = h["lambda-runtime-deadline-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(deadline > oms_bench::emulator::unix_millis());
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(res.text().await.unwrap(), r#"{"n":1}"#);
    assert!(
        emulator.first_poll().is_some(),
        "the first poll marks the end of init"
    );

    let posted = http
        .post(url(
            &emulator,
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
        ))
        .body(r#"{"statusCode":200}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);

    let outcome = emulator.next_outcome().await.unwrap();
    assert_eq!(outcome.report, Report::Response);
    assert_eq!(outcome.request_id.as_deref(), Some(id.as_str()));
    assert_eq!(outcome.body_text(), r#"{"statusCode":200}"#);
}

#[tokio::test]
async fn invocations_are_handed_out_in_order_and_errors_are_reported_with_their_type() {
    let mut emulator = Emulator::start(vec![
        Invocation::new(ARN, b"1".to_vec(), 5_000),
        Invocation::new(ARN, b"2".to_vec(), 5_000),
    ])
    .await
    .unwrap();
    let http = reqwest::Client::new();

    let (first, res) = next(&http, &emulator).await;
    assert_eq!(res.text().await.unwrap(), "1");
    let posted = http
        .post(url(
            &emulator,
            &format!("/2018-06-01/runtime/invocation/{first}/error"),
        ))
        .header("lambda-runtime-function-error-type", "unhandled")
        .body(r#"{"errorMessage":"boom"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    let outcome = emulator.next_outcome().await.unwrap();
    assert_eq!(outcome.report, Report::Error);
    assert_eq!(outcome.error_type.as_deref(), Some("unhandled"));

    let (second, res) = next(&http, &emulator).await;
    assert_ne!(second, first, "each invocation has its own request id");
    assert_eq!(res.text().await.unwrap(), "2");
}

#[tokio::test]
async fn a_report_for_an_unknown_request_id_is_refused_and_not_counted() {
    let mut emulator = Emulator::start(vec![]).await.unwrap();
    let http = reqwest::Client::new();
    let posted = http
        .post(url(
            &emulator,
            "/2018-06-01/runtime/invocation/not-handed-out/response",
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 400);
    let nothing = tokio::time::timeout(Duration::from_millis(100), emulator.next_outcome()).await;
    assert!(
        nothing.is_err(),
        "no outcome for a request id never handed out"
    );
}

#[tokio::test]
async fn an_init_error_is_reported_before_any_event() {
    let mut emulator = Emulator::start(vec![]).await.unwrap();
    let http = reqwest::Client::new();
    let posted = http
        .post(url(&emulator, "/2018-06-01/runtime/init/error"))
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .body(r#"{"errorMessage":"TABLE_NAME is required"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    let outcome = emulator.next_outcome().await.unwrap();
    assert_eq!(outcome.report, Report::InitError);
    assert_eq!(outcome.request_id, None);
    assert!(outcome.body_text().contains("TABLE_NAME"));
}

#[tokio::test]
async fn a_poll_with_no_event_left_waits_until_the_emulator_stops() {
    let emulator = Emulator::start(vec![]).await.unwrap();
    let poll = reqwest::Client::new()
        .get(url(&emulator, "/2018-06-01/runtime/invocation/next"))
        .send();
    let waiting = tokio::time::timeout(Duration::from_millis(200), poll).await;
    assert!(
        waiting.is_err(),
        "like a frozen sandbox, the poll is not answered"
    );
    drop(emulator);
}
