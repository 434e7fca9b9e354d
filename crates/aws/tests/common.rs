//! Shared set-up for the AWS adapter tests: clients for the local AWS API server that
//! `./scripts/test` starts, and stores on either backend.
//!
//! A test that needs that server is `#[ignore = "needs the local AWS API server: ./scripts/test"]`,
//! so plain `cargo test` runs only what works offline; `./scripts/test` starts the server and
//! runs them all (`-- --include-ignored`). Run by hand without it, such a test fails in
//! [`clients`], saying what is missing.

#![allow(dead_code)]

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use oms_app::system::RandomIds;
use oms_aws::{AwsClients, DynamoStore, bootstrap};
use oms_core::ports::{IdGenerator, OrderStore};
use oms_core::{Product, Timestamp};
use oms_memory::InMemoryStore;

/// Clients for the local AWS API server. Without one these tests cannot run, and say so.
pub async fn clients() -> AwsClients {
    let Ok(url) = std::env::var("AWS_ENDPOINT_URL") else {
        panic!(
            "AWS_ENDPOINT_URL is not set: these tests need the local AWS API server that ./scripts/test starts \
             (run ./scripts/test, or start moto_server and export AWS_ENDPOINT_URL and dummy credentials)"
        );
    };
    // A server that was exported but has stopped would otherwise surface as the SDK's retried
    // "dispatch failure", far from its cause.
    let local = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|host_port| host_port.to_socket_addrs().ok())
        .and_then(|mut addrs| addrs.next());
    if let Some(addr) = local {
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok(),
            "nothing answers at AWS_ENDPOINT_URL={url}: these tests need the local AWS API server \
             that ./scripts/test starts"
        );
    }
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

/// Runs an async contract check on both backends: `name::in_memory` and `name::on_dynamodb`
/// (ignored unless asked for: it needs the local AWS API server).
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
                #[ignore = "needs the local AWS API server: ./scripts/test"]
                async fn on_dynamodb() {
                    super::$name(super::common::Backend::Dynamo).await
                }
            }
        )*
    };
}
