//! One contract for the store port, run against the in-memory store and against DynamoDB on
//! the local AWS API server: the same test bodies, two backends.

mod common;

use std::time::Duration;

use common::{Backend, store};
use oms_app::system::RandomIds;
use oms_core::customer::{CountryCode, Customer, Email, ShippingAddress};
use oms_core::order::{OrderDraft, PaymentCapture};
use oms_core::ports::{
    CommitOutcome, CreateOutcome, EventCommit, EventOutcome, EventRecord, EventSource, IdGenerator,
    IdempotencyRecord, OrderStore, OutboxEntry, StockLevel, StoreError, Upserted,
};
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

async fn a_reinstatement_takes_stock_again_or_changes_nothing(b: Backend) {
    let h = store(b, vec![product("A", 1)]).await;
    let s = h.store.as_ref();
    let o = order("u1", t(0), &[("A", 1)]);
    s.create_order(&o, None, t(0)).await.unwrap();
    let mut cancelled = o.clone();
    cancelled.cancel("stale", t(1)).unwrap();
    assert!(s.cancel_order(&cancelled, o.version()).await.unwrap());
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
    assert!(!s.cancel_order(&cancelled, o.version()).await.unwrap());
    assert_eq!(available(s, "A").await, 1);
    assert_eq!(
        s.get_order(o.id()).await.unwrap().unwrap().status(),
        OrderStatus::Paid
    );

    let o2 = order("u1", t(3), &[("A", 1)]);
    s.create_order(&o2, None, t(3)).await.unwrap();
    let mut c2 = o2.clone();
    c2.cancel("stale", t(4)).unwrap();
    assert!(s.cancel_order(&c2, o2.version()).await.unwrap());
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
    s.clear_outbox(&id).await.unwrap();
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
    assert!(s.save_order(&p, o.version(), None).await.unwrap());
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
        s.issue_invoice(&invoiced, p.version(), 2).await.unwrap(),
        InvoiceOutcome::NumberTaken,
        "numbers cannot skip"
    );
    assert_eq!(
        s.issue_invoice(&invoiced, o.version(), 1).await.unwrap(),
        InvoiceOutcome::VersionConflict
    );
    assert_eq!(
        s.last_invoice_number().await.unwrap(),
        0,
        "a refused issue moves nothing"
    );
    assert_eq!(
        s.issue_invoice(&invoiced, p.version(), 1).await.unwrap(),
        InvoiceOutcome::Issued
    );
    assert_eq!(s.last_invoice_number().await.unwrap(), 1);
    assert_eq!(
        s.issue_invoice(&invoiced, p.version(), 1).await.unwrap(),
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
