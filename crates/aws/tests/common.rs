//! Shared set-up for the AWS adapter tests: clients for the local AWS API server that
//! `./scripts/test` starts, and stores on either backend.

#![allow(dead_code)]

use std::sync::Arc;

use oms_app::system::RandomIds;
use oms_aws::{AwsClients, DynamoStore, bootstrap};
use oms_core::ports::{IdGenerator, OrderStore};
use oms_core::{Product, Timestamp};
use oms_memory::InMemoryStore;

/// Clients for the local AWS API server. Without one these tests cannot run, and say so.
pub async fn clients() -> AwsClients {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: these tests need the local AWS API server that ./scripts/test starts \
         (run ./scripts/test, or start moto_server and export AWS_ENDPOINT_URL and dummy credentials)"
    );
    AwsClients::from_env().await
}

/// A fresh, uniquely named resource name, so tests never share state.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        RandomIds
            .ulid(Timestamp::from_unix_millis(0))
            .to_lowercase()
    )
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    Dynamo,
}

pub struct Harness {
    pub store: Arc<dyn OrderStore>,
    /// The DynamoDB store, for checks on raw items.
    pub dynamo: Option<DynamoStore>,
}

/// A store of `backend` holding `products`.
pub async fn store(backend: Backend, products: Vec<Product>) -> Harness {
    match backend {
        Backend::Memory => Harness {
            store: Arc::new(InMemoryStore::new(products)),
            dynamo: None,
        },
        Backend::Dynamo => {
            let clients = clients().await;
            let table = unique("orders");
            bootstrap::ensure_table(&clients, &table)
                .await
                .expect("table is created");
            let store = DynamoStore::new(clients.dynamodb.clone(), table);
            store
                .put_products(&products)
                .await
                .expect("products are written");
            Harness {
                store: Arc::new(store.clone()),
                dynamo: Some(store),
            }
        }
    }
}

/// Runs an async contract check on both backends: `name::in_memory` and `name::on_dynamodb`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn in_memory() {
                    super::$name(super::common::Backend::Memory).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_dynamodb() {
                    super::$name(super::common::Backend::Dynamo).await
                }
            }
        )*
    };
}
