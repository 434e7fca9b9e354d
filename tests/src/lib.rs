//! Helpers for the black-box tests: start the dev server in-process on a random loopback port
//! with a chosen catalog and clock, and talk to it over real HTTP.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use dev_server::AwsParts;
use dev_server::{DevServer, DevSettings, mint_token};
use oms_app::system::RandomIds;
use oms_core::ports::{FulfilmentJob, IdGenerator, Message, Trace};
use oms_core::webhook::simulate;
use oms_core::{Money, Secret, Timestamp};
use oms_memory::ManualClock;
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub const JWT_SECRET: &str = "e2e-jwt-secret";

pub struct TestApp {
    pub server: DevServer,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// On the AWS backend: what has been drained from the job queue and the alerts inbox.
    seen_jobs: Mutex<Vec<FulfilmentJob>>,
    seen_alerts: Mutex<Vec<Message>>,
    alerts_inbox: Option<String>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error.code` of an error envelope, after checking the envelope's shape.
    pub fn error_code(&self) -> &str {
        let e = &self.body["error"];
        assert!(e["message"].is_string(), "no message in {}", self.text);
        assert_eq!(
            e["requestId"].as_str(),
            self.header("x-request-id"),
            "the envelope's requestId must be the response's x-request-id: {}",
            self.text
        );
        e["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error envelope: {}", self.text))
    }
}

pub struct Options {
    pub catalog: &'static str,
    pub env: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            catalog: DEFAULT_CATALOG,
            env: Vec::new(),
        }
    }
}

pub const DEFAULT_CATALOG: &str = r#"{"currency":"INR","products":[
  {"sku":"CHAI-250G","name":"Masala chai 250 g","unitPrice":34900,"available":1000},
  {"sku":"MUG-BRASS","name":"Brass tumbler","unitPrice":129900,"available":50},
  {"sku":"SAREE-RED","name":"Kanjivaram saree","unitPrice":1849900,"available":3}
]}"#;

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(opts: Options) -> Self {
        // `E2E_LOG=warn cargo test -p oms-e2e` shows the server's logs.
        if let Ok(level) = std::env::var("E2E_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(level)
                .with_test_writer()
                .try_init();
        }
        let mut env: HashMap<&str, String> = HashMap::new();
        env.insert("PORT", "0".into());
        // `DEV_BACKEND=aws cargo test -p oms-e2e` runs the whole suite on the AWS adapters
        // against the local AWS API server; each app gets its own table, queue and topics.
        if std::env::var("DEV_BACKEND").as_deref() == Ok("aws") {
            assert!(
                std::env::var("AWS_ENDPOINT_URL").is_ok(),
                "DEV_BACKEND=aws needs the local AWS API server that ./scripts/test starts (AWS_ENDPOINT_URL is not set)"
            );
            env.insert("DEV_BACKEND", "aws".into());
            env.insert(
                "DEV_AWS_PREFIX",
                format!(
                    "e2e-{}",
                    RandomIds
                        .ulid(Timestamp::from_unix_millis(0))
                        .to_lowercase()
                ),
            );
        }
        env.insert("DEV_JWT_SECRET", JWT_SECRET.into());
        // The worker and the sweep consume the queue; tests that inspect it keep them off.
        env.insert("DEV_BACKGROUND", "false".into());
        for (k, v) in opts.env {
            env.insert(k, v);
        }
        let mut settings =
            DevSettings::from_lookup(|k| env.get(k).cloned()).expect("test settings are valid");
        settings.catalog = oms_memory::parse_catalog(opts.catalog).expect("test catalog is valid");
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix_millis(
            1_800_000_000_000,
        )));
        settings.clock = clock.clone();
        let server = dev_server::spawn(&settings).await.expect("server starts");
        let alerts_inbox = match &server.parts.aws {
            Some(aws) => Some(subscribe_inbox(aws).await),
            None => None,
        };
        Self {
            server,
            http: reqwest::Client::new(),
            clock,
            seen_jobs: Mutex::new(Vec::new()),
            seen_alerts: Mutex::new(Vec::new()),
            alerts_inbox,
        }
    }

    /// Makes the next `n` fulfilment job sends fail, as an unreachable queue would.
    pub fn fail_next_sends(&self, n: usize) {
        self.server.parts.queue_faults.fail_next(n);
    }

    /// Every fulfilment job sent so far, each with the trace it carries (on SQS, its message
    /// attributes).
    pub async fn jobs(&self) -> Vec<FulfilmentJob> {
        if let Some(m) = &self.server.parts.memory {
            return m.queue.sent();
        }
        let aws = self.server.parts.aws.as_ref().expect("a backend");
        let mut seen = self.seen_jobs.lock().await;
        for (body, trace) in drain(&aws.clients, &aws.resources.queue_url).await {
            let mut job: FulfilmentJob = serde_json::from_str(&body).expect("jobs are JSON");
            job.trace = trace;
            seen.push(job);
        }
        seen.clone()
    }

    /// Fulfilment jobs sent for `order_id`.
    pub async fn jobs_for(&self, order_id: &str) -> usize {
        self.jobs()
            .await
            .iter()
            .filter(|j| j.order_id.as_str() == order_id)
            .count()
    }

    /// Fulfilment jobs still owed (outbox entries).
    pub async fn outbox_len(&self) -> usize {
        if let Some(m) = &self.server.parts.memory {
            return m.store.outbox().len();
        }
        let aws = self.server.parts.aws.as_ref().expect("a backend");
        aws.store
            .outbox_before(Timestamp::from_unix_millis(253_402_300_799_999), 100)
            .await
            .expect("outbox query")
            .len()
    }

    /// Recorded provider events as `(outcome, payload)`.
    pub async fn events(&self) -> Vec<(String, String)> {
        if let Some(m) = &self.server.parts.memory {
            return m
                .store
                .events()
                .into_iter()
                .map(|e| (e.outcome.as_str().to_owned(), e.payload))
                .collect();
        }
        let aws = self.server.parts.aws.as_ref().expect("a backend");
        let out = aws
            .clients
            .dynamodb
            .scan()
            .table_name(&aws.resources.table)
            .filter_expression("begins_with(PK, :p)")
            .expression_attribute_values(":p", AttributeValue::S("EVENT#".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("scan events");
        out.items()
            .iter()
            .map(|it| {
                let get = |k: &str| {
                    it.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                (get("outcome"), get("payload"))
            })
            .collect()
    }

    /// Ops alerts and order events published so far with this event type: their bodies.
    pub async fn alerts(&self, event_type: &str) -> Vec<Value> {
        self.published(event_type)
            .await
            .into_iter()
            .map(|m| m.body)
            .collect()
    }

    /// Ops alerts and order events published so far with this event type, as published (on
    /// SNS, the trace read back from the message attributes subscribers receive).
    pub async fn published(&self, event_type: &str) -> Vec<Message> {
        if let Some(m) = &self.server.parts.memory {
            return m.publisher.of_type(event_type);
        }
        let aws = self.server.parts.aws.as_ref().expect("a backend");
        let inbox = self.alerts_inbox.as_ref().expect("an alerts inbox");
        let mut seen = self.seen_alerts.lock().await;
        for (body, _) in drain(&aws.clients, inbox).await {
            let envelope: Value = serde_json::from_str(&body).expect("an SNS envelope");
            let attribute = |name: &str| envelope["MessageAttributes"][name]["Value"].as_str();
            let kind = attribute("eventType").unwrap_or_default().to_owned();
            let message: Value =
                serde_json::from_str(envelope["Message"].as_str().unwrap_or("null"))
                    .unwrap_or(Value::Null);
            seen.push(Message {
                event_type: kind,
                body: message,
                trace: Trace::from_attributes(attribute),
            });
        }
        seen.iter()
            .filter(|m| m.event_type == event_type)
            .cloned()
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.api_url(path)
    }

    pub fn token(&self, sub: &str) -> String {
        mint_token(
            JWT_SECRET,
            sub,
            Some(&format!("{sub}@example.com")),
            &[],
            Duration::from_secs(3600),
        )
    }

    pub fn admin_token(&self, sub: &str) -> String {
        mint_token(
            JWT_SECRET,
            sub,
            Some(&format!("{sub}@example.com")),
            &["admin"],
            Duration::from_secs(3600),
        )
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request reaches the server");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path))).await
    }

    /// `GET` of one of the dev server's own pages, outside the API prefix (`/docs`, `/metrics`).
    pub async fn get_page(&self, path: &str) -> Reply {
        let url = format!("{}{path}", self.server.base_url);
        self.send(self.http.get(url)).await
    }

    /// `POST /orders` with a JSON body, optional bearer token and idempotency key.
    pub async fn create_order(
        &self,
        body: &Value,
        token: Option<&str>,
        key: Option<&str>,
    ) -> Reply {
        let mut req = self.http.post(self.url("/orders")).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        self.send(req).await
    }

    pub async fn get_order(
        &self,
        id: &str,
        token: Option<&str>,
        order_token: Option<&str>,
    ) -> Reply {
        let mut req = self.http.get(self.url(&format!("/orders/{id}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(t) = order_token {
            req = req.header("X-Order-Token", t);
        }
        self.send(req).await
    }

    /// Posts `body` to the Stripe webhook route signed with `secret` at the app's current time.
    pub async fn stripe_event(&self, body: &str, secret: &str) -> Reply {
        let t = self.clock_now().unix_seconds();
        let sig = simulate::stripe_signature(&Secret::new(secret), t, body);
        self.send(
            self.http
                .post(self.url("/webhooks/stripe"))
                .header("content-type", "application/json; charset=utf-8")
                .header("stripe-signature", sig)
                .body(body.to_owned()),
        )
        .await
    }

    /// Posts `body` to the Razorpay webhook route signed with `secret`.
    pub async fn razorpay_event(&self, body: &str, secret: &str, event_id: &str) -> Reply {
        let sig = simulate::razorpay_signature(&Secret::new(secret), body);
        self.send(
            self.http
                .post(self.url("/webhooks/razorpay"))
                .header("content-type", "application/json")
                .header("x-razorpay-signature", sig)
                .header("x-razorpay-event-id", event_id)
                .body(body.to_owned()),
        )
        .await
    }

    /// Shiprocket's tracking webhook: status `status_id` for `awb` (of order `order_id`) at
    /// `at`, with `token` in `x-api-key` (none when `None`).
    pub async fn track(
        &self,
        awb: &str,
        order_id: &str,
        status_id: u32,
        at: Timestamp,
        token: Option<&str>,
    ) -> Reply {
        let body = oms_core::tracking::simulate::shiprocket_body(
            awb,
            order_id,
            status_id,
            &format!("STATUS {status_id}"),
            at,
        );
        let mut req = self
            .http
            .post(self.url("/webhooks/shiprocket"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.header("x-api-key", t);
        }
        self.send(req).await
    }

    /// `POST /admin/orders/{id}/refunds` as admin `test-admin`, with `key` and `body`.
    pub async fn refund(&self, id: &str, key: Option<&str>, body: &Value) -> Reply {
        let mut req = self
            .http
            .post(self.url(&format!("/admin/orders/{id}/refunds")))
            .bearer_auth(self.admin_token("test-admin"))
            .json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        self.send(req).await
    }

    /// The offline provider stand-in of `provider` (`stripe`, `razorpay`).
    pub fn standin(&self, provider: &str) -> &dev_server::standin::StandIn {
        let kind = oms_core::ProviderKind::parse(provider).expect("a provider");
        self.server
            .parts
            .standins
            .as_ref()
            .expect("the test server runs the offline stand-ins")
            .get(kind)
    }

    /// Polls the order (as an admin) until `done` holds, for the webhooks the stand-ins deliver
    /// in the background; panics with the last body after a few seconds.
    pub async fn order_until(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..100 {
            last = self.order(id).await;
            if done(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the order never got there: {last}");
    }

    /// One run of the sweep, as the cleanup Lambda does it.
    pub async fn sweep(&self) -> Value {
        let report = cleanup::run(&self.server.state.services, 100)
            .await
            .expect("the sweep runs");
        serde_json::to_value(report).expect("a report")
    }

    /// Pays a new guest order through its provider's signed webhook; returns
    /// `(orderId, provider payment id, amount)`.
    pub async fn paid_order(
        &self,
        sku: &str,
        quantity: u32,
        provider: &str,
    ) -> (String, String, i64) {
        let (id, provider_ref, _, amount) = self.guest_order(sku, quantity, provider).await;
        let now = self.clock_now().unix_seconds();
        let prefix = if provider == "stripe" { "pi" } else { "pay" };
        let payment = format!("{prefix}_{}", &id[4..18]);
        let r = match provider {
            "stripe" => {
                let body = simulate::stripe_session_paid(
                    &format!("evt_paid_{id}"),
                    "checkout.session.completed",
                    &provider_ref,
                    &payment,
                    Some(&id),
                    inr(amount),
                    now,
                );
                self.stripe_event(&body, STRIPE_SECRET).await
            }
            _ => {
                let body = simulate::razorpay_payment_event(
                    "payment.captured",
                    &payment,
                    &provider_ref,
                    Some(&id),
                    inr(amount),
                );
                self.razorpay_event(&body, RAZORPAY_SECRET, &format!("evt_paid_{id}"))
                    .await
            }
        };
        assert_eq!(r.status, 200, "{}", r.text);
        (id, payment, amount)
    }

    pub fn clock_now(&self) -> Timestamp {
        use oms_core::ports::Clock;
        self.clock.now()
    }

    /// Creates a guest order and returns `(orderId, providerOrderId, accessToken, amount)`.
    pub async fn guest_order(
        &self,
        sku: &str,
        quantity: u32,
        provider: &str,
    ) -> (String, String, String, i64) {
        let r = self
            .create_order(&order_body(sku, quantity, provider), None, None)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let provider_ref = r.body["payment"]["providerOrderId"]
            .as_str()
            .or_else(|| r.body["payment"]["sessionId"].as_str())
            .unwrap()
            .to_owned();
        (
            r.body["orderId"].as_str().unwrap().to_owned(),
            provider_ref,
            r.body["accessToken"].as_str().unwrap().to_owned(),
            r.body["amount"].as_i64().unwrap(),
        )
    }

    /// The order as an admin sees it.
    pub async fn order(&self, id: &str) -> Value {
        let r = self
            .get_order(id, Some(&self.admin_token("test-admin")), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    pub async fn available(&self, sku: &str) -> u64 {
        let r = self.get("/products").await;
        r.body["products"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["sku"] == sku))
            .and_then(|p| p["available"].as_u64())
            .unwrap_or_else(|| panic!("{sku} not in {}", r.text))
    }
}

/// A valid order body for `sku` × `quantity`, paid with `provider`.
pub fn order_body(sku: &str, quantity: u32, provider: &str) -> Value {
    json!({
        "items": [{"sku": sku, "quantity": quantity}],
        "currency": "INR",
        "paymentProvider": provider,
        "customer": {"email": "asha@example.in", "name": "Asha Rao", "phone": "+91 98765 43210"},
        "shippingAddress": {
            "name": "Asha Rao", "line1": "12 MG Road", "line2": "Near the metro",
            "city": "Bengaluru", "state": "Karnataka", "postalCode": "560001", "country": "IN"
        }
    })
}

/// Amount in INR minor units.
pub fn inr(minor: i64) -> Money {
    Money::new(minor, oms_core::Currency::parse("INR").expect("INR")).expect("amount")
}

/// The dev server's documented default webhook secrets (offline mode).
pub const STRIPE_SECRET: &str = "whsec_dev_local_only";
pub const RAZORPAY_SECRET: &str = "rzp_webhook_dev_local_only";
pub const RAZORPAY_KEY_SECRET: &str = "rzp_key_secret_dev_local_only";
/// The tracking webhook's documented development token.
pub const SHIPROCKET_TOKEN: &str = "shiprocket_token_dev_local_only";

/// Receives everything waiting on an SQS queue (and hides it for an hour).
async fn drain(clients: &oms_aws::AwsClients, url: &str) -> Vec<(String, Trace)> {
    let mut bodies = Vec::new();
    loop {
        let got = clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(3600)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive");
        if got.messages().is_empty() {
            return bodies;
        }
        bodies.extend(got.messages().iter().filter_map(|m| {
            let trace = Trace::from_attributes(|name| {
                m.message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
            });
            m.body().map(|b| (b.to_owned(), trace))
        }));
    }
}

/// An SQS queue subscribed to the ops-alerts topic, to see what on-call would receive.
async fn subscribe_inbox(aws: &AwsParts) -> String {
    let sqs = &aws.clients.sqs;
    let name = format!("{}-alerts-inbox", aws.resources.table);
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("inbox")
        .queue_url
        .unwrap_or_default();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("inbox arn")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    // Both topics: `alerts` filters by event type (`ops.…` alerts, `order.…` events).
    for topic in [
        &aws.resources.ops_alerts_arn,
        &aws.resources.order_events_arn,
    ] {
        aws.clients
            .sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(&arn)
            .send()
            .await
            .expect("subscribe");
    }
    url
}
