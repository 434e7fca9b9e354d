//! Fault points along the whole path: create → webhook → worker → cleanup.
//!
//! Every port the path uses (store, queue, publisher, secrets, payment provider, invoice
//! storage, carrier, notifier) is wrapped in one [`FaultPlan`], which numbers every call. A
//! scenario is first run without a fault to count its calls; then, for every call `k` and every
//! kind of failure (refused, timed out and applied late, applied with its answer lost), it is run
//! again with call `k` failing, driven the way the outside world drives the service: the
//! storefront retries a 5xx with its `Idempotency-Key`, the provider redelivers until it gets a
//! 2xx (and once more afterwards, as at-least-once delivery does), SQS redelivers a failed job
//! after its visibility timeout until `maxReceiveCount`, and the schedule runs the sweep every
//! few minutes. Each run must end with the money recorded once, the stock exact, exactly one
//! fulfilment (one invoice number, one shipment, one `fulfilled`), and nothing stuck: no message
//! in the dead-letter queue, no job still owed.
//!
//! The routers, the worker and the sweep are the Lambdas' own (`create_order::routes()`, …,
//! `post_payment_worker::Worker`, `cleanup::run`), on the in-memory adapters — or, with
//! `DEV_BACKEND=aws`, on the DynamoDB store against the local AWS API server (a table per run).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use oms_app::config::{Config, Env, FulfilmentConfig, ProviderMode};
use oms_app::local::Local;
use oms_core::ports::{
    Clock, EventPublisher, InvoiceStorage, JobQueue, Notifier, NotifyError, OrderStore,
    PaymentProvider, PaymentProviders,
};
use oms_core::webhook::simulate;
use oms_core::{
    Currency, Money, Order, OrderId, OrderStatus, Product, Secret, Sku, TimelineType, Timestamp,
};
use oms_http::AppState;
use oms_http::identity::{DevJwtKey, IdentitySource};
use oms_memory::{
    Fault, FaultPlan, Faulty, InMemoryInvoices, InMemoryPublisher, InMemoryQueue, InMemoryStore,
    ManualClock,
};
use post_payment_worker::Worker;
use serde_json::{Value, json};
use tower::ServiceExt;

const SKU: &str = "CHAI-250G";
const PRICE: i64 = 34_900;
const STOCK: u32 = 10;
const QUANTITY: u32 = 2;
const STRIPE_SECRET: &str = "whsec_faults";
const RAZORPAY_SECRET: &str = "rzp_faults";
/// The queue's `VisibilityTimeout` and `maxReceiveCount` (template.yaml).
const VISIBILITY: Duration = Duration::from_secs(180);
const MAX_RECEIVES: u32 = 5;

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").expect("INR")).expect("amount")
}

/// Counts the messages the customer was sent.
#[derive(Default)]
struct CountingNotifier(AtomicUsize);

#[async_trait]
impl Notifier for CountingNotifier {
    async fn order_fulfilled(&self, _: &Order) -> Result<(), NotifyError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// A Razorpay order is paid (`payment.captured`, then its sibling `order.paid`) and
    /// fulfilled.
    RazorpayPaid,
    /// A Stripe Checkout order is paid (`checkout.session.completed`) and fulfilled.
    StripePaid,
    /// A Stripe order is never paid: the sweep closes its checkout, cancels it, and gives the
    /// stock back.
    Abandoned,
}

/// One run: the service's state, its adapters behind the fault plan, and what the outside
/// world has seen.
struct World {
    plan: Arc<FaultPlan>,
    clock: Arc<ManualClock>,
    store: Arc<dyn OrderStore>,
    queue: Arc<InMemoryQueue>,
    publisher: Arc<InMemoryPublisher>,
    notifier: Arc<CountingNotifier>,
    state: AppState,
    router: Router,
    worker: Worker,
    dead_letters: Vec<String>,
}

