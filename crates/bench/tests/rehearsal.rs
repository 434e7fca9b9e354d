//! Deploy rehearsal, part 2: the functions as the stack configures them.
//!
//! Part 1 (`scripts/lib/stack_rehearsal.py`, run by `./scripts/test` before `cargo test`)
//! created the dev and prod stacks from template.yaml and samconfig.toml on the local AWS API
//! server and wrote what this test needs to `OMS_REHEARSAL_FACTS`: each function's environment
//! as the local Lambda API returns it, the stack's outputs, and the HTTP API's routes as the
//! SAM translator produced them. Here each function's binary (the test build) runs under the
//! project's Runtime API emulator with exactly that environment, plus the endpoint and
//! credentials Lambda would give it, and a purchase goes through the dev stack: an admin loads a
//! product, the catalog lists it, a guest orders it, a signed Stripe event pays it, the worker
//! is fed the message the webhook really sent to the stack's queue, the order reads back
//! fulfilled, and the cleanup answers the schedule's `{}`. Then every prod function must refuse
//! to start on samconfig.toml's placeholders with its one log line.
//!
//! Both tests are ignored by plain `cargo test`; `./scripts/test` runs them
//! (`-- --include-ignored`) after part 1. Run without part 1's facts, they fail saying so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oms_bench::events::{self, PendingOrder};
use oms_bench::process::{self, Function, StartError};
use serde::Deserialize;
use serde_json::{Value, json};

/// The offline stand-in's webhook secret: what a dev stack verifies Stripe events with until
/// live payments are configured (published in the code, so a dev stack never takes money).
const DEV_STRIPE_WEBHOOK_SECRET: &str = "whsec_dev_local_only";
const SKU: &str = "REHEARSAL-TEA";

#[derive(Debug, Deserialize)]
struct Facts {
    stack: String,
    outputs: BTreeMap<String, String>,
    functions: BTreeMap<String, FunctionFacts>,
    event_sources: Vec<EventSource>,
    routes: Vec<Route>,
}

#[derive(Debug, Deserialize)]
struct FunctionFacts {
    name: String,
    timeout: u64,
    memory: u32,
    env: BTreeMap<String, Value>,
    binary: String,
}

#[derive(Debug, Deserialize)]
struct EventSource {
    function: String,
    source: String,
}

#[derive(Debug, Deserialize)]
struct Route {
    method: String,
    path: String,
    function: Option<String>,
    authorizer: Vec<String>,
}

fn facts() -> BTreeMap<String, Facts> {
    let path = std::env::var("OMS_REHEARSAL_FACTS").expect(
        "OMS_REHEARSAL_FACTS is not set: the deploy rehearsal needs the stacks that \
         ./scripts/test creates on the local AWS API server first (scripts/lib/stack_rehearsal.py)",
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Where the functions' test builds are: next to this test's own `deps/` directory.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OMS_REHEARSAL_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_owned()
}

impl Facts {
    fn function(&self, logical: &str) -> Function {
        let f = self
            .functions
            .get(logical)
            .unwrap_or_else(|| panic!("the stack has no {logical}"));
        let program = bin_dir().join(&f.binary);
        assert!(
            program.exists(),
            "{} is not built (./scripts/test builds every function before the rehearsal)",
            program.display()
        );
        Function {
            name: f.name.clone(),
            program,
            args: Vec::new(),
            cwd: None,
            // Exactly the stack's variables, as strings (CloudFormation passes numbers through).
            env: f
                .env
                .iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), v)
                })
                .collect(),
            memory_mb: f.memory,
            timeout: Duration::from_secs(f.timeout),
            region: "ap-south-1".into(),
        }
    }

    /// The translated template's route for `method path`: which function serves it, and the
    /// event API Gateway would hand that function (claims only where the route's JWT
    /// authorizer put them there).
    fn request(
        &self,
        method: &str,
        template_path: &str,
        params: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&str>,
        claims: Option<Value>,
    ) -> (String, Value) {
        let route = self
            .routes
            .iter()
            .find(|r| r.method == method && r.path == template_path)
            .unwrap_or_else(|| panic!("the stack routes no {method} {template_path}"));
        let function = route
            .function
            .clone()
            .unwrap_or_else(|| panic!("{method} {template_path} reaches no function"));
        let needs_jwt = route.authorizer.iter().any(|a| a == "Cognito");
        assert_eq!(
            needs_jwt,
            claims.is_some(),
            "{method} {template_path}: authorizer {:?}",
            route.authorizer
        );
        let mut path = template_path.to_owned();
        let mut path_params = serde_json::Map::new();
        for (k, v) in params {
            path = path.replace(&format!("{{{k}}}"), v);
            path_params.insert((*k).to_owned(), json!(v));
        }
        let mut event = events::http_api(method, &path, headers, body, "rehearsal");
        event["routeKey"] = json!(format!("{method} {template_path}"));
        event["requestContext"]["routeKey"] = event["routeKey"].clone();
        if !path_params.is_empty() {
            event["pathParameters"] = Value::Object(path_params);
        }
        if let Some(claims) = claims {
            event["requestContext"]["authorizer"] =
                json!({"jwt": {"claims": claims, "scopes": null}});
        }
        (function, event)
    }
}

