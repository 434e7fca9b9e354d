//! The store guarantees order creation relies on, checked on the in-memory store. Each check is
//! a function over `&dyn OrderStore` so the same bodies can run against any backend.

use std::sync::Arc;
use std::time::Duration;

use oms_core::customer::{CountryCode, Customer, Email, ShippingAddress};
use oms_core::order::OrderDraft;
use oms_core::ports::{CreateOutcome, IdGenerator, IdempotencyRecord, OrderStore, StoreError};
use oms_core::{
    Currency, Money, Order, OrderId, OrderLine, OrderNumber, Owner, PaymentInfo, Product,
    ProviderKind, Quantity, Sku, Timestamp, UserId,
};
use oms_memory::{InMemoryStore, RandomIds};

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

fn product(sku: &str, available: u32) -> Product {
    Product {
        sku: Sku::parse(sku).unwrap(),
        name: sku.into(),
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
        response: "{}".into(),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(86_400)),
    }
}

async fn available(store: &dyn OrderStore, sku: &str) -> u32 {
    store
        .get_products(&[Sku::parse(sku).unwrap()])
        .await
        .unwrap()[0]
        .available
}

#[tokio::test]
async fn creation_reserves_every_line_or_none() {
    let store = InMemoryStore::new([product("A", 5), product("B", 1)]);
    let o = order("u1", t(0), &[("A", 2), ("B", 2)]);
    match store.create_order(&o, None, t(0)).await.unwrap() {
        CreateOutcome::InsufficientStock(s) => {
            assert_eq!(s.len(), 1);
            assert_eq!(
                (s[0].sku.as_str(), s[0].requested, s[0].available),
                ("B", 2, 1)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(available(&store, "A").await, 5);
    assert!(store.get_order(o.id()).await.unwrap().is_none());

    let ok = order("u1", t(1), &[("A", 2), ("B", 1)]);
    assert_eq!(
        store.create_order(&ok, None, t(1)).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        (available(&store, "A").await, available(&store, "B").await),
        (3, 0)
    );
    assert_eq!(store.get_order(ok.id()).await.unwrap().unwrap(), ok);
    assert_eq!(
        store.order_for_payment_ref(ProviderKind::Razorpay, &ok.payment().provider_order_id),
        Some(ok.id().clone())
    );
}

#[tokio::test]
async fn an_unknown_sku_is_short_with_zero_available() {
    let store = InMemoryStore::new([product("A", 5)]);
    let o = order("u1", t(0), &[("GHOST", 1)]);
    assert!(
        matches!(store.create_order(&o, None, t(0)).await.unwrap(), CreateOutcome::InsufficientStock(s) if s[0].available == 0)
    );
}

#[tokio::test]
async fn a_live_idempotency_key_blocks_a_second_order_and_an_expired_one_does_not() {
    let store = InMemoryStore::new([product("A", 10)]);
    let first = order("u1", t(0), &[("A", 1)]);
    let rec = record("user:u1#k", &first, t(0));
    assert_eq!(
        store.create_order(&first, Some(&rec), t(0)).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        store.get_idempotency("user:u1#k", t(1)).await.unwrap(),
        Some(rec.clone())
    );

    let second = order("u1", t(2), &[("A", 1)]);
    let rec2 = record("user:u1#k", &second, t(2));
    assert_eq!(
        store
            .create_order(&second, Some(&rec2), t(2))
            .await
            .unwrap(),
        CreateOutcome::IdempotencyKeyTaken(rec.clone())
    );
    assert_eq!(
        available(&store, "A").await,
        9,
        "the refused order reserved nothing"
    );

    let later = t(86_401);
    assert_eq!(
        store.get_idempotency("user:u1#k", later).await.unwrap(),
        None
    );
    let third = order("u1", later, &[("A", 1)]);
    let rec3 = record("user:u1#k", &third, later);
    assert_eq!(
        store
            .create_order(&third, Some(&rec3), later)
            .await
            .unwrap(),
        CreateOutcome::Created
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_never_take_more_stock_than_exists() {
    const N: u32 = 30;
    let store = Arc::new(InMemoryStore::new([product("A", N)]));
    let tasks: Vec<_> = (0..N + 25)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let o = order("u1", t(i64::from(i)), &[("A", 1)]);
                store.create_order(&o, None, t(0)).await.unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if task.await.unwrap() == CreateOutcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, N);
    assert_eq!(available(store.as_ref(), "A").await, 0);
}

#[tokio::test]
async fn a_users_orders_page_newest_first_and_foreign_cursors_are_refused() {
    let store = InMemoryStore::new([product("A", 100)]);
    let mut mine = Vec::new();
    for i in 0..5 {
        let o = order("u1", t(i), &[("A", 1)]);
        store.create_order(&o, None, t(i)).await.unwrap();
        mine.push(o.id().clone());
        let other = order("u2", t(i), &[("A", 1)]);
        store.create_order(&other, None, t(i)).await.unwrap();
    }
    mine.reverse();
    let u1 = UserId::parse("u1").unwrap();
    let p1 = store.list_orders_for_user(&u1, 2, None).await.unwrap();
    let p2 = store
        .list_orders_for_user(&u1, 2, p1.next_cursor.as_deref())
        .await
        .unwrap();
    let p3 = store
        .list_orders_for_user(&u1, 2, p2.next_cursor.as_deref())
        .await
        .unwrap();
    assert!(p3.next_cursor.is_none());
    let got: Vec<OrderId> = [p1, p2, p3]
        .iter()
        .flat_map(|p| p.orders.iter().map(|o| o.id().clone()))
        .collect();
    assert_eq!(got, mine);
    assert_eq!(
        store
            .list_orders_for_user(&u1, 2, Some("not-a-cursor"))
            .await
            .unwrap_err(),
        StoreError::InvalidCursor
    );
}
