//! One contract for the store port, run against the in-memory store and against DynamoDB on
//! the local AWS API server: the same test bodies, two backends.

mod common;

use std::time::Duration;

use common::{Backend, store};
use oms_app::system::RandomIds;
use oms_core::customer::{CountryCode, Customer, Email, ShippingAddress};
use oms_core::order::{NewRefund, OrderDraft, PaymentCapture, RefundReport};
use oms_core::ports::{
    CommitOutcome, CreateOutcome, EventCommit, EventOutcome, EventRecord, EventSource, IdGenerator,
    IdempotencyRecord, OrderStore, OutboxEntry, ProviderRefund, ProviderRefundStatus, StockLevel,
    StoreError, Upserted,
};
use oms_core::search::{EventSearch, OrderSearch};
use oms_core::{
    Currency, Money, Order, OrderId, OrderLine, OrderNumber, OrderStatus, Owner, PaymentInfo,
    Product, ProviderKind, Quantity, Sku, StockRecord, Timestamp, UserId,
};

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

fn product(sku: &str, available: u32) -> Product {
    Product {
        sku: Sku::parse(sku).unwrap(),
        name: format!("Product {sku}"),
        unit_price: inr(1_000),
        available,
    }
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000)
}

fn order(user: &str, at: Timestamp, lines: &[(&str, u32)]) -> Order {
    let ulid = RandomIds.ulid(at);
    let lines: Vec<OrderLine> = lines
        .iter()
        .map(|(sku, q)| OrderLine {
            sku: Sku::parse(sku).unwrap(),
            name: sku.to_string(),
            quantity: Quantity::new(u64::from(*q)).unwrap(),
            unit_price: inr(1_000),
            line_total: inr(1_000 * i64::from(*q)),
        })
        .collect();
    let total = lines
        .iter()
        .fold(inr(0), |a, l| a.checked_add(l.line_total).unwrap());
    Order::open(
        OrderDraft {
            id: OrderId::from_ulid(&ulid).unwrap(),
            number: OrderNumber::parse(&format!("ORD-{}", &ulid[18..])).unwrap(),
            owner: Owner::User {
                user_id: UserId::parse(user).unwrap(),
            },
            customer: Customer {
                email: Email::parse("a@example.com").unwrap(),
                name: "A".into(),
                phone: None,
            },
            shipping_address: ShippingAddress {
                name: "A".into(),
                line1: "1 Road".into(),
                line2: None,
                city: "City".into(),
                state: "State".into(),
                postal_code: "560001".into(),
                country: CountryCode::parse("IN").unwrap(),
            },
            lines,
            total,
            payment: PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: format!("order_{}", &ulid[12..]),
                provider_payment_id: None,
                checkout_url: None,
                key_id: None,
                captured: None,
            },
            expires_at: at.plus(Duration::from_secs(1800)),
        },
        at,
    )
}

fn record(scope: &str, order: &Order, now: Timestamp) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: scope.into(),
        request_hash: "h1".into(),
        order_id: order.id().clone(),
        response: "{\"orderId\":\"x\"}".into(),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(86_400)),
    }
}

fn event(id: &str, order: Option<&Order>, outcome: EventOutcome, now: Timestamp) -> EventRecord {
    EventRecord {
        provider: ProviderKind::Razorpay,
        event_id: id.into(),
        event_type: "payment.captured".into(),
        received_at: now,
        order_id: order.map(|o| o.id().clone()),
        outcome,
        detail: "applied".into(),
        payload: "{\"event\":\"payment.captured\"}".into(),
        expires_at: now.plus(Duration::from_secs(4 * 86_400)),
        source: EventSource::Webhook,
    }
}

