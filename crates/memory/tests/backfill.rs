//! The backfill use case on the in-memory adapters, against a provider that lists scripted
//! pages: what it applies, what it counts as known, how it pages, and how it tells an
//! unconfigured provider, an outage and a refused query apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use oms_core::app::backfill::{BackfillError, BackfillRequest, backfill};
use oms_core::app::{OrderPolicy, Services};
use oms_core::ports::{
    BackfillItem, BackfillPage, BackfillQuery, CheckoutClosed, CheckoutRequest, CreateOutcome,
    EventOutcome, EventSource, FoundPayment, IdGenerator, OrderStore, PaymentProvider,
    PaymentProviders, ProviderError, ProviderRefund, RefundCall,
};
use oms_core::webhook::simulate;
use oms_core::{Order, OrderStatus, PaymentInfo, ProviderKind, Timestamp};
use oms_memory::fixtures::{inr, order};
use oms_memory::{InMemoryPublisher, InMemoryQueue, InMemoryStore, ManualClock, StaticSecrets};

const ORDER: &str = "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0";

/// Lists the page scripted for each cursor; fails every call while `fail` is set.
struct Listing {
    pages: HashMap<Option<String>, BackfillPage>,
    fail: Mutex<Option<ProviderError>>,
    asked: Mutex<Vec<BackfillQuery>>,
}

#[async_trait]
impl PaymentProvider for Listing {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Razorpay
    }

    async fn create_checkout(&self, _: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        unreachable!("no checkout in a backfill")
    }

    async fn close_checkout(&self, _: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        unreachable!("no checkout in a backfill")
    }

    async fn find_payments(&self, _: &PaymentInfo) -> Result<Vec<FoundPayment>, ProviderError> {
        Ok(Vec::new())
    }

    async fn refund(&self, _: &RefundCall) -> Result<ProviderRefund, ProviderError> {
        unreachable!("no refund in these backfills")
    }

    async fn get_refund(&self, _: &str, _: &str) -> Result<ProviderRefund, ProviderError> {
        unreachable!("no refund in these backfills")
    }

    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        self.asked.lock().unwrap().push(query.clone());
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(self.pages.get(&query.cursor).cloned().unwrap_or_default())
    }
}

struct CountingIds(AtomicUsize);

impl IdGenerator for CountingIds {
    fn ulid(&self, _: Timestamp) -> String {
        format!("{:026}", self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn secret(&self) -> String {
        self.ulid(Timestamp::from_unix_millis(0))
    }
}

struct NoCarrier;

#[async_trait]
impl oms_core::ports::Carrier for NoCarrier {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn create_shipment(
        &self,
        _: &Order,
    ) -> Result<oms_core::ShipmentInfo, oms_core::ports::CarrierError> {
        unreachable!("no shipment in a backfill")
    }

    async fn cancel_shipment(
        &self,
        _: &oms_core::ShipmentInfo,
    ) -> Result<oms_core::ports::ShipmentCancel, oms_core::ports::CarrierError> {
        unreachable!("no shipment in a backfill")
    }
}

struct World {
    services: Services,
    store: Arc<InMemoryStore>,
    queue: Arc<InMemoryQueue>,
    publisher: Arc<InMemoryPublisher>,
    provider: Arc<Listing>,
    order: Order,
}

fn t0() -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000)
}

/// A Razorpay payment entity wrapped as its webhook, as the Razorpay client lists it.
fn captured(payment: &str, razorpay_order: &str) -> BackfillItem {
    BackfillItem {
        event_id: format!("backfill:{payment}#captured"),
        body: simulate::razorpay_payment_event(
            "payment.captured",
            payment,
            razorpay_order,
            None,
            inr(50_000),
        ),
    }
}