/// Runs `logical` for one event in a fresh sandbox; its answer, parsed.
async fn invoke(facts: &Facts, logical: &str, event: &Value) -> Value {
    let f = facts.function(logical);
    let log = log_path(&facts.stack, logical);
    let measured = process::run(
        &f,
        vec![event.to_string().into_bytes()],
        &log,
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| panic!("{logical}: {e}"));
    serde_json::from_slice(&measured.response().body)
        .unwrap_or_else(|e| panic!("{logical} answered non-JSON: {e}"))
}

fn log_path(stack: &str, logical: &str) -> PathBuf {
    std::env::temp_dir().join(format!("oms-rehearsal-{stack}-{logical}.log"))
}

/// An HTTP API answer: its status and JSON body.
fn http(answer: &Value) -> (u16, Value) {
    let status = answer["statusCode"].as_u64().expect("a status code") as u16;
    let body = answer["body"].as_str().unwrap_or("null");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
#[ignore = "needs the deploy rehearsal on the local AWS API server: ./scripts/test"]
async fn a_purchase_goes_through_the_dev_stack_as_deployed() {
    let all = facts();
    let dev = &all["dev"];
    for fname in [
        "CreateOrderFunction",
        "OrdersApiFunction",
        "PaymentWebhookFunction",
        "PostPaymentWorkerFunction",
        "CleanupFunction",
    ] {
        assert!(dev.functions.contains_key(fname), "dev stack lacks {fname}");
    }

    // An admin (claims as the JWT authorizer passes them) loads a product.
    let admin = json!({"sub": "ops-rehearsal", "cognito:groups": "[admin]"});
    let (f, ev) = dev.request(
        "PUT",
        "/api/v1/admin/products/{sku}",
        &[("sku", SKU)],
        &[("content-type", "application/json")],
        Some(r#"{"name":"Rehearsal Tea","unitPrice":34900,"currency":"INR","available":5}"#),
        Some(admin),
    );
    let (status, body) = http(&invoke(dev, &f, &ev).await);
    assert_eq!(status, 201, "{body}");

    // The catalog lists it.
    let (f, ev) = dev.request("GET", "/api/v1/products", &[], &[], None, None);
    let (status, body) = http(&invoke(dev, &f, &ev).await);
    assert_eq!(status, 200, "{body}");
    let listed = body["products"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["sku"] == SKU))
        .unwrap_or_else(|| panic!("{SKU} not listed: {body}"));
    assert_eq!(listed["available"], 5);

    // A guest orders it.
    let order_body = json!({
        "items": [{"sku": SKU, "quantity": 2}],
        "currency": "INR",
        "paymentProvider": "stripe",
        "customer": {"email": "rehearsal@example.in", "name": "Asha Rao"},
        "shippingAddress": {"name": "Asha Rao", "line1": "12 MG Road", "city": "Bengaluru",
                            "state": "Karnataka", "postalCode": "560001", "country": "IN"},
    })
    .to_string();
    let (f, ev) = dev.request(
        "POST",
        "/api/v1/orders",
        &[],
        &[("content-type", "application/json")],
        Some(&order_body),
        None,
    );
    let (status, created) = http(&invoke(dev, &f, &ev).await);
    assert_eq!(status, 201, "{created}");
    let order = PendingOrder::from_created(&created).expect("a Stripe order");
    assert_eq!(order.amount, 69_800);
    let token = created["accessToken"].as_str().expect("a guest token");

    // Stripe (the offline stand-in's secret) pays it.
    let now = (oms_bench::emulator::unix_millis() / 1000) as i64;
    let hook = events::checkout_completed(&order, "evt_rehearsal", DEV_STRIPE_WEBHOOK_SECRET, now)
        .expect("a valid amount");
    let (f, ev) = dev.request(
        "POST",
        "/api/v1/webhooks/stripe",
        &[],
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("stripe-signature", &hook.signature),
        ],
        Some(&hook.body),
        None,
    );
    let (status, body) = http(&invoke(dev, &f, &ev).await);
    assert_eq!(status, 200, "{body}");

    // The job is owed through the outbox entry in the stack's table until the worker that
    // receives it clears it (the webhook no longer does: docs/decisions.md).
    let clients = oms_aws::AwsClients::from_env().await;
    let table = dev.functions["PostPaymentWorkerFunction"].env["TABLE_NAME"]
        .as_str()
        .expect("the worker is told its table")
        .to_owned();
    let outbox_entry = || {
        clients
            .dynamodb
            .get_item()
            .table_name(&table)
            .key(
                "PK",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("OUTBOX#{}", order.order_id)),
            )
            .key(
                "SK",
                aws_sdk_dynamodb::types::AttributeValue::S("OUTBOX".into()),
            )
            .consistent_read(true)
            .send()
    };
    let owed = outbox_entry().await.expect("the stack's table answers");
    assert!(owed.item().is_some(), "the paid order's job is owed");

    // The worker gets the message the webhook sent to the stack's queue, through the event
    // source mapping the stack made.
    let queue_url = &dev.outputs["PostPaymentQueueUrl"];
    let worker = &dev.functions["PostPaymentWorkerFunction"].name;
    let queue_arn = dev
        .event_sources
        .iter()
        .find(|m| m.function.ends_with(&format!(":{worker}")))
        .map(|m| m.source.clone())
        .expect("the worker is mapped to a queue");
    assert!(
        queue_url.ends_with(queue_arn.rsplit(':').next().unwrap_or("?")),
        "the worker reads {queue_arn}, the webhook sends to {queue_url}"
    );
    let received = clients
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("the stack's queue answers");
    let messages = received.messages();
    assert_eq!(messages.len(), 1, "one fulfilment job: {messages:?}");
    let message = &messages[0];
    let batch = events::sqs(
        &queue_arn,
        "ap-south-1",
        message.message_id().unwrap_or("m-1"),
        message.body().unwrap_or_default(),
    );
    let answer = invoke(dev, "PostPaymentWorkerFunction", &batch).await;
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let owed = outbox_entry().await.expect("the stack's table answers");
    assert!(
        owed.item().is_none(),
        "the worker cleared the entry: {owed:?}"
    );

    // The guest reads it back fulfilled.
    let (f, ev) = dev.request(
        "GET",
        "/api/v1/orders/{orderId}",
        &[("orderId", &order.order_id)],
        &[("x-order-token", token)],
        None,
        None,
    );
    let (status, body) = http(&invoke(dev, &f, &ev).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "fulfilled", "{body}");
    assert!(body["invoice"]["number"].is_string(), "{body}");

    // The ops console's dead-letter queue, as the stack names it to orders-api
    // (`DEAD_LETTER_QUEUE_URL`, resolved by the stack): reachable, and empty.
    let admin = json!({"sub": "ops-rehearsal", "cognito:groups": "[admin]"});
    let (f, ev) = dev.request(
        "GET",
        "/api/v1/admin/jobs/dead",
        &[],
        &[],
        None,
        Some(admin),
    );
    assert_eq!(f, "OrdersApiFunction");
    assert!(
        dev.functions[&f].env.contains_key("DEAD_LETTER_QUEUE_URL"),
        "{:?}",
        dev.functions[&f].env.keys()
    );
    let (status, body) = http(&invoke(dev, &f, &ev).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"jobs": [], "count": 0}));

    // Digital downloads: the API routes the download route to orders-api without the JWT
    // authorizer (guests use their X-Order-Token), the stack names its downloads bucket to it
    // (`DOWNLOADS_BUCKET`, which it refuses to start without), and an order nobody has is 404.
    let (f, ev) = dev.request(
        "GET",
        "/api/v1/orders/{orderId}/downloads/{sku}",
        &[
            ("orderId", "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"),
            ("sku", "GIFT-CARD-1000"),
        ],
        &[],
        None,
        None,
    );
    assert_eq!(f, "OrdersApiFunction");
    assert!(
        dev.functions[&f].env.contains_key("DOWNLOADS_BUCKET"),
        "{:?}",
        dev.functions[&f].env.keys()
    );
    let (status, body) = http(&invoke(dev, &f, &ev).await);
    assert_eq!(status, 404, "{body}");

    // The schedule's `{}`.
    let answer = invoke(dev, "CleanupFunction", &events::schedule()).await;
    assert!(answer.is_object(), "{answer}");
}

#[tokio::test]
#[ignore = "needs the deploy rehearsal on the local AWS API server: ./scripts/test"]
async fn every_prod_function_refuses_samconfigs_placeholders_with_one_log_line() {
    let all = facts();
    let prod = &all["prod"];
    assert_eq!(prod.functions.len(), 5, "{:?}", prod.functions.keys());
    for logical in prod.functions.keys() {
        let f = prod.function(logical);
        let log = log_path(&prod.stack, logical);
        let _ = std::fs::remove_file(&log);
        let refused = process::run(&f, vec![b"{}".to_vec()], &log, Duration::from_secs(30)).await;
        // Refusing is exiting during init (Lambda reports `Runtime.ExitError`) or reporting an
        // init error; answering the event is starting.
        match refused {
            Err(StartError::Exited { .. }) => {}
            Err(StartError::Failed {
                report: oms_bench::emulator::Report::InitError,
                ..
            }) => {}
            other => panic!("{logical} started in prod on placeholders: {other:?}"),
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("refusing to start"))
            .collect();
        assert_eq!(lines.len(), 1, "{logical}: {text}");
        assert!(lines[0].contains("REPLACEME"), "{logical}: {}", lines[0]);
    }
}