async fn backing_store(catalog: Vec<Product>) -> Arc<dyn OrderStore> {
    if std::env::var("DEV_BACKEND").as_deref() != Ok("aws") {
        return Arc::new(InMemoryStore::new(catalog));
    }
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "DEV_BACKEND=aws needs the local AWS API server that ./scripts/test starts"
    );
    use oms_core::ports::IdGenerator;
    let table = format!(
        "faults-{}",
        oms_app::system::RandomIds
            .ulid(Timestamp::from_unix_millis(0))
            .to_lowercase()
    );
    let clients = oms_aws::AwsClients::from_env().await;
    oms_aws::bootstrap::ensure_table(&clients, &table)
        .await
        .expect("table");
    let store = oms_aws::DynamoStore::new(clients.dynamodb.clone(), &table);
    store.put_products(&catalog).await.expect("catalog");
    Arc::new(store)
}

impl World {
    async fn new(target: Option<(usize, Fault)>) -> Self {
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix_millis(
            1_800_000_000_000,
        )));
        let plan = FaultPlan::new(target, clock.clone());
        macro_rules! faulty {
            ($port:expr) => {
                Faulty::new($port, plan.clone())
            };
        }
        let catalog = vec![Product {
            sku: Sku::parse(SKU).expect("sku"),
            name: "Masala chai 250 g".into(),
            unit_price: inr(PRICE),
            available: STOCK,
        }];
        let inner_store = backing_store(catalog).await;
        let notifier = Arc::new(CountingNotifier::default());
        let env = [
            ("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET),
            ("RAZORPAY_WEBHOOK_SECRET", RAZORPAY_SECRET),
        ];
        let config =
            Config::read(&Env::from_pairs(&env), Some(ProviderMode::Offline)).expect("config");
        // The service as the dev server wires it, then every port wrapped in the fault plan.
        let local = Local::new(
            config,
            inner_store,
            clock.clone(),
            "http://local/dev/checkout",
        );
        let (queue, publisher) = (local.outlets.queue.clone(), local.outlets.publisher.clone());
        let mut services = local.services.clone();
        let store: Arc<dyn OrderStore> = Arc::new(faulty!(services.store.clone()));
        let publisher_port: Arc<dyn EventPublisher> = Arc::new(faulty!(publisher.clone()));
        services.store = store.clone();
        services.queue = Arc::new(faulty!(queue.clone() as Arc<dyn JobQueue>));
        services.publisher = publisher_port.clone();
        services.secrets = Arc::new(faulty!(services.secrets.clone()));
        let providers: Vec<Arc<dyn PaymentProvider>> = services
            .providers
            .kinds()
            .into_iter()
            .filter_map(|kind| services.providers.get(kind).cloned())
            .map(|p| Arc::new(faulty!(p)) as Arc<dyn PaymentProvider>)
            .collect();
        services.providers = PaymentProviders::new(providers);
        let state = oms_app::local::http_state(
            &local.config,
            services.clone(),
            IdentitySource::DevJwt(Arc::new(DevJwtKey::new(b"faults"))),
        );
        let router = oms_http::mount(
            create_order::routes()
                .merge(orders_api::routes())
                .merge(payment_webhook::routes()),
            state.clone(),
        );
        // The worker's own configuration: Shiprocket's dry run (deterministic, so idempotent
        // per order like the real adapter must be) and the seller's defaults.
        let fulfilment = FulfilmentConfig::read(&Env::from_pairs(&[])).expect("worker config");
        let invoices: Arc<dyn InvoiceStorage> = Arc::new(InMemoryInvoices::default());
        let mut ports = oms_app::wiring::fulfilment(&fulfilment, Arc::new(faulty!(invoices)));
        ports.carrier = Arc::new(faulty!(ports.carrier));
        ports.notifier = Arc::new(faulty!(notifier.clone() as Arc<dyn Notifier>));
        ports.max_receives = MAX_RECEIVES;
        let worker = Worker::new(&services, ports);
        Self {
            plan,
            clock,
            store,
            queue,
            publisher,
            notifier,
            state,
            router,
            worker,
            dead_letters: Vec::new(),
        }
    }

    async fn call(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router answers");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The storefront: `POST /orders` with an `Idempotency-Key`, retried on 5xx.
    async fn create_order(&self, provider: &str) -> Value {
        let body = json!({
            "items": [{"sku": SKU, "quantity": QUANTITY}],
            "currency": "INR",
            "paymentProvider": provider,
            "customer": {"email": "asha@example.in", "name": "Asha Rao", "phone": "+91 98765 43210"},
            "shippingAddress": {"name": "Asha Rao", "line1": "12 MG Road", "city": "Bengaluru",
                                "state": "Karnataka", "postalCode": "560001", "country": "IN"}
        })
        .to_string();
        for _ in 0..5 {
            let req = Request::post("/api/v1/orders")
                .header("content-type", "application/json")
                .header("idempotency-key", "checkout-attempt-1")
                .body(Body::from(body.clone()))
                .expect("request");
            let (status, reply) = self.call(req).await;
            if status == StatusCode::CREATED {
                return reply;
            }
            assert!(
                status.is_server_error(),
                "only a failure on our side may refuse the order: {status} {reply}"
            );
        }
        panic!("the order was never created");
    }

    /// The provider: delivers until it gets a 2xx (both providers retry for a day or more).
    async fn deliver(&self, path: &str, headers: &[(&str, String)], body: &str) {
        for _ in 0..8 {
            let mut req = Request::post(path).header("content-type", "application/json");
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let (status, reply) = self
                .call(req.body(Body::from(body.to_owned())).expect("request"))
                .await;
            if status.is_success() {
                assert_eq!(reply, json!({"received": true}));
                return;
            }
            assert!(
                status.is_server_error(),
                "a correctly signed event is never refused: {status} {reply}"
            );
        }
        panic!("the webhook never succeeded");
    }

    async fn razorpay(&self, event_id: &str, body: &str) {
        let sig = simulate::razorpay_signature(&Secret::new(RAZORPAY_SECRET), body);
        let headers = [
            ("x-razorpay-signature", sig),
            ("x-razorpay-event-id", event_id.to_owned()),
        ];
        self.deliver("/api/v1/webhooks/razorpay", &headers, body)
            .await;
    }

    async fn stripe(&self, body: &str) {
        // Signed at each delivery, as Stripe does for a retry.
        let t = self.clock.now().unix_millis() / 1000;
        let sig = simulate::stripe_signature(&Secret::new(STRIPE_SECRET), t, body);
        self.deliver(
            "/api/v1/webhooks/stripe",
            &[("stripe-signature", sig)],
            body,
        )
        .await;
    }

    /// SQS and the worker Lambda: every job is received until it succeeds; a failed receive
    /// comes back after the visibility timeout, and the `maxReceiveCount`-th failure goes to the
    /// dead-letter queue.
    async fn drain_queue(&mut self) {
        let mut inflight: VecDeque<(String, u32)> = VecDeque::new();
        loop {
            while let Some(job) = self.queue.try_take() {
                inflight.push_back((serde_json::to_string(&job).expect("job"), 0));
            }
            let Some((body, receives)) = inflight.pop_front() else {
                return;
            };
            let receives = receives + 1;
            if let post_payment_worker::Processed::Failed { .. } =
                self.worker.process(Some(&body)).await
            {
                if receives >= MAX_RECEIVES {
                    self.dead_letters.push(body);
                } else {
                    self.clock.advance(VISIBILITY);
                    inflight.push_back((body, receives));
                }
            }
        }
    }

    /// The schedule: a sweep every few minutes (a failed run is simply followed by the next).
    async fn scheduled_sweeps(&mut self, runs: usize) {
        for _ in 0..runs {
            self.clock.advance(Duration::from_secs(5 * 60));
            let _ = cleanup::run(&self.state.services, 100).await;
            self.drain_queue().await;
        }
    }

    async fn run(&mut self, scenario: Scenario) -> OrderId {
        let provider = match scenario {
            Scenario::RazorpayPaid => "razorpay",
            Scenario::StripePaid | Scenario::Abandoned => "stripe",
        };
        let created = self.create_order(provider).await;
        let order_id = created["orderId"].as_str().expect("orderId").to_owned();
        let amount = inr(PRICE * i64::from(QUANTITY));
        match scenario {
            Scenario::RazorpayPaid => {
                let rzp_order = created["payment"]["providerOrderId"]
                    .as_str()
                    .expect("Razorpay order id");
                let captured = simulate::razorpay_payment_event(
                    "payment.captured",
                    "pay_faults1",
                    rzp_order,
                    Some(&order_id),
                    amount,
                );
                let paid = simulate::razorpay_order_paid(
                    "pay_faults1",
                    rzp_order,
                    Some(&order_id),
                    amount,
                );
                self.razorpay("evt_captured", &captured).await;
                self.razorpay("evt_order_paid", &paid).await;
                // At-least-once: the first event comes again.
                self.razorpay("evt_captured", &captured).await;
            }
            Scenario::StripePaid => {
                let session = created["payment"]["sessionId"]
                    .as_str()
                    .expect("Stripe session id");
                let completed = simulate::stripe_session_paid(
                    "evt_faults_completed",
                    "checkout.session.completed",
                    session,
                    "pi_faults1",
                    Some(&order_id),
                    amount,
                    self.clock.now().unix_millis() / 1000,
                );
                self.stripe(&completed).await;
                self.stripe(&completed).await;
            }
            Scenario::Abandoned => {
                // Past the payment window (30 minutes by default).
                self.clock.advance(Duration::from_secs(31 * 60));
            }
        }
        self.drain_queue().await;
        self.scheduled_sweeps(3).await;
        OrderId::parse(&order_id).expect("order id")
    }

    /// The order as stored.
    async fn order(&self, id: &OrderId) -> Order {
        // Past the plan's target by now (checked before), so never a fault point.
        let order = self.store.get_order(id).await;
        order.expect("readable").expect("the order exists")
    }

    async fn available(&self) -> u32 {
        let products = self
            .store
            .get_products(&[Sku::parse(SKU).expect("sku")])
            .await
            .expect("products");
        products[0].available
    }
}