async fn world(pages: Vec<(Option<&str>, Vec<BackfillItem>, Option<&str>)>) -> World {
    let store = Arc::new(InMemoryStore::new([oms_core::Product {
        sku: oms_core::Sku::parse("A").unwrap(),
        name: "A".into(),
        unit_price: inr(50_000),
        available: 5,
    }]));
    let order = order(ORDER, "user-1", &[("A", 1, 50_000)], t0());
    assert_eq!(
        store.create_order(&order, None, t0()).await.unwrap(),
        CreateOutcome::Created
    );
    let provider = Arc::new(Listing {
        pages: pages
            .into_iter()
            .map(|(cursor, items, next)| {
                (
                    cursor.map(str::to_owned),
                    BackfillPage {
                        items,
                        next_cursor: next.map(str::to_owned),
                    },
                )
            })
            .collect(),
        fail: Mutex::new(None),
        asked: Mutex::new(Vec::new()),
    });
    let queue = Arc::new(InMemoryQueue::default());
    let publisher = Arc::new(InMemoryPublisher::default());
    let services = Services {
        store: store.clone(),
        queue: queue.clone(),
        dead_jobs: queue.clone(),
        publisher: publisher.clone(),
        secrets: Arc::new(StaticSecrets::default()),
        providers: PaymentProviders::new(vec![provider.clone()]),
        carrier: Arc::new(NoCarrier),
        tracking_tokens: Arc::new(oms_memory::NoCredentials),
        downloads: Arc::new(oms_memory::NoDownloadFiles),
        clock: Arc::new(ManualClock::at(t0().plus(Duration::from_secs(600)))),
        ids: Arc::new(CountingIds(AtomicUsize::new(0))),
        policy: OrderPolicy::default(),
    };
    World {
        services,
        store,
        queue,
        publisher,
        provider,
        order,
    }
}

fn request(provider: ProviderKind, cursor: Option<&str>) -> BackfillRequest {
    BackfillRequest {
        provider,
        query: BackfillQuery {
            since: t0(),
            until: t0().plus(Duration::from_secs(600)),
            undelivered_only: false,
            cursor: cursor.map(str::to_owned),
        },
    }
}

#[tokio::test]
async fn a_capture_whose_webhook_was_lost_is_applied_once_and_a_second_run_changes_nothing() {
    let rzp_order = order(ORDER, "user-1", &[("A", 1, 50_000)], t0())
        .payment()
        .provider_order_id
        .clone();
    let w = world(vec![(
        None,
        vec![
            captured("pay_lost", &rzp_order),
            captured("pay_other_shop", "order_NOTOURS"),
        ],
        None,
    )])
    .await;

    let first = backfill(&w.services, &request(ProviderKind::Razorpay, None))
        .await
        .unwrap();
    assert_eq!(
        (
            first.listed,
            first.applied,
            first.already_known,
            first.unmatched,
            first.ignored
        ),
        (2, 1, 0, 1, 0),
        "{first:?}"
    );
    assert_eq!(first.next_cursor, None);
    assert_eq!(first.corrections.len(), 1);
    assert_eq!(first.corrections[0].order_id.as_str(), ORDER);
    assert_eq!(first.corrections[0].event_id, "backfill:pay_lost#captured");
    let paid = w.store.get_order(w.order.id()).await.unwrap().unwrap();
    assert_eq!(paid.status(), OrderStatus::Paid);
    let record = w
        .store
        .get_event(ProviderKind::Razorpay, "backfill:pay_lost#captured")
        .await
        .unwrap()
        .expect("the backfilled event is recorded");
    assert_eq!(record.source, EventSource::Backfill);
    assert_eq!(record.outcome, EventOutcome::Applied);
    assert_eq!(w.queue.sent().len(), 1, "fulfilment queued once");
    let alerts = w.publisher.of_type("ops.webhook_missed");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].body["source"], "backfill");
    assert_eq!(alerts[0].body["applied"], 1);

    let second = backfill(&w.services, &request(ProviderKind::Razorpay, None))
        .await
        .unwrap();
    assert_eq!(
        (second.listed, second.applied, second.already_known),
        (2, 0, 2),
        "{second:?}"
    );
    assert!(second.corrections.is_empty());
    assert_eq!(
        w.store.get_order(w.order.id()).await.unwrap().unwrap(),
        paid,
        "the second run changed nothing"
    );
    assert_eq!(w.queue.sent().len(), 1);
    assert_eq!(w.publisher.of_type("ops.webhook_missed").len(), 1);
    assert_eq!(
        w.publisher.of_type("ops.unmatched_payment_event").len(),
        1,
        "the unmatched payment is reported once"
    );
}

