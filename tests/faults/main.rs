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
//! The refund scenarios go on from a paid and fulfilled order: an admin asks for a partial
//! refund (`POST /admin/orders/{orderId}/refunds`), and the admin's client retries a 5xx with
//! the same `Idempotency-Key` until the `201`, or until a `503` says the refund is recorded and
//! kept `requested` (the provider was unreachable; the sweep sends it). The provider (the offline
//! stand-in, behind a recorder) sends its refund webhook once it has made the refund, whether or
//! not its answer reached us, and the scheduled sweep resends what is owed once its send lease
//! has run out. Each run must end with one refund request, asked of the provider under one
//! refund id, `succeeded`, its money counted once, the route having answered only `201` or
//! `503`, and no refund owed.
//!
//! The routers, the worker and the sweep are the Lambdas' own (`create_order::routes()`, …,
//! `post_payment_worker::Worker`, `cleanup::run`), on the in-memory adapters — or, with
//! `DEV_BACKEND=aws`, on the DynamoDB store against the local AWS API server (a table per run).

use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use oms_app::config::{Config, Env, FulfilmentConfig, ProviderMode};
use oms_app::local::Local;
use oms_core::order::{DisputeStatus, FulfilmentStatus, PaymentStatus, RefundState};
use oms_core::ports::{
    BackfillItem, BackfillPage, BackfillQuery, Carrier, CheckoutClosed, CheckoutRequest, Clock,
    DeadJobs, DownloadLinks, EventPublisher, FulfilmentJob, InvoiceStorage, JobQueue, Notifier,
    NotifyError, OrderStore, PaymentProvider, PaymentProviders, ProviderError, ProviderRefund,
    ProviderRefundStatus, RefundCall,
};
use oms_core::webhook::simulate::{self, DisputeSpec, RefundSpec};
use oms_core::{
    Currency, Money, Order, OrderId, OrderStatus, PaymentInfo, Product, ProviderKind, Secret, Sku,
    TimelineType, Timestamp,
};
use oms_http::AppState;
use oms_http::identity::{DevJwtKey, IdentitySource};
use oms_memory::{
    Fault, FaultPlan, Faulty, FaultyCarrier, InMemoryInvoices, InMemoryPublisher, InMemoryQueue,
    InMemoryStore, ManualClock,
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
/// The part of the payment the admin refunds, and the key the admin's client sends it under.
const REFUND: i64 = 12_500;
const REFUND_KEY: &str = "refund-damaged-1";
const JWT_SECRET: &str = "faults";
/// The Razorpay refund that arrives before its payment is known (unmatched), later replayed.
const UNMATCHED_REFUND_EVENT: &str = "evt_refund_early";
const UNMATCHED_REFUND: i64 = 10_000;

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").expect("INR")).expect("amount")
}

/// The payment providers' side of the refunds: every refund call that reached the provider and
/// every refund it made, whether or not its answer reached us; and a switch for an outage.
#[derive(Default)]
struct ProviderLog {
    /// While set, refund calls do not reach the provider (connection refused).
    down: AtomicBool,
    calls: Mutex<Vec<RefundCall>>,
    made: Mutex<Vec<(ProviderKind, RefundCall, ProviderRefund)>>,
    /// Payments the provider holds by checkout (session or provider order id), as its API
    /// reports them: a customer who paid whose webhook never came.
    paid: Mutex<Vec<(String, oms_core::ports::FoundPayment)>>,
    /// Stripe events the provider lists (`GET /v1/events`) whose webhook never came.
    events: Mutex<Vec<BackfillItem>>,
}

impl ProviderLog {
    fn calls(&self) -> Vec<RefundCall> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn made(&self) -> Vec<(ProviderKind, RefundCall, ProviderRefund)> {
        self.made.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// An offline provider whose refund calls are written to a [`ProviderLog`]; inside the fault
/// plan's wrapper, so it sees what reached the provider (a refused call never does).
struct Recorded {
    inner: Arc<dyn PaymentProvider>,
    log: Arc<ProviderLog>,
}

#[async_trait]
impl PaymentProvider for Recorded {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        self.inner.create_checkout(req).await
    }

    async fn close_checkout(&self, payment: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        self.inner.close_checkout(payment).await
    }

    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<oms_core::ports::FoundPayment>, ProviderError> {
        let paid: Vec<_> = self
            .log
            .paid
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(checkout, _)| checkout == &payment.provider_order_id)
            .map(|(_, found)| found.clone())
            .collect();
        if paid.is_empty() {
            self.inner.find_payments(payment).await
        } else {
            Ok(paid)
        }
    }

    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        if self.kind() != ProviderKind::Stripe {
            return self.inner.backfill_page(query).await;
        }
        Ok(BackfillPage {
            items: self
                .log
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            next_cursor: None,
        })
    }

    async fn refund(&self, call: &RefundCall) -> Result<ProviderRefund, ProviderError> {
        if self.log.down.load(Ordering::SeqCst) {
            return Err(ProviderError::Unavailable(
                "connection refused (outage)".into(),
            ));
        }
        self.log
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(call.clone());
        let answer = self.inner.refund(call).await;
        if let Ok(refund) = &answer {
            let mut made = self.log.made.lock().unwrap_or_else(|p| p.into_inner());
            if !made.iter().any(|(_, c, _)| c.refund_id == call.refund_id) {
                made.push((self.kind(), call.clone(), refund.clone()));
            }
        }
        answer
    }

    /// The provider settles every refund it made (its webhook, if not lost, says the same):
    /// a lookup finds it `succeeded`.
    async fn get_refund(
        &self,
        payment_id: &str,
        provider_refund_id: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let made = self.log.made().into_iter().find(|(_, call, answer)| {
            answer.provider_refund_id == provider_refund_id && call.payment_id == payment_id
        });
        match made {
            Some((_, _, answer)) => Ok(ProviderRefund {
                status: ProviderRefundStatus::Succeeded,
                ..answer
            }),
            None => self.inner.get_refund(payment_id, provider_refund_id).await,
        }
    }
}

/// Counts the messages the customer was sent.
#[derive(Default)]
struct CountingNotifier(AtomicUsize, AtomicUsize);

