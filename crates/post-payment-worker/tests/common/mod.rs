//! What the worker's test binaries share: a worker on in-memory adapters with the
//! integrations in their dry runs, and paid orders for it to fulfil.

use std::sync::Arc;

use oms_app::config::{Env, FulfilmentConfig};
use oms_core::ports::OrderStore;
use oms_core::{Currency, Money, OrderId, Product, Sku, Timestamp};
use oms_memory::{InMemoryInvoices, InMemoryPublisher, InMemoryStore, ManualClock, fixtures};
use post_payment_worker::Worker;

pub fn inr(m: i64) -> Money {
    Money::new(m, Currency::parse("INR").unwrap()).unwrap()
}

pub struct World {
    pub worker: Worker,
    pub store: Arc<InMemoryStore>,
    pub publisher: Arc<InMemoryPublisher>,
}

pub fn world(max_receives: u32) -> World {
    let store = Arc::new(InMemoryStore::new([Product {
        sku: Sku::parse("A").unwrap(),
        name: "A".into(),
        unit_price: inr(1_000),
        available: 10,
    }]));
    let publisher = Arc::new(InMemoryPublisher::default());
    let config = FulfilmentConfig::read(&Env::from_pairs(&[])).unwrap();
    let mut ports = oms_app::wiring::fulfilment(&config, Arc::new(InMemoryInvoices::default()));
    ports.max_receives = max_receives;
    World {
        worker: Worker {
            store: store.clone(),
            publisher: publisher.clone(),
            // Shiprocket's dry run, as the offline configuration has it.
            carrier: oms_app::wiring::carrier(&oms_app::config::Config::offline().shipping),
            clock: Arc::new(ManualClock::at(Timestamp::from_unix_millis(
                1_800_000_000_000,
            ))),
            ports,
        },
        store,
        publisher,
    }
}

pub async fn paid_order(store: &InMemoryStore, n: u8) -> OrderId {
    let t = Timestamp::from_unix_millis(1_800_000_000_000);
    let o = fixtures::order(
        &format!("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ{n}"),
        "u",
        &[("A", 1, 1_000)],
        t,
    );
    store.create_order(&o, None, t).await.unwrap();
    assert!(
        store
            .save_order(
                &fixtures::paid(&o, &format!("pay_{n}"), t),
                o.version(),
                None
            )
            .await
            .unwrap()
    );
    o.id().clone()
}