#[tokio::test]
async fn a_page_hands_back_the_providers_cursor_and_the_next_call_follows_it() {
    let w = world(vec![
        (
            None,
            vec![captured("pay_a", "order_X1")],
            Some("payments:100"),
        ),
        (
            Some("payments:100"),
            vec![captured("pay_b", "order_X2")],
            None,
        ),
    ])
    .await;
    let one = backfill(&w.services, &request(ProviderKind::Razorpay, None))
        .await
        .unwrap();
    assert_eq!(one.next_cursor.as_deref(), Some("payments:100"));
    let two = backfill(
        &w.services,
        &request(ProviderKind::Razorpay, one.next_cursor.as_deref()),
    )
    .await
    .unwrap();
    assert_eq!((two.listed, two.next_cursor), (1, None));
    let asked: Vec<Option<String>> = w
        .provider
        .asked
        .lock()
        .unwrap()
        .iter()
        .map(|q| q.cursor.clone())
        .collect();
    assert_eq!(asked, [None, Some("payments:100".to_owned())]);
}

#[tokio::test]
async fn an_unconfigured_provider_an_outage_and_a_refused_query_are_told_apart() {
    let w = world(vec![(None, vec![captured("pay_a", "order_X1")], None)]).await;
    assert!(matches!(
        backfill(&w.services, &request(ProviderKind::Stripe, None)).await,
        Err(BackfillError::NotConfigured(ProviderKind::Stripe))
    ));
    let cases = [
        (
            ProviderError::Unavailable("razorpay answered 503".into()),
            "provider",
        ),
        (
            ProviderError::Rejected {
                status: 400,
                message: "razorpay: bad cursor".into(),
            },
            "refused",
        ),
        (
            ProviderError::Rejected {
                status: 401,
                message: "razorpay: authentication failed".into(),
            },
            "provider",
        ),
    ];
    for (fault, want) in cases {
        *w.provider.fail.lock().unwrap() = Some(fault.clone());
        let got = match backfill(&w.services, &request(ProviderKind::Razorpay, None)).await {
            Err(BackfillError::Provider(e)) if e == fault => "provider",
            Err(BackfillError::Refused(_)) => "refused",
            other => panic!("{fault:?}: {other:?}"),
        };
        assert_eq!(got, want, "{fault:?}");
    }
    assert!(
        w.store.events().is_empty(),
        "nothing applied while it failed"
    );
    *w.provider.fail.lock().unwrap() = None;
    let after = backfill(&w.services, &request(ProviderKind::Razorpay, None))
        .await
        .unwrap();
    assert_eq!(after.listed, 1, "the same call completes once it is back");
}

#[tokio::test]
async fn an_unreadable_item_is_recorded_as_an_unreadable_webhook_would_be() {
    let w = world(vec![(
        None,
        vec![BackfillItem {
            event_id: "backfill:pay_x#captured".into(),
            body: "not json".into(),
        }],
        None,
    )])
    .await;
    let report = backfill(&w.services, &request(ProviderKind::Razorpay, None))
        .await
        .unwrap();
    assert_eq!((report.listed, report.ignored), (1, 1), "{report:?}");
    let record = w
        .store
        .get_event(ProviderKind::Razorpay, "backfill:pay_x#captured")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.outcome, EventOutcome::Ignored);
    assert_eq!(record.source, EventSource::Backfill);
}