fn count(order: &Order, kind: TimelineType) -> usize {
    order.timeline().iter().filter(|e| e.kind == kind).count()
}

/// Checks the invariants at the end of one run; `Err` says what broke.
/// `hit_notice_record`: the fault hit the write that records the customer message.
async fn check(
    world: &World,
    scenario: Scenario,
    id: &OrderId,
    hit_notice_record: bool,
) -> Result<(), String> {
    let injected = world.plan.injected_at();
    let order = world.order(id).await;
    let stock = world.available().await;
    let mut broken = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            broken.push(what);
        }
    };
    expect(
        world.dead_letters.is_empty(),
        format!("jobs in the dead-letter queue: {:?}", world.dead_letters),
    );
    let owed = world
        .store
        .owed_outbox(world.clock.now().plus(Duration::from_secs(3600)), 10)
        .await
        .map_err(|e| e.to_string())?;
    expect(owed.is_empty(), format!("jobs still owed: {owed:?}"));
    match scenario {
        Scenario::RazorpayPaid | Scenario::StripePaid => {
            let amount = inr(PRICE * i64::from(QUANTITY));
            expect(
                order.status() == OrderStatus::Fulfilled,
                format!("status {}", order.status().as_str()),
            );
            expect(
                order.payment().captured == Some(amount),
                format!("captured {:?}", order.payment().captured),
            );
            expect(!order.requires_review(), "held for review".into());
            for kind in [
                TimelineType::PaymentSucceeded,
                TimelineType::InvoiceIssued,
                TimelineType::ShipmentCreated,
                TimelineType::Fulfilled,
            ] {
                let n = count(&order, kind);
                expect(n == 1, format!("{kind:?} recorded {n} times"));
            }
            expect(
                count(&order, TimelineType::Cancelled) == 0,
                "cancelled".into(),
            );
            let last = world
                .store
                .last_invoice_number()
                .await
                .map_err(|e| e.to_string())?;
            expect(
                last == 1 && order.invoice().map(|i| i.number.as_str()) == Some("INV-000001"),
                format!("invoice counter {last}, invoice {:?}", order.invoice()),
            );
            expect(
                order.notified_at().is_some(),
                "never marked notified".into(),
            );
            expect(
                stock == STOCK - QUANTITY,
                format!("stock {stock}, expected {}", STOCK - QUANTITY),
            );
            // `order.fulfilled` is at least once: a publish whose answer was lost, or one followed
            // by a failed customer-message record, is sent again by the retried job; a refused
            // publish is sent by the retry only.
            let fulfilled = world.publisher.of_type("order.fulfilled").len();
            let publish_applied_then_failed = matches!(
                injected,
                Some(("publisher.publish", Fault::Timeout | Fault::LostAnswer))
            );
            let allowed = if publish_applied_then_failed || hit_notice_record {
                1..=2
            } else {
                1..=1
            };
            expect(
                allowed.contains(&fulfilled),
                format!("order.fulfilled published {fulfilled} times"),
            );
            // The customer message is best effort and at most once: it is recorded before it
            // is sent, so a refused send, or a record whose answer was lost (the retried job
            // finds it recorded), means no message — never two.
            let messages = world.notifier.0.load(Ordering::SeqCst);
            let expected = match injected {
                Some(("notifier.order_fulfilled", Fault::Refused)) => 0,
                Some((_, Fault::Timeout | Fault::LostAnswer)) if hit_notice_record => 0,
                _ => 1,
            };
            expect(
                messages == expected,
                format!("customer messaged {messages} times, expected {expected}"),
            );
        }
        Scenario::Abandoned => {
            expect(
                order.status() == OrderStatus::Cancelled,
                format!("status {}", order.status().as_str()),
            );
            expect(
                count(&order, TimelineType::Cancelled) == 1,
                "cancelled more than once".into(),
            );
            expect(stock == STOCK, format!("stock {stock}, expected {STOCK}"));
            expect(order.invoice().is_none(), "invoiced".into());
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken.join("; "))
    }
}