#[async_trait]
impl Notifier for CountingNotifier {
    async fn order_fulfilled(&self, _: &Order) -> Result<(), NotifyError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Shipment messages are counted apart from the fulfilment message.
    async fn shipment_update(
        &self,
        _: &Order,
        _: oms_core::tracking::ShipmentState,
    ) -> Result<(), NotifyError> {
        self.1.fetch_add(1, Ordering::SeqCst);
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
    /// As [`Scenario::RazorpayPaid`] (its SKU sold digitally too), then its guest asks for two
    /// download links (`GET /orders/{orderId}/downloads/{sku}`), each retried on 5xx until the
    /// `200`: every link handed out is recorded, none recorded is more than the requests that
    /// failed after recording it.
    RazorpayDownloaded,
    /// A Stripe order is never paid: the sweep closes its checkout, cancels it, and gives the
    /// stock back.
    Abandoned,
    /// As [`Scenario::RazorpayPaid`], then an admin refunds part of it; Razorpay answers
    /// `pending` and settles it with `refund.processed`.
    RazorpayRefunded,
    /// As [`Scenario::StripePaid`], then an admin refunds part of it; Stripe answers `pending`
    /// and settles it with `refund.updated` (`succeeded`).
    StripeRefunded,
    /// As [`Scenario::StripeRefunded`], but Stripe cannot be reached when the admin asks: the
    /// refund is kept `requested` (503), and the sweep sends it once Stripe is back — so the
    /// sweep's own refund calls are fault points too.
    StripeRefundSentBySweep,
    /// A Razorpay order is paid, then its guest cancels it (`POST /orders/{orderId}/cancel`)
    /// before the worker gets to it: cancelled, stock back, refunded in full once, never
    /// fulfilled.
    RazorpayCancelledPaid,
    /// A Stripe order is paid and shipped, then its guest cancels it before pickup: the
    /// shipment is cancelled at the carrier, the order cancelled, stock back, refunded once.
    StripeCancelledShipped,
    /// A Razorpay order is paid, then disputed before it ships (held), then the dispute is won
    /// (released): fulfilled once, after the win.
    RazorpayDisputedWon,
    /// A Stripe order is paid at Stripe, and its webhook never comes: the sweep finds the
    /// payment by asking Stripe, before it would cancel the order; fulfilled once.
    StripeWebhookLost,
    /// A Razorpay refund arrives before anything links it to the order (unmatched), then the
    /// order is paid and fulfilled, then an operator replays the refund event
    /// (`POST /admin/events/razorpay/{eventId}/replay`, retried on 5xx): counted once.
    RazorpayUnmatchedReplayed,
    /// As [`Scenario::RazorpayRefunded`], but the `refund.processed` webhook is lost: the sweep,
    /// past `RECONCILE_AFTER_MINUTES`, fetches the refund (`provider.get_refund`, a fault point
    /// too) and settles it; the webhook then turns up late and changes nothing.
    RazorpayRefundWebhookLost,
    /// A Razorpay order is paid while the carrier is down: its job fails on every receive and
    /// lands in the dead-letter queue. The carrier comes back; an operator lists the dead jobs
    /// (`GET /admin/jobs/dead`) and moves them back (`POST /admin/jobs/dead/redrive`), each
    /// retried on 5xx: fulfilled once, nothing left dead.
    RazorpayDeadJobRedriven,
    /// A Stripe order is paid at Stripe, and its webhook never comes: an operator backfills
    /// (`POST /admin/backfill`, retried on 5xx until `200`), then runs it again, which must
    /// apply nothing; fulfilled once.
    StripeBackfilled,
    /// A Stripe order is paid and shipped; Shiprocket's tracking says picked up, out for
    /// delivery, delivered (each delivered until 2xx, then once more): delivered once, the
    /// customer told of each step at most once, `order.delivered` published.
    StripeDelivered,
    /// A Razorpay order is paid and shipped; the parcel fails delivery, goes back (RTO) and is
    /// delivered to the seller, under `RTO_REFUND_POLICY=refund`: the stock comes back once
    /// and the order is refunded in full once.
    RazorpayReturned,
}

impl Scenario {
    fn provider(self) -> ProviderKind {
        match self {
            Self::RazorpayPaid
            | Self::RazorpayDownloaded
            | Self::RazorpayRefunded
            | Self::RazorpayRefundWebhookLost
            | Self::RazorpayCancelledPaid
            | Self::RazorpayDisputedWon
            | Self::RazorpayUnmatchedReplayed
            | Self::RazorpayDeadJobRedriven
            | Self::RazorpayReturned => ProviderKind::Razorpay,
            Self::StripePaid
            | Self::StripeRefunded
            | Self::StripeRefundSentBySweep
            | Self::StripeCancelledShipped
            | Self::StripeWebhookLost
            | Self::StripeBackfilled
            | Self::StripeDelivered
            | Self::Abandoned => ProviderKind::Stripe,
        }
    }

    /// The carrier's tracking follows the purchase.
    fn tracked(self) -> bool {
        matches!(self, Self::StripeDelivered | Self::RazorpayReturned)
    }

