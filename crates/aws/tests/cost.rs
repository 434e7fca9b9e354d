//! How many DynamoDB requests each route costs, counted at the SDK on their way to the local
//! AWS API server. The bounds are the design's (few calls per request); the figures are printed
//! for `docs/` (run with `--nocapture`). Each route's requests are also checked against the
//! DynamoDB actions `template.yaml` grants the function that serves it: the local server does
//! not enforce IAM, so a missing grant would otherwise first show on a real account.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use common::unique;
use oms_app::system::RandomIds;
use oms_aws::{DynamoStore, bootstrap};
use oms_core::app::OrderPolicy;
use oms_core::app::catalog::{self, ProductInput, StockInput};
use oms_core::app::create_order::{Buyer, CreateOrderDeps, CreateOrderInput, create_order};
use oms_core::app::outbox::OutboxPorts;
use oms_core::app::read;
use oms_core::app::webhook::handle_event;
use oms_core::order::Viewer;
use oms_core::ports::{Clock, OrderStore, PaymentProviders};
use oms_core::search::{EventSearch, OrderSearch};
use oms_core::webhook::{razorpay, simulate};
use oms_core::{
    Currency, IdempotencyKey, Money, OrderId, Product, ProviderKind, Sku, Timestamp, UserId,
};
use oms_memory::{InMemoryPublisher, InMemoryQueue, ManualClock};
use oms_providers::offline::OfflineProvider;

/// What a route sent to DynamoDB: requests by operation (`X-Amz-Target`, retries included), and
/// the IAM actions those requests need (a transaction needs the action of each item in it).
#[derive(Debug, Clone, Default)]
struct Counted {
    ops: BTreeMap<String, u32>,
    actions: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<Counted>>);