fn commit<'a>(rec: &'a EventRecord, order: Option<(&'a Order, u64)>) -> EventCommit<'a> {
    EventCommit {
        record: rec,
        order,
        reserve_stock: false,
        payment_refs: Vec::new(),
        outbox: None,
    }
}

async fn available(store: &dyn OrderStore, sku: &str) -> u32 {
    store
        .get_products(&[Sku::parse(sku).unwrap()])
        .await
        .unwrap()[0]
        .available
}

fn paid(o: &Order, payment: &str, at: Timestamp) -> Order {
    let mut next = o.clone();
    next.record_payment(
        &PaymentCapture {
            provider_payment_id: payment.into(),
            amount: o.total(),
        },
        at,
    )
    .unwrap();
    next
}

on_both_backends!(
    the_catalog_lists_and_reads_products,
    creation_reserves_every_line_or_none,
    a_live_idempotency_key_blocks_a_second_order_and_an_expired_one_does_not,
    concurrent_creations_never_take_more_stock_than_exists,
    a_users_orders_page_newest_first_and_foreign_cursors_are_refused,
    an_event_is_recorded_once_and_a_duplicate_returns_the_first_record,
    a_transition_is_conditioned_on_the_version_it_was_computed_from,
    payment_references_find_their_order,
    a_reinstatement_takes_stock_again_or_changes_nothing,
    cancelling_gives_the_stock_back_only_if_the_order_did_not_change,
    the_outbox_lease_lets_one_sender_at_a_time,
    invoice_numbers_are_gapless_and_one_per_order,
    a_product_is_created_once_and_repricing_keeps_its_stock,
    a_stock_adjustment_applies_only_to_the_level_and_count_it_was_computed_from,
    stock_records_page_newest_first,
    order_search_finds_by_status_and_hold_and_pages_newest_first,
    event_search_finds_by_outcome_and_window,
    the_refund_index_lists_calls_owed_and_pending_checks_due_earliest_first,
    a_shipped_order_is_found_by_its_awb_and_unknown_awbs_are_recorded_once,
);

async fn the_catalog_lists_and_reads_products(b: Backend) {
    let h = store(b, vec![product("B", 2), product("A", 5)]).await;
    let mut all = h.store.list_products().await.unwrap();
    all.sort_by(|x, y| x.sku.cmp(&y.sku));
    assert_eq!(all, vec![product("A", 5), product("B", 2)]);
    let some = h
        .store
        .get_products(&[Sku::parse("B").unwrap(), Sku::parse("GHOST").unwrap()])
        .await
        .unwrap();
    assert_eq!(
        some,
        vec![product("B", 2)],
        "unknown SKUs are simply absent"
    );
}

async fn creation_reserves_every_line_or_none(b: Backend) {
    let h = store(b, vec![product("A", 5), product("B", 1)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 2), ("B", 2), ("GHOST", 1)]);
    match s.create_order(&o, None, t(0)).await.unwrap() {
        CreateOutcome::InsufficientStock(short) => {
            let got: Vec<(&str, u32, u32)> = short
                .iter()
                .map(|x| (x.sku.as_str(), x.requested, x.available))
                .collect();
            assert_eq!(
                got,
                vec![("B", 2, 1), ("GHOST", 1, 0)],
                "each short SKU is named with what is left"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(available(s, "A").await, 5);
    assert!(s.get_order(o.id()).await.unwrap().is_none());

    let ok = order("u1", t(1), &[("A", 2), ("B", 1)]);
    assert_eq!(
        s.create_order(&ok, None, t(1)).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!((available(s, "A").await, available(s, "B").await), (3, 0));
    assert_eq!(
        s.get_order(ok.id()).await.unwrap().unwrap(),
        ok,
        "the order reads back exactly"
    );
}

async fn a_live_idempotency_key_blocks_a_second_order_and_an_expired_one_does_not(b: Backend) {
    let h = store(b, vec![product("A", 10)]).await;
    let s = h.store.as_ref();
    let first = order("u1", t(0), &[("A", 1)]);
    let rec = record("user:u1#k", &first, t(0));
    assert_eq!(
        s.create_order(&first, Some(&rec), t(0)).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        s.get_idempotency("user:u1#k", t(1)).await.unwrap(),
        Some(rec.clone())
    );

    let second = order("u1", t(2), &[("A", 1)]);
    let rec2 = record("user:u1#k", &second, t(2));
    assert_eq!(
        s.create_order(&second, Some(&rec2), t(2)).await.unwrap(),
        CreateOutcome::IdempotencyKeyTaken(rec.clone())
    );
    assert_eq!(
        available(s, "A").await,
        9,
        "the refused order reserved nothing"
    );
    assert!(s.get_order(second.id()).await.unwrap().is_none());

    let later = t(86_401);
    assert_eq!(s.get_idempotency("user:u1#k", later).await.unwrap(), None);
    let third = order("u1", later, &[("A", 1)]);
    let rec3 = record("user:u1#k", &third, later);
    assert_eq!(
        s.create_order(&third, Some(&rec3), later).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        s.get_idempotency("user:u1#k", later).await.unwrap(),
        Some(rec3)
    );
}

async fn concurrent_creations_never_take_more_stock_than_exists(b: Backend) {
    const N: u32 = 20;
    let h = store(b, vec![product("A", N)]).await;
    let tasks: Vec<_> = (0..N + 25)
        .map(|i| {
            let s = h.store.clone();
            tokio::spawn(async move {
                let o = order("u1", t(i64::from(i)), &[("A", 1)]);
                s.create_order(&o, None, t(0)).await
            })
        })
        .collect();
    let mut created = 0;
    let mut short = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(CreateOutcome::Created) => created += 1,
            Ok(CreateOutcome::InsufficientStock(_)) => short += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((created, short), (N, 25));
    assert_eq!(available(h.store.as_ref(), "A").await, 0);
}

async fn a_users_orders_page_newest_first_and_foreign_cursors_are_refused(b: Backend) {
    let h = store(b, vec![product("A", 100)]).await;
    let s = h.store.as_ref();
    let mut mine = Vec::new();
    for i in 0..6 {
        let o = order("u1", t(i), &[("A", 1)]);
        s.create_order(&o, None, t(i)).await.unwrap();
        mine.push(o.id().clone());
        s.create_order(&order("u2", t(i), &[("A", 1)]), None, t(i))
            .await
            .unwrap();
    }
    mine.reverse();
    let u1 = UserId::parse("u1").unwrap();
    let p1 = s.list_orders_for_user(&u1, 3, None).await.unwrap();
    let p2 = s
        .list_orders_for_user(&u1, 3, p1.next_cursor.as_deref())
        .await
        .unwrap();
    assert!(
        p2.next_cursor.is_none(),
        "an exactly full last page points nowhere"
    );
    let got: Vec<OrderId> = [p1, p2]
        .iter()
        .flat_map(|p| p.orders.iter().map(|o| o.id().clone()))
        .collect();
    assert_eq!(got, mine);

    let u2 = UserId::parse("u2").unwrap();
    let theirs = s.list_orders_for_user(&u2, 2, None).await.unwrap();
    let foreign = theirs.next_cursor.unwrap();
    assert_eq!(
        s.list_orders_for_user(&u1, 2, Some(&foreign))
            .await
            .unwrap_err(),
        StoreError::InvalidCursor
    );
    assert_eq!(
        s.list_orders_for_user(&u1, 2, Some("not-a-cursor"))
            .await
            .unwrap_err(),
        StoreError::InvalidCursor
    );
}

async fn an_event_is_recorded_once_and_a_duplicate_returns_the_first_record(b: Backend) {
    let h = store(b, vec![product("A", 1)]).await;
    let s = h.store.as_ref();
    let first = event("evt_1", None, EventOutcome::Unmatched, t(0));
    assert_eq!(
        s.commit_event(commit(&first, None)).await.unwrap(),
        CommitOutcome::Committed
    );
    let again = event("evt_1", None, EventOutcome::Ignored, t(5));
    assert_eq!(
        s.commit_event(commit(&again, None)).await.unwrap(),
        CommitOutcome::Duplicate(first.clone())
    );
    assert_eq!(
        s.get_event(ProviderKind::Razorpay, "evt_1").await.unwrap(),
        Some(first)
    );
    assert_eq!(
        s.get_event(ProviderKind::Stripe, "evt_1").await.unwrap(),
        None,
        "ids are per provider"
    );
}

async fn a_transition_is_conditioned_on_the_version_it_was_computed_from(b: Backend) {
    let h = store(b, vec![product("A", 5)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let next = paid(&o, "pay_1", t(1));
    let ready = OutboxEntry {
        order_id: o.id().clone(),
        created_at: t(1),
        lease_until: t(31),
        trace: oms_core::ports::Trace::default(),
    };
    let rec = event("evt_a", Some(&o), EventOutcome::Applied, t(1));
    let c = EventCommit {
        outbox: Some(ready),
        ..commit(&rec, Some((&next, o.version())))
    };
    assert_eq!(s.commit_event(c).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(s.get_order(o.id()).await.unwrap().unwrap(), next);

    // A second writer that read the old version loses, and writes nothing — not even its event.
    let stale = paid(&o, "pay_2", t(2));
    let rec_b = event("evt_b", Some(&o), EventOutcome::Applied, t(2));
    assert_eq!(
        s.commit_event(commit(&rec_b, Some((&stale, o.version()))))
            .await
            .unwrap(),
        CommitOutcome::VersionConflict
    );
    assert_eq!(
        s.get_event(ProviderKind::Razorpay, "evt_b").await.unwrap(),
        None
    );
    assert_eq!(s.get_order(o.id()).await.unwrap().unwrap(), next);

    // save_order has the same condition.
    assert!(!s.save_order(&stale, o.version(), None).await.unwrap());
    let mut reviewed = next.clone();
    reviewed.mark_fulfilled(t(3)).unwrap();
    assert!(s.save_order(&reviewed, next.version(), None).await.unwrap());
    assert_eq!(
        s.get_order(o.id()).await.unwrap().unwrap().status(),
        OrderStatus::Fulfilled
    );
}

async fn payment_references_find_their_order(b: Backend) {
    let h = store(b, vec![product("A", 5)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let provider_order = o.payment().provider_order_id.clone();
    assert_eq!(
        s.find_order_by_ref(ProviderKind::Razorpay, &provider_order)
            .await
            .unwrap(),
        Some(o.id().clone())
    );
    assert_eq!(
        s.find_order_by_ref(ProviderKind::Stripe, &provider_order)
            .await
            .unwrap(),
        None
    );
    let rec = event("checkout:pay_9", Some(&o), EventOutcome::NoChange, t(1));
    let c = EventCommit {
        payment_refs: vec!["pay_9".into()],
        ..commit(&rec, None)
    };
    assert_eq!(s.commit_event(c).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(
        s.find_order_by_ref(ProviderKind::Razorpay, "pay_9")
            .await
            .unwrap(),
        Some(o.id().clone())
    );
}

async fn a_shipped_order_is_found_by_its_awb_and_unknown_awbs_are_recorded_once(b: Backend) {
    let h = store(b, vec![product("A", 5)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let mut shipped = paid(&o, "pay_1", t(1));
    shipped
        .record_invoice(
            oms_core::InvoiceInfo {
                number: "INV-000001".into(),
                key: "k".into(),
                issued_at: t(2),
            },
            t(2),
        )
        .unwrap();
    shipped
        .record_shipment(
            oms_core::ShipmentInfo {
                carrier: "shiprocket".into(),
                shipment_id: "5678".into(),
                awb: "AWB77".into(),
                status: "pickup_scheduled".into(),
            },
            t(3),
        )
        .unwrap();
    assert_eq!(s.find_order_by_awb("AWB77").await.unwrap(), None);
    // Computed from a stale version: neither the order nor its reference is written.
    assert!(!s.save_shipped_order(&shipped, 7).await.unwrap());
    assert_eq!(s.find_order_by_awb("AWB77").await.unwrap(), None);
    assert!(s.save_shipped_order(&shipped, o.version()).await.unwrap());
    assert_eq!(
        s.find_order_by_awb("AWB77").await.unwrap(),
        Some(o.id().clone())
    );
    assert_eq!(s.get_order(o.id()).await.unwrap().unwrap(), shipped);
    assert_eq!(s.find_order_by_awb("AWB78").await.unwrap(), None);

    let rec = |status_id| oms_core::ports::UnmatchedTracking {
        awb: "NOBODY1".into(),
        status_id,
        order_ref: None,
        received_at: t(4),
        payload: "{}".into(),
        expires_at: t(100_000),
    };
    assert!(
        s.record_unmatched_tracking(&rec(42)).await.unwrap(),
        "first"
    );
    assert!(!s.record_unmatched_tracking(&rec(18)).await.unwrap());
    assert!(!s.record_unmatched_tracking(&rec(42)).await.unwrap());
    let other = oms_core::ports::UnmatchedTracking {
        awb: "NOBODY2".into(),
        ..rec(42)
    };
    assert!(s.record_unmatched_tracking(&other).await.unwrap());
}

async fn a_reinstatement_takes_stock_again_or_changes_nothing(b: Backend) {
    let h = store(b, vec![product("A", 1)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let mut cancelled = o.clone();
    cancelled.cancel("stale", t(1)).unwrap();
    assert!(
        s.release_order_stock(&cancelled, o.version())
            .await
            .unwrap()
    );
    assert_eq!(available(s, "A").await, 1);
    // Someone else buys the unit.
    s.create_order(&order("u2", t(2), &[("A", 1)]), None, t(2))
        .await
        .unwrap();

    let mut back = cancelled.clone();
    back.record_payment_after_cancel(
        &PaymentCapture {
            provider_payment_id: "pay_1".into(),
            amount: o.total(),
        },
        true,
        t(3),
    )
    .unwrap();
    let rec = event("evt_late", Some(&o), EventOutcome::Applied, t(3));
    let c = EventCommit {
        reserve_stock: true,
        ..commit(&rec, Some((&back, cancelled.version())))
    };
    match s.commit_event(c).await.unwrap() {
        CommitOutcome::InsufficientStock(short) => assert_eq!(short[0].sku.as_str(), "A"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.get_order(o.id()).await.unwrap().unwrap(),
        cancelled,
        "nothing was written"
    );
    assert_eq!(available(s, "A").await, 0);
    assert_eq!(
        s.get_event(ProviderKind::Razorpay, "evt_late")
            .await
            .unwrap(),
        None
    );
}

async fn cancelling_gives_the_stock_back_only_if_the_order_did_not_change(b: Backend) {
    let h = store(b, vec![product("A", 3)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 2)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    // Paid a moment ago: the sweep's cancellation, computed from the old version, must fail.
    let p = paid(&o, "pay_1", t(1));
    assert!(s.save_order(&p, o.version(), None).await.unwrap());
    let mut cancelled = o.clone();
    cancelled.cancel("stale", t(2)).unwrap();
    assert!(
        !s.release_order_stock(&cancelled, o.version())
            .await
            .unwrap()
    );
    assert_eq!(available(s, "A").await, 1);
    assert_eq!(
        s.get_order(o.id()).await.unwrap().unwrap().status(),
        OrderStatus::Paid
    );

    let o2 = order("u1", t(3), &[("A", 1)]);
    s.create_order(&o2, None, t(3)).await.unwrap();
    let mut c2 = o2.clone();
    c2.cancel("stale", t(4)).unwrap();
    assert!(s.release_order_stock(&c2, o2.version()).await.unwrap());
    assert_eq!(available(s, "A").await, 1);
    assert_eq!(
        s.get_order(o2.id()).await.unwrap().unwrap().status(),
        OrderStatus::Cancelled
    );
}

async fn the_outbox_lease_lets_one_sender_at_a_time(b: Backend) {
    let h = store(b, vec![product("A", 5)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let id = o.id().clone();
    assert!(
        !s.claim_outbox(&id, t(0), t(30)).await.unwrap(),
        "nothing owed, nothing to claim"
    );
    let next = paid(&o, "pay_1", t(1));
    let entry = OutboxEntry {
        order_id: id.clone(),
        created_at: t(1),
        lease_until: t(31),
        trace: oms_core::ports::Trace::default(),
    };
    assert!(
        s.save_order(&next, o.version(), Some(&entry))
            .await
            .unwrap()
    );
    assert!(
        !s.claim_outbox(&id, t(2), t(32)).await.unwrap(),
        "the writer holds the lease"
    );
    assert!(
        s.claim_outbox(&id, t(31), t(61)).await.unwrap(),
        "an expired lease can be taken"
    );
    assert!(!s.claim_outbox(&id, t(40), t(70)).await.unwrap());
    s.release_outbox(&id, t(41)).await.unwrap();
    assert!(
        s.claim_outbox(&id, t(41), t(71)).await.unwrap(),
        "a released lease can be taken at once"
    );
    let read = s.read_for_fulfilment(&id).await.unwrap();
    assert_eq!(read.outbox.as_ref().map(|e| e.created_at), Some(t(1)));
    assert_eq!(read.order.map(|o| o.version()), Some(next.version()));
    // Clearing an entry that is no longer the one stored leaves the stored one alone.
    let older = OutboxEntry {
        created_at: t(0),
        ..entry.clone()
    };
    s.clear_outbox(&older).await.unwrap();
    assert!(s.read_for_fulfilment(&id).await.unwrap().outbox.is_some());
    s.clear_outbox(&entry).await.unwrap();
    assert!(s.read_for_fulfilment(&id).await.unwrap().outbox.is_none());
    s.clear_outbox(&entry).await.unwrap();
    assert!(!s.claim_outbox(&id, t(100), t(130)).await.unwrap());
    s.release_outbox(&id, t(100)).await.unwrap();
}

async fn invoice_numbers_are_gapless_and_one_per_order(b: Backend) {
    use oms_core::InvoiceInfo;
    use oms_core::ports::InvoiceOutcome;
    let h = store(b, vec![product("A", 5)]).await;
    let s = h.store.as_ref();
    assert_eq!(s.last_invoice_number().await.unwrap(), 0);
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let p = paid(&o, "pay_1", t(1));
    let entry = OutboxEntry {
        order_id: o.id().clone(),
        created_at: t(1),
        lease_until: t(31),
        trace: oms_core::ports::Trace::default(),
    };
    assert!(s.save_order(&p, o.version(), Some(&entry)).await.unwrap());
    let first = s.read_for_fulfilment(o.id()).await.unwrap();
    assert_eq!((first.last_invoice, first.outbox), (0, Some(entry.clone())));
    let mut invoiced = p.clone();
    invoiced
        .record_invoice(
            InvoiceInfo {
                number: "INV-000001".into(),
                key: "k".into(),
                issued_at: t(2),
            },
            t(2),
        )
        .unwrap();
    assert_eq!(
        s.issue_invoice(&invoiced, p.version(), 2, Some(&entry))
            .await
            .unwrap(),
        InvoiceOutcome::NumberTaken,
        "numbers cannot skip"
    );
    assert_eq!(
        s.issue_invoice(&invoiced, o.version(), 1, Some(&entry))
            .await
            .unwrap(),
        InvoiceOutcome::VersionConflict
    );
    let newer = OutboxEntry {
        created_at: t(2),
        ..entry.clone()
    };
    assert_eq!(
        s.issue_invoice(&invoiced, p.version(), 1, Some(&newer))
            .await
            .unwrap(),
        InvoiceOutcome::VersionConflict,
        "an entry other than the one read is not cleared, and nothing is written"
    );
    assert_eq!(
        s.read_for_fulfilment(o.id()).await.unwrap().outbox,
        Some(entry.clone()),
        "a refused issue clears nothing"
    );
    assert_eq!(
        s.last_invoice_number().await.unwrap(),
        0,
        "a refused issue moves nothing"
    );
    assert_eq!(
        s.issue_invoice(&invoiced, p.version(), 1, Some(&entry))
            .await
            .unwrap(),
        InvoiceOutcome::Issued
    );
    assert_eq!(s.last_invoice_number().await.unwrap(), 1);
    let after = s.read_for_fulfilment(o.id()).await.unwrap();
    assert_eq!(
        (after.last_invoice, after.outbox),
        (1, None),
        "the entry went with the invoice"
    );
    assert_eq!(
        s.issue_invoice(&invoiced, p.version(), 1, None)
            .await
            .unwrap(),
        InvoiceOutcome::NumberTaken,
        "a number is issued once"
    );
    assert_eq!(
        s.get_order(o.id())
            .await
            .unwrap()
            .unwrap()
            .invoice()
            .unwrap()
            .number,
        "INV-000001"
    );
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn idempotency_and_event_records_carry_a_ttl_on_dynamodb() {
    let h = store(Backend::Dynamo, vec![product("A", 5)]).await;
    let d = h.dynamo.unwrap();
    let o = order("u1", t(0), &[("A", 1)]);
    let rec = record("user:u1#ttl", &o, t(0));
    d.create_order(&o, Some(&rec), t(0)).await.unwrap();
    let ev = event("evt_ttl", None, EventOutcome::Ignored, t(0));
    d.commit_event(commit(&ev, None)).await.unwrap();
    for (pk, sk, expected) in [
        (
            "IDEMP#user:u1#ttl".to_owned(),
            "IDEMP",
            rec.expires_at.unix_seconds(),
        ),
        (
            "EVENT#razorpay#evt_ttl".to_owned(),
            "EVENT",
            ev.expires_at.unix_seconds(),
        ),
    ] {
        let item = d
            .client()
            .get_item()
            .table_name(d.table())
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
        assert_eq!(ttl, expected, "{pk}");
    }
    assert!(
        ev.expires_at.unix_seconds() - t(0).unix_seconds() >= 3 * 86_400,
        "events outlive Stripe's 3-day retries"
    );
    let described = d
        .client()
        .describe_time_to_live()
        .table_name(d.table())
        .send()
        .await
        .unwrap();
    assert_eq!(
        described
            .time_to_live_description
            .and_then(|t| t.attribute_name),
        Some("ttl".to_owned())
    );
}

fn stock_record(sku: &str, number: u64, delta: i64, level: u32) -> StockRecord {
    StockRecord {
        sku: Sku::parse(sku).unwrap(),
        number,
        at: t(number as i64),
        by: UserId::parse("ops-admin").unwrap(),
        delta,
        reason: format!("adjustment {number}"),
        level,
    }
}

async fn stock(store: &dyn OrderStore, sku: &str) -> (u32, u64) {
    let StockLevel {
        product,
        adjustments,
    } = store
        .get_stock(&Sku::parse(sku).unwrap())
        .await
        .unwrap()
        .expect("the product exists");
    (product.available, adjustments)
}

async fn a_product_is_created_once_and_repricing_keeps_its_stock(b: Backend) {
    let h = store(b, vec![]).await;
    let s = h.store.as_ref();
    let new = product("NEW", 7);
    assert_eq!(
        s.upsert_product(&new).await.unwrap(),
        Upserted::Created(new.clone())
    );
    assert_eq!(s.list_products().await.unwrap(), vec![new.clone()]);
    assert_eq!(stock(s, "NEW").await, (7, 0));

    let repriced = Product {
        name: "Renamed".into(),
        unit_price: inr(2_500),
        available: 999,
        ..new.clone()
    };
    let kept = Product {
        available: 7,
        ..repriced.clone()
    };
    assert_eq!(
        s.upsert_product(&repriced).await.unwrap(),
        Upserted::Updated(kept.clone()),
        "the stock is not the upsert's to change"
    );
    assert_eq!(s.list_products().await.unwrap(), vec![kept.clone()]);
    assert_eq!(
        s.get_products(&[Sku::parse("NEW").unwrap()]).await.unwrap(),
        vec![kept]
    );
}

async fn a_stock_adjustment_applies_only_to_the_level_and_count_it_was_computed_from(b: Backend) {
    // "A" as seeded by the catalog loader, "B" created through the upsert.
    let h = store(b, vec![product("A", 5)]).await;
    let s = h.store.as_ref();
    s.upsert_product(&product("B", 2)).await.unwrap();
    for sku in ["A", "B"] {
        let (level, count) = stock(s, sku).await;
        assert_eq!(count, 0);
        let first = stock_record(sku, 1, 3, level + 3);
        assert!(s.adjust_stock(&first, level).await.unwrap(), "{sku}");
        assert_eq!(stock(s, sku).await, (level + 3, 1), "{sku}");
        assert!(
            s.adjust_stock(&first, level).await.unwrap(),
            "the same record again is the retry of a committed call: {sku}"
        );
        assert_eq!(stock(s, sku).await, (level + 3, 1), "{sku}");

        let stale_level = stock_record(sku, 2, -1, level - 1);
        assert!(!s.adjust_stock(&stale_level, level).await.unwrap(), "{sku}");
        let stale_count = stock_record(sku, 1, -1, level + 2);
        assert!(
            !s.adjust_stock(&stale_count, level + 3).await.unwrap(),
            "{sku}"
        );
        assert_eq!(
            stock(s, sku).await,
            (level + 3, 1),
            "nothing written: {sku}"
        );
    }

    // An order takes stock between the read and the write: the write is refused.
    let (level, count) = stock(s, "A").await;
    let o = order("u1", t(0), &[("A", 2)]);
    assert_eq!(
        s.create_order(&o, None, t(0)).await.unwrap(),
        CreateOutcome::Created
    );
    let late = stock_record("A", count + 1, -1, level - 1);
    assert!(!s.adjust_stock(&late, level).await.unwrap());
    assert_eq!(stock(s, "A").await, (level - 2, count));
    let ghost = stock_record("GHOST", 1, 1, 1);
    assert!(!s.adjust_stock(&ghost, 0).await.unwrap());
    assert!(
        s.get_stock(&Sku::parse("GHOST").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Records never show in the catalog.
    let mut skus: Vec<String> = s
        .list_products()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.sku.to_string())
        .collect();
    skus.sort();
    assert_eq!(skus, vec!["A", "B"]);
}

async fn stock_records_page_newest_first(b: Backend) {
    let h = store(b, vec![product("A", 0), product("B", 0)]).await;
    let s = h.store.as_ref();
    for n in 1..=12u64 {
        let r = stock_record("A", n, 1, n as u32);
        assert!(s.adjust_stock(&r, n as u32 - 1).await.unwrap());
    }
    assert!(
        s.adjust_stock(&stock_record("B", 1, 4, 4), 0)
            .await
            .unwrap()
    );
    let a = Sku::parse("A").unwrap();
    let numbers = |rs: Vec<StockRecord>| rs.iter().map(|r| r.number).collect::<Vec<_>>();
    let all = s.stock_records(&a, None, 100).await.unwrap();
    assert_eq!(numbers(all.clone()), (1..=12).rev().collect::<Vec<_>>());
    assert_eq!(all[0], stock_record("A", 12, 1, 12), "stored as written");
    assert_eq!(
        numbers(s.stock_records(&a, None, 5).await.unwrap()),
        vec![12, 11, 10, 9, 8]
    );
    assert_eq!(
        numbers(s.stock_records(&a, Some(8), 5).await.unwrap()),
        vec![7, 6, 5, 4, 3]
    );
    assert_eq!(
        numbers(s.stock_records(&a, Some(3), 5).await.unwrap()),
        vec![2, 1]
    );
    assert!(s.stock_records(&a, Some(1), 5).await.unwrap().is_empty());
    assert_eq!(
        numbers(
            s.stock_records(&Sku::parse("B").unwrap(), None, 5)
                .await
                .unwrap()
        ),
        vec![1]
    );
    assert!(
        s.stock_records(&Sku::parse("GHOST").unwrap(), None, 5)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every page of a search, in order; each cursor followed to the end.
async fn search_all(s: &dyn OrderStore, q: &OrderSearch, limit: u32) -> Vec<OrderId> {
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let page = s.search_orders(q, limit, cursor.as_deref()).await.unwrap();
        assert!(page.orders.len() <= limit as usize);
        got.extend(page.orders.iter().map(|o| o.id().clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return got,
        }
    }
    panic!("a search never ended");
}

async fn order_search_finds_by_status_and_hold_and_pages_newest_first(b: Backend) {
    let h = store(b, vec![product("A", 100)]).await;
    let s = h.store.as_ref();
    // Eight orders a second apart: 0, 3, 6 paid; 1 held for review; 4 paid and held; the rest
    // pending.
    let mut all = Vec::new();
    for i in 0..8 {
        let o = order("u1", t(i), &[("A", 1)]);
        s.create_order(&o, None, t(i)).await.unwrap();
        let mut next = o.clone();
        if i % 3 == 0 || i == 4 {
            next = paid(&o, &format!("pay_{i}"), t(i));
        }
        if i == 1 || i == 4 {
            next.hold_unreadable("test", t(i)).unwrap();
        }
        if next != o {
            assert!(s.save_order(&next, o.version(), None).await.unwrap());
        }
        all.push((i, next));
    }
    let ids = |pick: &dyn Fn(i64) -> bool| -> Vec<OrderId> {
        all.iter()
            .rev()
            .filter(|(i, _)| pick(*i))
            .map(|(_, o)| o.id().clone())
            .collect()
    };
    let paid_q = OrderSearch {
        status: Some(OrderStatus::Paid),
        ..OrderSearch::default()
    };
    let held_q = OrderSearch {
        requires_review: Some(true),
        ..OrderSearch::default()
    };
    for limit in [1, 2, 3, 100] {
        assert_eq!(
            search_all(s, &paid_q, limit).await,
            ids(&|i| i % 3 == 0 || i == 4),
            "paid, pages of {limit}"
        );
        assert_eq!(
            search_all(s, &held_q, limit).await,
            ids(&|i| i == 1 || i == 4)
        );
        assert_eq!(
            search_all(s, &OrderSearch::default(), limit).await,
            ids(&|_| true),
            "everything, pages of {limit}"
        );
    }
    let paid_not_held = OrderSearch {
        status: Some(OrderStatus::Paid),
        requires_review: Some(false),
        ..OrderSearch::default()
    };
    assert_eq!(search_all(s, &paid_not_held, 2).await, ids(&|i| i % 3 == 0));
    let window = OrderSearch {
        from: Some(t(2)),
        to: Some(t(6)),
        ..OrderSearch::default()
    };
    assert_eq!(
        search_all(s, &window, 2).await,
        ids(&|i| (2..6).contains(&i))
    );
    let nothing = OrderSearch {
        disputed: Some(true),
        ..OrderSearch::default()
    };
    assert!(search_all(s, &nothing, 5).await.is_empty());

    // A search that runs out of its read budget answers what it is sure of and goes on from
    // there: the same orders, in the same order, over more pages.
    if let Some(dynamo) = &h.dynamo {
        let tight = dynamo.clone().with_search_budget(1, 1);
        for limit in [1, 2, 100] {
            assert_eq!(
                search_all(&tight, &paid_q, limit).await,
                ids(&|i| i % 3 == 0 || i == 4),
                "paid on a tight budget, pages of {limit}"
            );
            assert_eq!(
                search_all(&tight, &held_q, limit).await,
                ids(&|i| i == 1 || i == 4)
            );
            assert_eq!(
                search_all(&tight, &paid_not_held, limit).await,
                ids(&|i| i % 3 == 0)
            );
        }
    }

    // A cursor belongs to its search.
    let first = s.search_orders(&paid_q, 1, None).await.unwrap();
    let cursor = first.next_cursor.unwrap();
    assert_eq!(
        s.search_orders(&held_q, 1, Some(&cursor))
            .await
            .unwrap_err(),
        StoreError::InvalidCursor
    );
    assert_eq!(
        s.search_orders(&paid_q, 1, Some("nonsense"))
            .await
            .unwrap_err(),
        StoreError::InvalidCursor
    );
}

async fn event_search_finds_by_outcome_and_window(b: Backend) {
    let h = store(b, vec![product("A", 10)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let outcomes = [
        EventOutcome::Unmatched,
        EventOutcome::Applied,
        EventOutcome::Unmatched,
        EventOutcome::Ignored,
        EventOutcome::Unmatched,
    ];
    for (i, outcome) in outcomes.iter().enumerate() {
        let at = t(10 + i as i64);
        let linked = (*outcome == EventOutcome::Applied).then_some(&o);
        let rec = event(&format!("evt_{i}"), linked, *outcome, at);
        assert_eq!(
            s.commit_event(commit(&rec, None)).await.unwrap(),
            CommitOutcome::Committed
        );
    }
    let unmatched = EventSearch {
        outcome: Some(EventOutcome::Unmatched),
        ..EventSearch::default()
    };
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s
            .search_events(&unmatched, 2, cursor.as_deref())
            .await
            .unwrap();
        got.extend(page.events.iter().map(|e| e.event_id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, ["evt_4", "evt_2", "evt_0"]);
    let all = s
        .search_events(&EventSearch::default(), 10, None)
        .await
        .unwrap();
    let ids: Vec<&str> = all.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["evt_4", "evt_3", "evt_2", "evt_1", "evt_0"]);
    assert_eq!(all.events[3].order_id.as_ref(), Some(o.id()));
    assert_eq!(all.events[3].event_type, "payment.captured");
    assert!(all.next_cursor.is_none());
    let window = EventSearch {
        outcome: Some(EventOutcome::Unmatched),
        from: Some(t(11)),
        to: Some(t(14)),
    };
    let found = s.search_events(&window, 10, None).await.unwrap();
    let ids: Vec<&str> = found.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["evt_2"]);
}
/// `order` with a refund `rf` of 100 asked for at `at` (its send lease held a minute).
fn with_refund(o: &Order, rf: &str, at: Timestamp) -> Order {
    let mut next = o.clone();
    next.request_refund(
        NewRefund {
            refund_id: rf.into(),
            amount: Some(100),
            reason: None,
            requested_by: "admin".into(),
            idempotency_key: Some(format!("key-{rf}")),
            request_hash: None,
        },
        at,
        at.plus(Duration::from_secs(60)),
    )
    .unwrap();
    next
}

/// The provider accepted `rf` at `at` as `re_<rf>`; its check is due at `check_at`.
fn refund_pending(o: &Order, rf: &str, at: Timestamp, check_at: Timestamp) -> Order {
    let mut next = o.clone();
    next.record_refund_sent(
        rf,
        &ProviderRefund {
            provider_refund_id: format!("re_{rf}"),
            status: ProviderRefundStatus::Pending,
            amount: inr(100),
            charge_id: None,
        },
        at,
        check_at,
    )
    .unwrap();
    next
}

async fn the_refund_index_lists_calls_owed_and_pending_checks_due_earliest_first(b: Backend) {
    let h = store(b, vec![product("A", 5)]).await;
    let s = h.store.as_ref();
    let mut saved = Vec::new();
    for (i, user) in ["u1", "u2", "u3"].into_iter().enumerate() {
        let o = order(user, t(i as i64), &[("A", 1)]);
        s.create_order(&o, None, t(0)).await.unwrap();
        let p = paid(&o, &format!("pay_{i}"), t(1));
        assert!(s.save_order(&p, o.version(), None).await.unwrap());
        saved.push(p);
    }
    assert!(
        s.owed_refunds(t(100_000), 10).await.unwrap().is_empty(),
        "paid, nothing owed"
    );
    let [a, b2, c] = [saved[0].clone(), saved[1].clone(), saved[2].clone()];

    // a: a call owed since 100. b: accepted at 50, its check due at 650. c: a call owed since
    // 300, and a pending refund checked at 200.
    let a2 = with_refund(&a, "rf_a", t(100));
    assert!(s.save_order(&a2, a.version(), None).await.unwrap());
    let b3 = refund_pending(&with_refund(&b2, "rf_b", t(40)), "rf_b", t(50), t(650));
    assert!(s.save_order(&b3, b2.version(), None).await.unwrap());
    let c2 = refund_pending(&with_refund(&c, "rf_c1", t(150)), "rf_c1", t(160), t(200));
    let c3 = with_refund(&c2, "rf_c2", t(300));
    assert!(s.save_order(&c3, c.version(), None).await.unwrap());

    let ids = |os: &[&Order]| os.iter().map(|o| o.id().clone()).collect::<Vec<_>>();
    assert_eq!(
        s.owed_refunds(t(100), 10).await.unwrap(),
        ids(&[]),
        "before is exclusive"
    );
    assert_eq!(s.owed_refunds(t(101), 10).await.unwrap(), ids(&[&a2]));
    assert_eq!(s.owed_refunds(t(650), 10).await.unwrap(), ids(&[&a2, &c3]));
    assert_eq!(
        s.owed_refunds(t(651), 10).await.unwrap(),
        ids(&[&a2, &c3, &b3]),
        "the earliest due first"
    );
    assert_eq!(s.owed_refunds(t(651), 2).await.unwrap(), ids(&[&a2, &c3]));

    // b's check found it still pending: due again later.
    let mut b4 = b3.clone();
    b4.record_refund_still_pending("rf_b", t(1_250)).unwrap();
    assert!(s.save_order(&b4, b3.version(), None).await.unwrap());
    assert_eq!(
        s.owed_refunds(t(1_000), 10).await.unwrap(),
        ids(&[&a2, &c3])
    );
    assert_eq!(
        s.owed_refunds(t(1_251), 10).await.unwrap(),
        ids(&[&a2, &c3, &b4])
    );

    // Settled by its webhook: b leaves the index.
    let mut b5 = b4.clone();
    b5.record_refunds(
        &RefundReport {
            payment_id: Some("pay_1".into()),
            refunds: vec![("re_rf_b".into(), inr(100))],
            charge: None,
            our_ids: vec![("re_rf_b".into(), "rf_b".into())],
        },
        t(1_300),
    )
    .unwrap();
    assert!(s.save_order(&b5, b4.version(), None).await.unwrap());
    assert_eq!(
        s.owed_refunds(t(100_000), 10).await.unwrap(),
        ids(&[&a2, &c3])
    );
}