/// Runs `scenario` once clean, then once per fault point; returns how many points were run.
async fn sweep_fault_points(scenario: Scenario) -> usize {
    let mut clean = World::new(None).await;
    let id = clean.run(scenario).await;
    // Counted before the checks' own reads.
    let clean_calls = clean.plan.calls();
    let calls = clean_calls.len();
    // The write that records the customer message: the last store write before it is sent.
    let notice_record = clean_calls
        .iter()
        .position(|op| *op == "notifier.order_fulfilled")
        .and_then(|n| {
            clean_calls[..n]
                .iter()
                .rposition(|op| *op == "store.save_order")
        });
    check(&clean, scenario, &id, false)
        .await
        .unwrap_or_else(|e| panic!("{scenario:?} without a fault: {e}"));
    let mut failures = Vec::new();
    let mut points = 0;
    for k in 0..calls {
        for fault in Fault::ALL {
            let mut world = World::new(Some((k, fault))).await;
            let id = world.run(scenario).await;
            points += 1;
            let at = world.plan.injected_at();
            assert!(at.is_some(), "{scenario:?}: call {k} was never reached");
            if let Err(e) = check(&world, scenario, &id, notice_record == Some(k)).await {
                failures.push(format!("{scenario:?}, call {k} {at:?}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {points} fault points broke an invariant:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "{scenario:?}: {calls} calls on the clean path, {points} fault points, all invariants held"
    );
    points
}

#[tokio::test]
async fn a_razorpay_purchase_survives_a_failure_at_every_call() {
    let points = sweep_fault_points(Scenario::RazorpayPaid).await;
    assert!(points >= 3 * 20, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_stripe_purchase_survives_a_failure_at_every_call() {
    let points = sweep_fault_points(Scenario::StripePaid).await;
    assert!(points >= 3 * 15, "the path is longer than {points} points");
}

#[tokio::test]
async fn an_abandoned_order_is_cancelled_once_and_its_stock_returned_whatever_fails() {
    let points = sweep_fault_points(Scenario::Abandoned).await;
    assert!(points >= 3 * 5, "the path is longer than {points} points");
}