impl Counter {
    fn take(&self) -> Counted {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The IAM actions one request needs: its operation's, or for a transaction its items'.
fn actions_of(op: &str, body: Option<&[u8]>) -> Vec<String> {
    let items = |field: &str| -> Vec<String> {
        let v: serde_json::Value = body
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        v[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object()?.keys().next().cloned())
            .map(|kind| match kind.as_str() {
                "ConditionCheck" => "ConditionCheckItem".to_owned(),
                other => format!("{other}Item"),
            })
            .collect()
    };
    match op {
        "TransactWriteItems" => items("TransactItems"),
        "TransactGetItems" => vec!["GetItem".to_owned()],
        other => vec![other.to_owned()],
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let op = request
            .headers()
            .get("x-amz-target")
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let mut counted = self.0.lock().unwrap();
        counted
            .actions
            .extend(actions_of(&op, request.body().bytes()));
        *counted.ops.entry(op).or_default() += 1;
        Ok(())
    }
}

/// The function of `template.yaml` that serves a route of this test.
fn function_of(route: &str) -> &'static str {
    if route.starts_with("worker:") {
        "PostPaymentWorkerFunction"
    } else if route.starts_with("POST /webhooks/") {
        "PaymentWebhookFunction"
    } else if route.starts_with("POST /orders") {
        "CreateOrderFunction"
    } else {
        "OrdersApiFunction"
    }
}

/// The DynamoDB actions `template.yaml` grants `function` on the table (and its indexes).
fn granted(template: &str, function: &str) -> BTreeSet<String> {
    let start = template
        .find(&format!("\n  {function}:\n"))
        .unwrap_or_else(|| panic!("{function} is not in template.yaml"));
    let body = &template[start + 1..];
    // Up to the next top-level resource.
    let end = body
        .match_indices("\n  ")
        .map(|(i, _)| i)
        .find(|&i| body[i + 3..].starts_with(|c: char| c.is_ascii_alphanumeric()))
        .unwrap_or(body.len());
    body[..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Action: ["))
        .flat_map(|list| list.trim_end_matches(']').split(','))
        .filter_map(|a| a.trim().strip_prefix("dynamodb:"))
        .map(str::to_owned)
        .collect()
}

fn total(m: &BTreeMap<String, u32>) -> u32 {
    m.values().sum()
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn each_route_costs_a_few_dynamodb_requests() {
    let clients = common::clients().await;
    let config = oms_aws::clients::load_config().await;
    let counter = Counter::default();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let table = unique("cost");
    bootstrap::ensure_table(&clients, &table).await.unwrap();
    let store = DynamoStore::new(ddb, &table);
    let inr = Currency::parse("INR").unwrap();
    store
        .put_products(&[Product {
            sku: Sku::parse("CHAI").unwrap(),
            name: "Chai".into(),
            unit_price: Money::new(34_900, inr).unwrap(),
            available: 100,
        }])
        .await
        .unwrap();
    counter.take();

    let clock = ManualClock::at(Timestamp::from_unix_millis(1_800_000_000_000));
    let providers = PaymentProviders::new(vec![Arc::new(OfflineProvider::new(
        ProviderKind::Razorpay,
        "rzp_test",
        "http://x",
    ))]);
    let policy = OrderPolicy::default();
    let input = || -> CreateOrderInput {
        serde_json::from_value(serde_json::json!({
            "items": [{"sku": "CHAI", "quantity": 2}], "currency": "INR", "paymentProvider": "razorpay",
            "customer": {"email": "a@example.com", "name": "A"},
            "shippingAddress": {"name": "A", "line1": "1 Rd", "city": "C", "state": "S", "postalCode": "560001", "country": "IN"}
        }))
        .unwrap()
    };
    let buyer = Buyer::User {
        id: UserId::parse("u1").unwrap(),
        email: None,
    };
    let deps = || CreateOrderDeps {
        store: &store,
        providers: &providers,
        clock: &clock,
        ids: &RandomIds,
        policy: &policy,
    };
    let render = |o: &oms_core::Order, _: Option<&oms_core::AccessToken>| o.id().to_string();
    let mut rows: Vec<(&str, Counted)> = Vec::new();

    let created = create_order(deps(), &buyer, input().parse().unwrap(), None, &render)
        .await
        .unwrap();
    rows.push(("POST /orders", counter.take()));
    let key = IdempotencyKey::parse("k-1").unwrap();
    let keyed = create_order(
        deps(),
        &buyer,
        input().parse().unwrap(),
        Some(&key),
        &render,
    )
    .await
    .unwrap();
    rows.push(("POST /orders (Idempotency-Key)", counter.take()));
    create_order(
        deps(),
        &buyer,
        input().parse().unwrap(),
        Some(&key),
        &render,
    )
    .await
    .unwrap();
    rows.push(("POST /orders (replay)", counter.take()));

    let id: OrderId = created.order_id.clone();
    let viewer = Viewer {
        user: Some(UserId::parse("u1").unwrap()),
        ..Viewer::default()
    };
    read::get_order(&store, &viewer, id.as_str())
        .await
        .unwrap()
        .unwrap();
    rows.push(("GET /orders/{orderId}", counter.take()));
    read::list_orders(&store, &UserId::parse("u1").unwrap(), None, None)
        .await
        .unwrap();
    rows.push(("GET /orders", counter.take()));
    store.list_products().await.unwrap();
    rows.push(("GET /products", counter.take()));

    let queue = InMemoryQueue::default();
    let publisher = InMemoryPublisher::default();
    let wdeps = OutboxPorts {
        store: &store,
        queue: &queue,
        publisher: &publisher,
        clock: &clock,
        trace: oms_core::ports::Trace::default(),
    };
    let order = store.get_order(&id).await.unwrap().unwrap();
    counter.take();
    let body = simulate::razorpay_payment_event(
        "payment.captured",
        "pay_1",
        &order.payment().provider_order_id,
        Some(id.as_str()),
        order.total(),
    );
    let event = razorpay::normalise(body.as_bytes(), Some("evt_1")).unwrap();
    handle_event(&wdeps, &event, body.as_bytes()).await.unwrap();
    rows.push(("POST /webhooks/razorpay (pays)", counter.take()));
    handle_event(&wdeps, &event, body.as_bytes()).await.unwrap();
    rows.push(("POST /webhooks/razorpay (duplicate)", counter.take()));
    let sibling = simulate::razorpay_order_paid(
        "pay_1",
        &order.payment().provider_order_id,
        Some(id.as_str()),
        order.total(),
    );
    let sibling = razorpay::normalise(sibling.as_bytes(), Some("evt_2")).unwrap();
    handle_event(&wdeps, &sibling, b"{}").await.unwrap();
    rows.push(("POST /webhooks/razorpay (sibling event)", counter.take()));
    assert_eq!(queue.sent().len(), 1);

    let invoices = oms_memory::InMemoryInvoices::default();
    let seller = oms_core::invoice::Seller::default();
    let notifier = oms_providers::notify::WhatsApp::new(
        oms_providers::http_client(),
        oms_providers::notify::WhatsAppConfig {
            api_base: String::new(),
            phone_number_id: String::new(),
            credentials: Arc::new(oms_providers::credentials::FixedCredentials::default()),
            template: "t".into(),
            out_for_delivery_template: "order_out_for_delivery".into(),
            delivered_template: "order_delivered".into(),
            language: "en".into(),
            dry_run: true,
        },
    );
    let fdeps = oms_core::app::fulfil::FulfilDeps {
        store: &store,
        invoices: &invoices,
        carrier: &oms_providers::shipping::NoShipping,
        publisher: &publisher,
        notifier: &notifier,
        clock: &clock,
        seller: &seller,
    };
    oms_core::app::fulfil::fulfil(&fdeps, &id).await.unwrap();
    rows.push(("worker: fulfil one job", counter.take()));
    oms_core::app::fulfil::fulfil(&fdeps, &id).await.unwrap();
    rows.push(("worker: the same job again", counter.take()));

    // A parcel: paid, shipped by Shiprocket's dry run (an AWB), then tracked.
    let parcel = create_order(deps(), &buyer, input().parse().unwrap(), None, &render)
        .await
        .unwrap();
    let parcel = OrderId::parse(&parcel.body).unwrap();
    let paid = store.get_order(&parcel).await.unwrap().unwrap();
    let body = simulate::razorpay_payment_event(
        "payment.captured",
        "pay_2",
        &paid.payment().provider_order_id,
        Some(parcel.as_str()),
        paid.total(),
    );
    let event = razorpay::normalise(body.as_bytes(), Some("evt_3")).unwrap();
    handle_event(&wdeps, &event, body.as_bytes()).await.unwrap();
    let shiprocket = oms_providers::shipping::Shiprocket::new(
        oms_providers::http_client(),
        oms_providers::shipping::ShiprocketConfig {
            api_base: String::new(),
            credentials: Arc::new(oms_providers::credentials::FixedCredentials::default()),
            pickup_location: "Primary".into(),
            channel_id: None,
            parcel: (20.0, 15.0, 10.0, 0.5),
            dry_run: true,
        },
    );
    let pdeps = oms_core::app::fulfil::FulfilDeps {
        carrier: &shiprocket,
        ..fdeps
    };
    counter.take();
    oms_core::app::fulfil::fulfil(&pdeps, &parcel)
        .await
        .unwrap();
    rows.push(("worker: fulfil one job (a parcel)", counter.take()));
    let awb = store
        .get_order(&parcel)
        .await
        .unwrap()
        .unwrap()
        .shipment()
        .unwrap()
        .awb
        .clone();
    let tracking = oms_core::app::tracking::TrackingPolicy {
        rto_refund: oms_core::order::RtoRefundPolicy::Review,
        retention: std::time::Duration::from_secs(86_400),
    };
    counter.take();
    let track = |status_id: u32, awb: &str, minutes: i64| {
        let body = oms_core::tracking::simulate::shiprocket_body(
            awb,
            "not-one-of-ours",
            status_id,
            "S",
            Timestamp::from_unix_millis(1_800_000_000_000 + minutes * 60_000),
        );
        oms_core::tracking::parse_shiprocket(body.as_bytes()).unwrap()
    };
    use oms_core::app::tracking::handle_tracking;
    handle_tracking(&wdeps, tracking, &track(42, &awb, 1), b"{}")
        .await
        .unwrap();
    rows.push(("POST /webhooks/shiprocket (moves)", counter.take()));
    handle_tracking(&wdeps, tracking, &track(42, &awb, 1), b"{}")
        .await
        .unwrap();
    rows.push(("POST /webhooks/shiprocket (duplicate)", counter.take()));
    handle_tracking(&wdeps, tracking, &track(17, &awb, 2), b"{}")
        .await
        .unwrap();
    rows.push(("POST /webhooks/shiprocket (message owed)", counter.take()));
    handle_tracking(&wdeps, tracking, &track(42, "NOSUCHAWB", 1), b"{}")
        .await
        .unwrap();
    rows.push(("POST /webhooks/shiprocket (unknown AWB)", counter.take()));
    oms_core::app::fulfil::fulfil(&pdeps, &parcel)
        .await
        .unwrap();
    rows.push(("worker: a shipment message", counter.take()));

    let admin = UserId::parse("ops").unwrap();
    let product = || -> ProductInput {
        serde_json::from_value(
            serde_json::json!({"name": "Tea", "unitPrice": 100, "currency": "INR", "available": 5}),
        )
        .unwrap()
    };
    catalog::put_product(&store, &admin, "TEA", product())
        .await
        .unwrap();
    rows.push(("PUT /admin/products/{sku}", counter.take()));
    let write_off = StockInput {
        delta: -1,
        reason: "damaged".into(),
    };
    catalog::adjust_stock(&store, &clock, &admin, "TEA", write_off)
        .await
        .unwrap();
    rows.push(("POST /admin/products/{sku}/stock", counter.take()));
    catalog::stock_records(&store, "TEA", None, None)
        .await
        .unwrap();
    rows.push(("GET /admin/products/{sku}/stock", counter.take()));

    // The ops console's searches: an order held for review (the second one, still unpaid), the
    // paid one, the events recorded above.
    let mut held = store.get_order(&keyed.order_id).await.unwrap().unwrap();
    let version = held.version();
    held.hold_unreadable("cost test", clock.now()).unwrap();
    assert!(store.save_order(&held, version, None).await.unwrap());
    counter.take();
    let review = store
        .search_orders(
            &OrderSearch {
                requires_review: Some(true),
                ..OrderSearch::default()
            },
            50,
            None,
        )
        .await
        .unwrap();
    assert_eq!(review.orders.len(), 1);
    rows.push(("GET /admin/orders?requiresReview=true", counter.take()));
    let fulfilled = store
        .search_orders(
            &OrderSearch {
                status: Some(oms_core::OrderStatus::Fulfilled),
                ..OrderSearch::default()
            },
            50,
            None,
        )
        .await
        .unwrap();
    assert_eq!(fulfilled.orders.len(), 2, "the first order and the parcel");
    rows.push(("GET /admin/orders?status=fulfilled", counter.take()));
    let events = store
        .search_events(
            &EventSearch {
                outcome: Some(oms_core::ports::EventOutcome::Applied),
                ..EventSearch::default()
            },
            50,
            None,
        )
        .await
        .unwrap();
    assert!(!events.events.is_empty());
    rows.push(("GET /admin/events?outcome=applied", counter.take()));

    eprintln!("\n| route | DynamoDB requests | by operation |\n|---|---|---|");
    for (route, m) in &rows {
        eprintln!("| {route} | {} | {:?} |", total(&m.ops), m.ops);
    }
    let cost = |name: &str| total(&rows.iter().find(|(r, _)| *r == name).unwrap().1.ops);
    assert_eq!(cost("POST /orders"), 2, "BatchGetItem + TransactWriteItems");
    assert_eq!(
        cost("POST /orders (Idempotency-Key)"),
        3,
        "+ GetItem for the key"
    );
    assert_eq!(
        cost("POST /orders (replay)"),
        1,
        "a replay reads the key and answers"
    );
    assert_eq!(cost("GET /orders/{orderId}"), 1);
    assert_eq!(cost("GET /orders"), 1);
    assert_eq!(cost("GET /products"), 1);
    assert_eq!(
        cost("POST /webhooks/razorpay (pays)"),
        2,
        "order read, commit (the outbox entry is the worker's to clear)"
    );
    assert_eq!(
        cost("POST /webhooks/razorpay (duplicate)"),
        3,
        "order read, event put refused, outbox claim refused"
    );
    assert_eq!(cost("POST /webhooks/razorpay (sibling event)"), 3);
    assert_eq!(
        cost("worker: fulfil one job"),
        4,
        "order + counter + outbox read, lease + invoice + outbox clear, shipment+fulfilled, notified"
    );
    assert_eq!(
        cost("worker: the same job again"),
        1,
        "one read sees it done"
    );
    assert_eq!(
        cost("PUT /admin/products/{sku}"),
        1,
        "one update, old item returned"
    );
    assert_eq!(
        cost("POST /admin/products/{sku}/stock"),
        2,
        "stock read + TransactWriteItems (product and record)"
    );
    assert_eq!(
        cost("GET /admin/products/{sku}/stock"),
        2,
        "product read + records query"
    );
    let ops = |name: &str| rows.iter().find(|(r, _)| *r == name).unwrap().1.ops.clone();
    let expect = |pairs: &[(&str, u32)]| -> BTreeMap<String, u32> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    assert_eq!(
        ops("worker: fulfil one job (a parcel)"),
        expect(&[
            ("BatchGetItem", 1),
            ("PutItem", 1),
            ("TransactWriteItems", 2)
        ]),
        "the shipment's write carries its AWB reference: a transaction instead of a put"
    );
    assert_eq!(
        ops("POST /webhooks/shiprocket (moves)"),
        expect(&[("GetItem", 2), ("PutItem", 1)]),
        "AWB reference, order, the order written"
    );
    assert_eq!(
        ops("POST /webhooks/shiprocket (duplicate)"),
        expect(&[("GetItem", 2)]),
        "a redelivery only reads"
    );
    assert_eq!(
        ops("POST /webhooks/shiprocket (message owed)"),
        expect(&[("GetItem", 2), ("TransactWriteItems", 1)]),
        "order and outbox entry together; the worker clears the entry"
    );
    assert_eq!(
        ops("POST /webhooks/shiprocket (unknown AWB)"),
        expect(&[("GetItem", 1), ("UpdateItem", 1)]),
        "the AWB looked up, the unmatched update counted"
    );
    assert_eq!(
        ops("worker: a shipment message"),
        expect(&[("BatchGetItem", 1), ("DeleteItem", 1), ("PutItem", 1)]),
        "one read, the message recorded as taken, the outbox entry cleared"
    );
    assert_eq!(
        ops("GET /admin/orders?requiresReview=true"),
        expect(&[("BatchGetItem", 1), ("Query", 1)]),
        "the review queue is one index partition, then the orders: never a Scan"
    );
    assert_eq!(
        ops("GET /admin/orders?status=fulfilled"),
        expect(&[("BatchGetItem", 1), ("Query", 2)]),
        "the status's partition and the held/disputed one"
    );
    assert_eq!(
        ops("GET /admin/events?outcome=applied"),
        expect(&[("Query", 1)]),
        "one index partition holds what an event list shows"
    );
    for (route, m) in &rows {
        assert!(!m.ops.contains_key("Scan"), "{route} scans the table");
    }
    // Every request each route made is one its function may make on AWS.
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    let mut missing = Vec::new();
    for (route, m) in &rows {
        let function = function_of(route);
        let granted = granted(&template, function);
        assert!(!granted.is_empty(), "{function} has no DynamoDB grant");
        for action in m.actions.difference(&granted) {
            missing.push(format!("{route}: {function} needs dynamodb:{action}"));
        }
    }
    assert!(
        missing.is_empty(),
        "template.yaml does not grant:\n{}",
        missing.join("\n")
    );
    let lifecycle = cost("POST /orders")
        + cost("POST /webhooks/razorpay (pays)")
        + cost("worker: fulfil one job");
    eprintln!("\ncreate → paid → fulfilled: {lifecycle} DynamoDB requests");
    assert_eq!(lifecycle, 8, "2 + 2 + 4 (docs/data-model.md)");
}