    fn refunds(self) -> bool {
        matches!(
            self,
            Self::RazorpayRefunded
                | Self::StripeRefunded
                | Self::StripeRefundSentBySweep
                | Self::RazorpayRefundWebhookLost
        )
    }
}

/// One run: the service's state, its adapters behind the fault plan, and what the outside
/// world has seen.
struct World {
    plan: Arc<FaultPlan>,
    clock: Arc<ManualClock>,
    store: Arc<dyn OrderStore>,
    /// The same store outside the fault plan: what the outside world reads (never a fault
    /// point).
    backing: Arc<dyn OrderStore>,
    queue: Arc<InMemoryQueue>,
    publisher: Arc<InMemoryPublisher>,
    notifier: Arc<CountingNotifier>,
    state: AppState,
    router: Router,
    worker: Worker,
    /// The carrier's outage switch, inside the fault plan's wrapper.
    carrier_outage: Arc<FaultyCarrier>,
    provider_log: Arc<ProviderLog>,
    /// Refunds (ours) whose webhook the provider has sent.
    webhooked: BTreeSet<String>,
    /// While set, the providers' refund webhooks are lost (never delivered).
    refund_webhooks_lost: bool,
    /// The Razorpay order the checkout opened, which Razorpay's events name.
    razorpay_order: String,
    /// What the refund route answered the admin's client, attempt by attempt.
    refund_answers: Vec<StatusCode>,
    /// The backfill route's `200` answers, one per run of the operator's command.
    backfills: Vec<Value>,
    /// What the download route answered the guest's client, attempt by attempt.
    download_answers: Vec<StatusCode>,
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
        // A returned parcel is refunded at once (the default holds it for a person).
        services.policy.rto_refund = oms_core::order::RtoRefundPolicy::Refund;
        let backing = services.store.clone();
        let store: Arc<dyn OrderStore> = Arc::new(faulty!(services.store.clone()));
        let publisher_port: Arc<dyn EventPublisher> = Arc::new(faulty!(publisher.clone()));
        services.store = store.clone();
        services.queue = Arc::new(faulty!(queue.clone() as Arc<dyn JobQueue>));
        // The queue's dead-letter list, which the worker's last failure fills (`drain_queue`).
        services.dead_jobs = Arc::new(faulty!(queue.clone() as Arc<dyn DeadJobs>));
        services.publisher = publisher_port.clone();
        services.secrets = Arc::new(faulty!(services.secrets.clone()));
        // The carrier of the offline configuration: Shiprocket's dry run (deterministic, so
        // idempotent per order like the real adapter must be).
        let carrier_outage = Arc::new(FaultyCarrier::new(services.carrier.clone()));
        services.carrier = Arc::new(faulty!(carrier_outage.clone() as Arc<dyn Carrier>));
        let provider_log = Arc::new(ProviderLog::default());
        let providers: Vec<Arc<dyn PaymentProvider>> = services
            .providers
            .kinds()
            .into_iter()
            .filter_map(|kind| services.providers.get(kind).cloned())
            .map(|p| {
                let recorded: Arc<dyn PaymentProvider> = Arc::new(Recorded {
                    inner: p,
                    log: provider_log.clone(),
                });
                Arc::new(faulty!(recorded)) as Arc<dyn PaymentProvider>
            })
            .collect();
        services.providers = PaymentProviders::new(providers);
        // Its one SKU is sold digitally too, for the download route (the carrier, built from
        // the configuration, still ships it).
        services.policy.digital_skus = vec![Sku::parse(SKU).expect("sku")];
        let links = dev_server::downloads::LocalDownloadLinks::new(
            "http://local/dev/downloads".into(),
            dev_server::downloads::default_dir(),
            clock.clone(),
        )
        .expect("download links");
        services.downloads = Arc::new(faulty!(Arc::new(links) as Arc<dyn DownloadLinks>));
        let state = oms_app::local::http_state(
            &local.config,
            services.clone(),
            IdentitySource::DevJwt(Arc::new(DevJwtKey::new(JWT_SECRET.as_bytes()))),
        );
        let router = oms_http::mount(
            create_order::routes()
                .merge(orders_api::routes())
                .merge(payment_webhook::routes()),
            state.clone(),
        );
        // The worker's own configuration: the seller's defaults, the notifier's dry run.
        let fulfilment = FulfilmentConfig::read(&Env::from_pairs(&[])).expect("worker config");
        let invoices: Arc<dyn InvoiceStorage> = Arc::new(InMemoryInvoices::default());
        let mut ports = oms_app::wiring::fulfilment(&fulfilment, Arc::new(faulty!(invoices)));
        ports.notifier = Arc::new(faulty!(notifier.clone() as Arc<dyn Notifier>));
        ports.max_receives = MAX_RECEIVES;
        let worker = Worker::new(&services, ports);
        Self {
            plan,
            clock,
            store,
            backing,
            queue,
            publisher,
            notifier,
            state,
            router,
            worker,
            carrier_outage,
            provider_log,
            webhooked: BTreeSet::new(),
            refund_webhooks_lost: false,
            razorpay_order: String::new(),
            refund_answers: Vec::new(),
            backfills: Vec::new(),
            download_answers: Vec::new(),
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

    /// Shiprocket: a tracking update for the order's parcel, delivered until it gets a 2xx and
    /// then once more (as at-least-once delivery does).
    async fn track(&self, order_id: &OrderId, status_id: u32, minutes: i64) {
        let stored = self.backing.get_order(order_id).await.expect("readable");
        let awb = stored.and_then(|o| o.shipment().map(|s| s.awb.clone()));
        let awb = awb.expect("shipped before it is tracked");
        let at = Timestamp::from_unix_millis(1_800_000_000_000 + minutes * 60_000);
        let body = oms_core::tracking::simulate::shiprocket_body(
            &awb,
            order_id.as_str(),
            status_id,
            "STATUS",
            at,
        );
        let token = oms_app::config::DEV_SHIPROCKET_WEBHOOK_TOKEN.to_owned();
        for _ in 0..2 {
            self.deliver(
                "/api/v1/webhooks/shiprocket",
                &[("x-api-key", token.clone())],
                &body,
            )
            .await;
        }
    }

    /// The admin's client: `POST /admin/orders/{orderId}/refunds` with an `Idempotency-Key`,
    /// retried on any 5xx with the same key until the `201` — or until a `503` names the refund
    /// as kept `requested` (the provider was unreachable): it is recorded, and the sweep sends
    /// it, so the client stops there.
    async fn request_refund(&mut self, order_id: &str) {
        let token = dev_server::mint_token(
            JWT_SECRET,
            "ops-1",
            None,
            &["admin"],
            Duration::from_secs(3600),
        );
        let body = json!({"amount": REFUND, "reason": "one pack arrived damaged"}).to_string();
        for _ in 0..5 {
            let req = Request::post(format!("/api/v1/admin/orders/{order_id}/refunds"))
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .header("idempotency-key", REFUND_KEY)
                .body(Body::from(body.clone()))
                .expect("request");
            let (status, reply) = self.call(req).await;
            self.refund_answers.push(status);
            if status == StatusCode::CREATED {
                assert_eq!(reply["refund"]["amount"], json!(REFUND), "{reply}");
                return;
            }
            if kept_requested(status, &reply) {
                return;
            }
            assert!(
                status.is_server_error(),
                "a refund within the balance is refused only by a failure on our side: {status} {reply}"
            );
        }
        panic!("the refund request never succeeded");
    }

    /// The operator's client: `POST /admin/events/{provider}/{eventId}/replay`, retried on 5xx
    /// until the `200`.
    async fn replay(&mut self, provider: &str, event_id: &str) {
        let token = dev_server::mint_token(
            JWT_SECRET,
            "ops-1",
            None,
            &["admin"],
            Duration::from_secs(3600),
        );
        for _ in 0..5 {
            let req = Request::post(format!("/api/v1/admin/events/{provider}/{event_id}/replay"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let (status, reply) = self.call(req).await;
            if status == StatusCode::OK {
                return;
            }
            assert!(
                status.is_server_error(),
                "a stored event replays unless we fail: {status} {reply}"
            );
        }
        panic!("the replay never succeeded");
    }

    /// The operator's client: `GET /admin/jobs/dead` retried on 5xx until the `200`, which must
    /// list exactly the dead jobs; then `POST /admin/jobs/dead/redrive` retried on 5xx until
    /// the `200` (a move whose answer was lost is followed by one that finds nothing left).
    async fn redrive_dead_jobs(&mut self, order_id: &str) {
        let token = dev_server::mint_token(
            JWT_SECRET,
            "ops-1",
            None,
            &["admin"],
            Duration::from_secs(3600),
        );
        let dead = DeadJobs::list(self.queue.as_ref(), 100)
            .await
            .expect("the dead-letter list");
        let mut listed = false;
        for _ in 0..5 {
            let req = Request::get("/api/v1/admin/jobs/dead")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let (status, reply) = self.call(req).await;
            if status == StatusCode::OK {
                assert_eq!(reply["count"], json!(dead.len()), "{reply}");
                if !dead.is_empty() {
                    assert_eq!(reply["jobs"][0]["orderId"], json!(order_id), "{reply}");
                }
                listed = true;
                break;
            }
            assert!(
                status.is_server_error(),
                "listing fails only by a failure on our side: {status} {reply}"
            );
        }
        assert!(listed, "the dead jobs were never listed");
        for _ in 0..5 {
            let req = Request::post("/api/v1/admin/jobs/dead/redrive")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let (status, reply) = self.call(req).await;
            if status == StatusCode::OK {
                // At most what was dead (a job may be queued twice: at least once).
                let most = dead.len() as u64;
                assert!(
                    reply["redriven"].as_u64().is_some_and(|n| n <= most),
                    "{reply}"
                );
                return;
            }
            assert!(
                status.is_server_error(),
                "a redrive fails only by a failure on our side: {status} {reply}"
            );
        }
        panic!("the redrive never succeeded");
    }

    /// The operator's client: `POST /admin/backfill` for the last hour of Stripe's events,
    /// retried on 5xx until the `200`.
    async fn backfill(&mut self) {
        let token = dev_server::mint_token(
            JWT_SECRET,
            "ops-1",
            None,
            &["admin"],
            Duration::from_secs(3600),
        );
        let since = self
            .clock
            .now()
            .minus(Duration::from_secs(3600))
            .to_string();
        let body = json!({"provider": "stripe", "since": since}).to_string();
        for _ in 0..5 {
            let req = Request::post("/api/v1/admin/backfill")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(body.clone()))
                .expect("request");
            let (status, reply) = self.call(req).await;
            if status == StatusCode::OK {
                self.backfills.push(reply);
                return;
            }
            assert!(
                status.is_server_error(),
                "a backfill is refused only by a failure on our side: {status} {reply}"
            );
        }
        panic!("the backfill never succeeded");
    }

    /// The guest's storefront: `POST /orders/{orderId}/cancel` with its `X-Order-Token`,
    /// retried on 5xx until the `200` (a cancellation that committed answers `200` again).
    async fn cancel(&mut self, order_id: &str, token: &str) {
        for _ in 0..5 {
            let req = Request::post(format!("/api/v1/orders/{order_id}/cancel"))
                .header("content-type", "application/json")
                .header("x-order-token", token)
                .body(Body::from(r#"{"reason":"ordered twice by mistake"}"#))
                .expect("request");
            let (status, reply) = self.call(req).await;
            if status == StatusCode::OK {
                assert_eq!(reply["status"], json!("cancelled"), "{reply}");
                return;
            }
            assert!(
                status.is_server_error(),
                "a paid, unshipped order is cancelled unless we fail: {status} {reply}"
            );
        }
        panic!("the cancellation never succeeded");
    }

    /// The guest's storefront: `GET /orders/{orderId}/downloads/{sku}` with its
    /// `X-Order-Token`, retried on 5xx until the `200` with a link.
    async fn download(&mut self, order_id: &str, token: &str) {
        for _ in 0..5 {
            let req = Request::get(format!("/api/v1/orders/{order_id}/downloads/{SKU}"))
                .header("x-order-token", token)
                .body(Body::empty())
                .expect("request");
            let (status, reply) = self.call(req).await;
            self.download_answers.push(status);
            if status == StatusCode::OK {
                assert!(reply["url"].is_string(), "{reply}");
                return;
            }
            assert!(
                status == StatusCode::SERVICE_UNAVAILABLE,
                "a paid order's download is refused only by a failure on our side: {status} {reply}"
            );
        }
        panic!("the download never succeeded");
    }

    /// The providers: once a refund is made, its webhook (`refund.updated` `succeeded` from
    /// Stripe, `refund.processed` from Razorpay, naming our refund id) is delivered until it
    /// gets a 2xx, and once more. Built from what the provider answered, whether or not that
    /// answer reached us.
    async fn refund_webhooks(&mut self) {
        if self.refund_webhooks_lost {
            return;
        }
        for (kind, call, answer) in self.provider_log.made() {
            if !self.webhooked.insert(call.refund_id.clone()) {
                continue;
            }
            let spec = |status| RefundSpec {
                id: &answer.provider_refund_id,
                payment_id: &call.payment_id,
                amount: answer.amount,
                status,
                our_id: Some(&call.refund_id),
            };
            let event_id = format!("evt_{}", answer.provider_refund_id);
            for _ in 0..2 {
                if kind == ProviderKind::Stripe {
                    let body = simulate::stripe_refund_event(
                        &event_id,
                        "refund.updated",
                        &spec("succeeded"),
                        answer.charge_id.as_deref().unwrap_or_default(),
                        Some(call.order_id.as_str()),
                        self.clock.now().unix_millis() / 1000,
                    );
                    self.stripe(&body).await;
                } else {
                    let body = simulate::razorpay_refund_event(
                        "refund.processed",
                        &spec("processed"),
                        &self.razorpay_order,
                        Some(call.order_id.as_str()),
                        inr(PRICE * i64::from(QUANTITY)),
                    );
                    self.razorpay(&event_id, &body).await;
                }
            }
        }
    }

    /// SQS and the worker Lambda: every job is received until it succeeds; a failed receive
    /// comes back after the visibility timeout, and the `maxReceiveCount`-th failure goes to the
    /// dead-letter queue.
    async fn drain_queue(&mut self) {
        let mut inflight: VecDeque<(FulfilmentJob, u32)> = VecDeque::new();
        loop {
            while let Some(job) = self.queue.try_take() {
                inflight.push_back((job, 0));
            }
            let Some((job, receives)) = inflight.pop_front() else {
                return;
            };
            let receives = receives + 1;
            let record = post_payment_worker::sqs_message(&job, "m", receives);
            if let post_payment_worker::Processed::Failed { .. } =
                self.worker.process(&record).await
            {
                if receives >= MAX_RECEIVES {
                    self.queue.bury(&job, receives);
                } else {
                    self.clock.advance(VISIBILITY);
                    inflight.push_back((job, receives));
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
            self.refund_webhooks().await;
        }
    }

    async fn run(&mut self, scenario: Scenario) -> OrderId {
        let created = self.create_order(scenario.provider().as_str()).await;
        let order_id = created["orderId"].as_str().expect("orderId").to_owned();
        let amount = inr(PRICE * i64::from(QUANTITY));
        match scenario {
            Scenario::RazorpayPaid
            | Scenario::RazorpayDownloaded
            | Scenario::RazorpayRefunded
            | Scenario::RazorpayRefundWebhookLost
            | Scenario::RazorpayCancelledPaid
            | Scenario::RazorpayDisputedWon
            | Scenario::RazorpayUnmatchedReplayed
            | Scenario::RazorpayDeadJobRedriven
            | Scenario::RazorpayReturned => {
                if scenario == Scenario::RazorpayDeadJobRedriven {
                    self.carrier_outage.set_down(true);
                }
                let rzp_order = created["payment"]["providerOrderId"]
                    .as_str()
                    .expect("Razorpay order id");
                self.razorpay_order = rzp_order.to_owned();
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
                if scenario == Scenario::RazorpayUnmatchedReplayed {
                    // Names neither the order nor a payment anyone knows yet: unmatched.
                    let early = simulate::razorpay_refund_processed(
                        "rfnd_early1",
                        "pay_faults1",
                        "",
                        None,
                        amount,
                        UNMATCHED_REFUND,
                    );
                    self.razorpay(UNMATCHED_REFUND_EVENT, &early).await;
                    self.razorpay(UNMATCHED_REFUND_EVENT, &early).await;
                }
                self.razorpay("evt_captured", &captured).await;
                self.razorpay("evt_order_paid", &paid).await;
                // At-least-once: the first event comes again.
                self.razorpay("evt_captured", &captured).await;
            }
            Scenario::StripePaid
            | Scenario::StripeRefunded
            | Scenario::StripeRefundSentBySweep
            | Scenario::StripeCancelledShipped
            | Scenario::StripeDelivered => {
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
            Scenario::StripeWebhookLost => {
                let session = created["payment"]["sessionId"]
                    .as_str()
                    .expect("Stripe session id");
                self.provider_log
                    .paid
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((
                        session.to_owned(),
                        oms_core::ports::FoundPayment {
                            payment_id: "pi_lost1".into(),
                            amount,
                            status: oms_core::ports::FoundPaymentStatus::Captured,
                        },
                    ));
                // Past the payment window: the sweep would cancel it if it did not ask.
                self.clock.advance(Duration::from_secs(31 * 60));
            }
            Scenario::StripeBackfilled => {
                let session = created["payment"]["sessionId"]
                    .as_str()
                    .expect("Stripe session id");
                let completed = simulate::stripe_session_paid(
                    "evt_faults_lost",
                    "checkout.session.completed",
                    session,
                    "pi_backfilled1",
                    Some(&order_id),
                    amount,
                    self.clock.now().unix_seconds(),
                );
                self.provider_log
                    .events
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(BackfillItem {
                        event_id: "evt_faults_lost".into(),
                        body: completed,
                    });
                self.clock.advance(Duration::from_secs(60));
                self.backfill().await;
                self.backfill().await;
            }
        }
        if scenario == Scenario::RazorpayDisputedWon {
            // The chargeback opens before the worker gets to the order, and is won later;
            // each event is delivered until 2xx, then once more.
            for (event, status, id) in [
                ("payment.dispute.created", "open", "evt_dispute_open"),
                ("payment.dispute.won", "won", "evt_dispute_won"),
            ] {
                let body = simulate::razorpay_dispute_event(
                    event,
                    &DisputeSpec {
                        id: "disp_faults1",
                        payment_id: "pay_faults1",
                        amount,
                        status,
                        reason: "chargeback",
                        due_by: Some(self.clock.now().unix_seconds() + 7 * 86_400),
                    },
                    &self.razorpay_order,
                    Some(&order_id),
                    amount,
                );
                self.razorpay(id, &body).await;
                self.razorpay(id, &body).await;
            }
        }
        if scenario == Scenario::RazorpayCancelledPaid {
            let token = created["accessToken"].as_str().expect("a guest's token");
            self.cancel(&order_id, token).await;
            self.refund_webhooks().await;
        }
        self.drain_queue().await;
        if scenario == Scenario::RazorpayDeadJobRedriven {
            self.carrier_outage.set_down(false);
            self.redrive_dead_jobs(&order_id).await;
            self.drain_queue().await;
        }
        if scenario == Scenario::RazorpayDownloaded {
            let token = created["accessToken"].as_str().expect("a guest's token");
            self.download(&order_id, token).await;
            self.download(&order_id, token).await;
        }
        if scenario == Scenario::StripeCancelledShipped {
            let token = created["accessToken"].as_str().expect("a guest's token");
            self.cancel(&order_id, token).await;
            self.refund_webhooks().await;
        }
        if scenario == Scenario::RazorpayUnmatchedReplayed {
            self.replay("razorpay", UNMATCHED_REFUND_EVENT).await;
        }
        let lost = scenario == Scenario::RazorpayRefundWebhookLost;
        if scenario.refunds() {
            let outage = scenario == Scenario::StripeRefundSentBySweep;
            self.provider_log.down.store(outage, Ordering::SeqCst);
            self.refund_webhooks_lost = lost;
            self.request_refund(&order_id).await;
            self.provider_log.down.store(false, Ordering::SeqCst);
            self.refund_webhooks().await;
        }
        // Past RECONCILE_AFTER_MINUTES (10) after the refund, and a sweep more should the
        // first check fail.
        self.scheduled_sweeps(if lost { 5 } else { 3 }).await;
        if lost {
            // The lost webhook turns up after all (delivered until 2xx, then once more).
            self.refund_webhooks_lost = false;
            self.refund_webhooks().await;
        }
        // The parcel's journey, once the sweeps have made sure it shipped (a carrier tracks only
        // what it picked up).
        if scenario.tracked() {
            let id = OrderId::parse(&order_id).expect("order id");
            let journey: &[(u32, i64)] = if scenario == Scenario::StripeDelivered {
                &[(42, 60), (17, 120), (7, 180)]
            } else {
                &[(42, 60), (21, 120), (9, 180), (10, 240)]
            };
            for (status_id, minutes) in journey {
                self.track(&id, *status_id, *minutes).await;
            }
            self.drain_queue().await;
            self.refund_webhooks().await;
            // A refund or message a failure left owed is the sweep's.
            self.scheduled_sweeps(3).await;
        }
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

/// A `503` saying the refund is recorded and kept `requested` for the sweep to send.
fn kept_requested(status: StatusCode, reply: &Value) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE
        && reply["error"]["details"]["status"] == json!("requested")
        && reply["error"]["details"]["refundId"].is_string()
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
    let dead = DeadJobs::list(world.queue.as_ref(), 100)
        .await
        .map_err(|e| e.to_string())?;
    expect(
        dead.is_empty(),
        format!("jobs in the dead-letter queue: {dead:?}"),
    );
    let owed = world
        .store
        .owed_outbox(world.clock.now().plus(Duration::from_secs(3600)), 10)
        .await
        .map_err(|e| e.to_string())?;
    expect(owed.is_empty(), format!("jobs still owed: {owed:?}"));
    match scenario {
        Scenario::RazorpayPaid
        | Scenario::RazorpayDownloaded
        | Scenario::StripePaid
        | Scenario::RazorpayRefunded
        | Scenario::StripeRefunded
        | Scenario::StripeRefundSentBySweep
        | Scenario::RazorpayRefundWebhookLost
        | Scenario::RazorpayDisputedWon
        | Scenario::StripeWebhookLost
        | Scenario::RazorpayUnmatchedReplayed
        | Scenario::RazorpayDeadJobRedriven
        | Scenario::StripeBackfilled
        | Scenario::StripeDelivered
        | Scenario::RazorpayReturned => {
            let amount = inr(PRICE * i64::from(QUANTITY));
            if scenario.tracked() {
                check_tracking(world, scenario, &order, &mut expect).await?;
            }
            if scenario == Scenario::RazorpayRefundWebhookLost {
                let sources: Vec<Option<&str>> = order
                    .timeline()
                    .iter()
                    .filter(|e| e.kind == TimelineType::RefundPartial)
                    .map(|e| e.meta.get("source").and_then(Value::as_str))
                    .collect();
                expect(
                    sources == [Some("reconciliation")],
                    format!("refund settled by {sources:?}"),
                );
            }
            if scenario == Scenario::StripeBackfilled {
                let found = order
                    .timeline()
                    .iter()
                    .find(|e| e.kind == TimelineType::PaymentSucceeded)
                    .and_then(|e| e.meta.get("source"))
                    .and_then(Value::as_str);
                expect(
                    found == Some("backfill")
                        && order.payment().provider_payment_id.as_deref() == Some("pi_backfilled1"),
                    format!("payment found by {found:?}"),
                );
                let second = world.backfills.last();
                expect(
                    world.backfills.len() == 2
                        && second.is_some_and(|r| r["applied"] == 0 && r["alreadyKnown"] == 1),
                    format!("the second backfill answered {second:?}"),
                );
            }
            if scenario == Scenario::StripeWebhookLost {
                let found = order
                    .timeline()
                    .iter()
                    .find(|e| e.kind == TimelineType::PaymentSucceeded)
                    .and_then(|e| e.meta.get("source"))
                    .and_then(Value::as_str);
                expect(
                    found == Some("reconciliation")
                        && order.payment().provider_payment_id.as_deref() == Some("pi_lost1"),
                    format!("payment found by {found:?}"),
                );
            }
            if scenario == Scenario::RazorpayDownloaded {
                // A link is answered only once its grant is recorded; a grant whose answer was
                // lost (or that timed out) is recorded without the guest getting its link.
                let granted = count(&order, TimelineType::DownloadGranted);
                let answers = &world.download_answers;
                let ok = answers.iter().filter(|s| **s == StatusCode::OK).count();
                let failed = answers.len() - ok;
                expect(
                    ok == 2 && granted >= ok && granted <= ok + failed,
                    format!("{granted} grants recorded for the answers {answers:?}"),
                );
            }
            if scenario == Scenario::RazorpayDisputedWon {
                expect(
                    order.dispute().map(|d| d.status) == Some(DisputeStatus::Won)
                        && count(&order, TimelineType::DisputeOpened) == 1
                        && count(&order, TimelineType::DisputeWon) == 1
                        && count(&order, TimelineType::ReviewCleared) == 1,
                    format!("dispute {:?}", order.dispute()),
                );
            }
            // A refund recorded after fulfilment shows in the status; fulfilment finished after
            // the refund (its job was owed to the sweep) shows `fulfilled`. `paymentStatus` and
            // `fulfilmentStatus` say the rest (checked here and in `check_refund`).
            let refunded_too =
                scenario.refunds() || scenario == Scenario::RazorpayUnmatchedReplayed;
            let (statuses, fulfilment): (&[OrderStatus], _) = match scenario {
                Scenario::StripeDelivered => {
                    (&[OrderStatus::Delivered], FulfilmentStatus::Delivered)
                }
                Scenario::RazorpayReturned => {
                    (&[OrderStatus::Refunded], FulfilmentStatus::Returned)
                }
                _ if refunded_too => (
                    &[OrderStatus::PartiallyRefunded, OrderStatus::Fulfilled],
                    FulfilmentStatus::Fulfilled,
                ),
                _ => (&[OrderStatus::Fulfilled], FulfilmentStatus::Fulfilled),
            };
            expect(
                statuses.contains(&order.status()) && order.fulfilment_status() == fulfilment,
                format!(
                    "status {}, fulfilment {}",
                    order.status().as_str(),
                    order.fulfilment_status().as_str()
                ),
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
            // A parcel back at the seller gives its stock back, once.
            let left = if scenario == Scenario::RazorpayReturned {
                STOCK
            } else {
                STOCK - QUANTITY
            };
            expect(stock == left, format!("stock {stock}, expected {left}"));
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
            if scenario.refunds() {
                check_refund(world, &order, &mut expect).await?;
            } else if scenario == Scenario::RazorpayReturned {
                check_rto_refund(world, &order, &mut expect).await?;
            } else if scenario == Scenario::RazorpayUnmatchedReplayed {
                expect(
                    order.refunded() == inr(UNMATCHED_REFUND)
                        && count(&order, TimelineType::RefundPartial) == 1
                        && order.refund_requests().is_empty(),
                    format!("refunded {}", order.refunded().minor()),
                );
            } else {
                expect(
                    order.refund_requests().is_empty() && order.refunded().minor() == 0,
                    "refunded".into(),
                );
            }
        }
        Scenario::RazorpayCancelledPaid | Scenario::StripeCancelledShipped => {
            let amount = inr(PRICE * i64::from(QUANTITY));
            expect(
                order.status() == OrderStatus::Cancelled
                    && count(&order, TimelineType::Cancelled) == 1,
                format!("status {}", order.status().as_str()),
            );
            expect(stock == STOCK, format!("stock {stock}, expected {STOCK}"));
            // Shipped before the guest cancelled (the usual path): the shipment was cancelled at
            // the carrier. A fault that left the job to the sweep (a payment commit whose answer
            // was lost keeps the outbox lease) has the guest cancel first: never shipped.
            let shipped = count(&order, TimelineType::ShipmentCreated);
            if scenario == Scenario::StripeCancelledShipped && shipped > 0 {
                expect(
                    order.fulfilment_status() == FulfilmentStatus::Cancelled
                        && count(&order, TimelineType::ShipmentCancelled) == 1
                        && shipped == 1
                        && count(&order, TimelineType::Fulfilled) == 1,
                    format!("fulfilment {}", order.fulfilment_status().as_str()),
                );
            } else {
                expect(
                    order.invoice().is_none()
                        && order.shipment().is_none()
                        && !order.is_fulfilled(),
                    "fulfilled a cancelled order".into(),
                );
            }
            expect(
                count(&order, TimelineType::PaymentSucceeded) == 1
                    && order.payment().captured == Some(amount),
                format!("captured {:?}", order.payment().captured),
            );
            let requests = order.refund_requests();
            expect(
                requests.len() == 1
                    && requests[0].requested_by == "cancellation"
                    && requests[0].status == RefundState::Succeeded
                    && requests[0].amount == amount,
                format!("refund requests {requests:?}"),
            );
            expect(
                order.refunded() == amount && order.payment_status() == PaymentStatus::Refunded,
                format!("refunded {}", order.refunded().minor()),
            );
            let calls = world.provider_log.calls();
            let ids: BTreeSet<&str> = calls.iter().map(|c| c.refund_id.as_str()).collect();
            expect(
                ids.len() == 1 && calls.iter().all(|c| c.amount == amount),
                format!(
                    "the provider was asked for {ids:?} in {} calls",
                    calls.len()
                ),
            );
            let owed = world
                .store
                .owed_refunds(
                    world.clock.now().plus(Duration::from_secs(365 * 86_400)),
                    100,
                )
                .await
                .map_err(|e| e.to_string())?;
            expect(owed.is_empty(), format!("refunds still owed: {owed:?}"));
            if scenario == Scenario::RazorpayCancelledPaid {
                expect(
                    world.notifier.0.load(Ordering::SeqCst) == 0,
                    "the customer was told it shipped".into(),
                );
            }
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

/// The tracking invariants: the shipment reached its end once; each customer message about
/// it recorded once and sent at most once (never more messages than records); the order-events
/// milestone published at most once (best effort, like every publish).
async fn check_tracking(
    world: &World,
    scenario: Scenario,
    order: &Order,
    expect: &mut impl FnMut(bool, String),
) -> Result<(), String> {
    let (end, milestone, notices) = if scenario == Scenario::StripeDelivered {
        (TimelineType::ShipmentDelivered, "order.delivered", 2)
    } else {
        (TimelineType::ShipmentReturned, "order.returned", 0)
    };
    expect(
        count(order, end) == 1,
        format!("{end:?} recorded {} times", count(order, end)),
    );
    let recorded = count(order, TimelineType::CustomerNotified);
    let sent = world.notifier.1.load(Ordering::SeqCst);
    expect(
        recorded == notices && sent <= recorded,
        format!("shipment messages: {recorded} recorded, {sent} sent, expected {notices}"),
    );
    if world.plan.injected_at().is_none() {
        expect(
            sent == notices,
            format!("{sent} shipment messages without a fault"),
        );
    }
    let published = world.publisher.of_type(milestone).len();
    expect(
        published <= 1,
        format!("{milestone} published {published} times"),
    );
    if world.plan.injected_at().is_none() {
        expect(
            published == 1,
            format!("{milestone} published {published} times"),
        );
    }
    expect(
        order.tracking().notices_owed.is_empty(),
        format!("messages still owed: {:?}", order.tracking().notices_owed),
    );
    Ok(())
}

/// A returned parcel's refund under `RTO_REFUND_POLICY=refund`: one request, asked of the
/// provider under one refund id, settled, the whole payment counted once, nothing owed.
async fn check_rto_refund(
    world: &World,
    order: &Order,
    expect: &mut impl FnMut(bool, String),
) -> Result<(), String> {
    let amount = inr(PRICE * i64::from(QUANTITY));
    let requests = order.refund_requests();
    expect(
        requests.len() == 1
            && requests[0].requested_by == "rto"
            && requests[0].status == RefundState::Succeeded
            && requests[0].amount == amount,
        format!("refund requests {requests:?}"),
    );
    expect(
        order.refunded() == amount && order.payment_status() == PaymentStatus::Refunded,
        format!("refunded {}", order.refunded().minor()),
    );
    let calls = world.provider_log.calls();
    let ids: BTreeSet<&str> = calls.iter().map(|c| c.refund_id.as_str()).collect();
    expect(
        ids.len() == 1 && calls.iter().all(|c| c.amount == amount),
        format!(
            "the provider was asked for {ids:?} in {} calls",
            calls.len()
        ),
    );
    let owed = world
        .store
        .owed_refunds(
            world.clock.now().plus(Duration::from_secs(365 * 86_400)),
            100,
        )
        .await
        .map_err(|e| e.to_string())?;
    expect(owed.is_empty(), format!("refunds still owed: {owed:?}"));
    Ok(())
}

/// The refund invariants: one request under the admin's key, asked of the provider under one
/// refund id, settled `succeeded`, its money counted once, nothing left owed.
async fn check_refund(
    world: &World,
    order: &Order,
    expect: &mut impl FnMut(bool, String),
) -> Result<(), String> {
    let requests = order.refund_requests();
    let keyed = requests
        .iter()
        .filter(|r| r.idempotency_key.as_deref() == Some(REFUND_KEY))
        .count();
    expect(
        requests.len() == 1 && keyed == 1,
        format!("{} refund requests, {keyed} under the key", requests.len()),
    );
    let Some(request) = requests.first() else {
        return Ok(());
    };
    expect(
        request.status == RefundState::Succeeded && request.amount == inr(REFUND),
        format!(
            "refund {} {} of {}",
            request.refund_id,
            request.status.as_str(),
            request.amount.minor()
        ),
    );
    expect(
        order.refunded() == inr(REFUND) && order.refunds().count() == 1,
        format!(
            "refunded {} in {} ledger entries, expected {REFUND} in one",
            order.refunded().minor(),
            order.refunds().count()
        ),
    );
    expect(
        order.payment_status() == PaymentStatus::PartiallyRefunded,
        format!("payment status {}", order.payment_status().as_str()),
    );
    let calls = world.provider_log.calls();
    let ids: BTreeSet<&str> = calls.iter().map(|c| c.refund_id.as_str()).collect();
    expect(
        ids.len() == 1 && ids.contains(request.refund_id.as_str()),
        format!(
            "the provider was asked for refunds {ids:?} in {} calls",
            calls.len()
        ),
    );
    expect(
        calls
            .iter()
            .all(|c| c == &calls[0] && c.amount == inr(REFUND)),
        format!("the provider was asked different refunds: {calls:?}"),
    );
    // A failure on our side or the provider's being unreachable is a 503 to retry; a 500
    // would say the request is broken, a 502 that the provider refused it.
    let answers = &world.refund_answers;
    expect(
        answers
            .iter()
            .all(|s| [StatusCode::CREATED, StatusCode::SERVICE_UNAVAILABLE].contains(s)),
        format!("the refund route answered {answers:?}"),
    );
    let owed = world
        .store
        .owed_refunds(
            world.clock.now().plus(Duration::from_secs(365 * 86_400)),
            100,
        )
        .await
        .map_err(|e| e.to_string())?;
    expect(owed.is_empty(), format!("refunds still owed: {owed:?}"));
    Ok(())
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
    if scenario.refunds() {
        // The refund's own port calls are fault points: the route's, the provider's, and the
        // sweep's (which sends the refund itself when the provider was down for the route).
        let sends = clean_calls
            .iter()
            .filter(|op| **op == "provider.refund")
            .count();
        let by_sweep = scenario == Scenario::StripeRefundSentBySweep;
        assert_eq!(sends, if by_sweep { 2 } else { 1 }, "{clean_calls:?}");
        assert!(clean_calls.contains(&"store.owed_refunds"));
        let lookups = clean_calls
            .iter()
            .filter(|op| **op == "provider.get_refund")
            .count();
        let lost = scenario == Scenario::RazorpayRefundWebhookLost;
        assert_eq!(lookups, usize::from(lost), "{clean_calls:?}");
    }
    if scenario == Scenario::RazorpayDownloaded {
        // Each link is made once, a fault point, before its grant is written.
        let links = clean_calls
            .iter()
            .filter(|op| **op == "downloads.link")
            .count();
        assert_eq!(links, 2, "{clean_calls:?}");
    }
    if scenario == Scenario::StripeBackfilled {
        // The provider's list is a fault point, once per run of the operator's command.
        let lists = clean_calls
            .iter()
            .filter(|op| **op == "provider.backfill_page")
            .count();
        assert_eq!(lists, 2, "{clean_calls:?}");
    }
    if scenario.tracked() {
        // The tracking path's own port calls are fault points: the AWB lookup, the restock or
        // the customer message, and the shipment's write that made the AWB findable.
        let own: &[&str] = if scenario == Scenario::StripeDelivered {
            &[
                "store.save_shipped_order",
                "store.find_order_by_awb",
                "notifier.shipment_update",
            ]
        } else {
            &[
                "store.save_shipped_order",
                "store.find_order_by_awb",
                "store.release_order_stock",
                "provider.refund",
            ]
        };
        for op in own {
            assert!(
                clean_calls.contains(op),
                "{op} not on the path: {clean_calls:?}"
            );
        }
    }
    if scenario == Scenario::StripeCancelledShipped {
        assert!(
            clean_calls.contains(&"carrier.cancel_shipment"),
            "{clean_calls:?}"
        );
    }
    if scenario == Scenario::RazorpayDeadJobRedriven {
        // Every receive failed at the carrier, then the redriven job shipped.
        let shipments = clean_calls
            .iter()
            .filter(|op| **op == "carrier.create_shipment")
            .count();
        assert_eq!(shipments, MAX_RECEIVES as usize + 1, "{clean_calls:?}");
        assert!(
            clean_calls.contains(&"dead_jobs.list") && clean_calls.contains(&"dead_jobs.redrive"),
            "{clean_calls:?}"
        );
    }
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
async fn a_digital_download_is_recorded_for_every_link_handed_out_whatever_fails() {
    let points = sweep_fault_points(Scenario::RazorpayDownloaded).await;
    assert!(points >= 3 * 26, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_stripe_purchase_survives_a_failure_at_every_call() {
    let points = sweep_fault_points(Scenario::StripePaid).await;
    assert!(points >= 3 * 15, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_razorpay_refund_is_made_once_and_settled_whatever_fails() {
    let points = sweep_fault_points(Scenario::RazorpayRefunded).await;
    assert!(points >= 3 * 30, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_stripe_refund_is_made_once_and_settled_whatever_fails() {
    let points = sweep_fault_points(Scenario::StripeRefunded).await;
    assert!(points >= 3 * 30, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_refund_owed_to_the_sweep_is_sent_once_and_settled_whatever_fails() {
    let points = sweep_fault_points(Scenario::StripeRefundSentBySweep).await;
    assert!(points >= 3 * 30, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_refund_whose_webhook_was_lost_is_fetched_settled_once_and_never_counted_twice() {
    let points = sweep_fault_points(Scenario::RazorpayRefundWebhookLost).await;
    assert!(points >= 3 * 30, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_paid_order_cancelled_by_its_guest_is_refunded_once_and_never_shipped_whatever_fails() {
    let points = sweep_fault_points(Scenario::RazorpayCancelledPaid).await;
    assert!(points >= 3 * 20, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_shipped_order_cancelled_before_pickup_is_cancelled_at_the_carrier_and_refunded_once() {
    let points = sweep_fault_points(Scenario::StripeCancelledShipped).await;
    assert!(points >= 3 * 20, "the path is longer than {points} points");
}

#[tokio::test]
async fn an_order_disputed_before_it_ships_is_held_and_fulfilled_once_when_the_dispute_is_won() {
    let points = sweep_fault_points(Scenario::RazorpayDisputedWon).await;
    assert!(points >= 3 * 20, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_payment_whose_webhook_was_lost_is_found_and_never_cancelled_whatever_fails() {
    let points = sweep_fault_points(Scenario::StripeWebhookLost).await;
    assert!(points >= 3 * 15, "the path is longer than {points} points");
}

#[tokio::test]
async fn an_unmatched_event_replayed_by_an_operator_counts_once_whatever_fails() {
    let points = sweep_fault_points(Scenario::RazorpayUnmatchedReplayed).await;
    assert!(points >= 3 * 20, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_job_dead_in_the_queue_is_redriven_by_an_operator_and_fulfilled_once_whatever_fails() {
    let points = sweep_fault_points(Scenario::RazorpayDeadJobRedriven).await;
    assert!(points >= 3 * 30, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_payment_found_by_a_backfill_is_applied_once_and_a_second_run_changes_nothing_whatever_fails()
 {
    let points = sweep_fault_points(Scenario::StripeBackfilled).await;
    assert!(points >= 3 * 15, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_delivered_parcel_is_delivered_once_and_each_message_sent_at_most_once_whatever_fails() {
    let points = sweep_fault_points(Scenario::StripeDelivered).await;
    assert!(points >= 3 * 20, "the path is longer than {points} points");
}

#[tokio::test]
async fn a_parcel_returned_to_the_seller_restocks_and_refunds_once_whatever_fails() {
    let points = sweep_fault_points(Scenario::RazorpayReturned).await;
    assert!(points >= 3 * 20, "the path is longer than {points} points");
}

#[tokio::test]
async fn an_abandoned_order_is_cancelled_once_and_its_stock_returned_whatever_fails() {
    let points = sweep_fault_points(Scenario::Abandoned).await;
    assert!(points >= 3 * 5, "the path is longer than {points} points");
}
