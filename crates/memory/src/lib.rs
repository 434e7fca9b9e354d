//! Local adapters: an in-memory store that keeps every guarantee the DynamoDB store gives
//! (all-or-nothing order creation, no oversell, live idempotency keys), queue, publisher,
//! invoices and secrets, the demo catalog, and a settable clock. The test kit — order
//! fixtures and the fault plan that wraps any port — is behind the `testkit` feature, for
//! tests and the dev server's fault injection, never a Lambda.

mod catalog;
mod clock;
mod downloads;
#[cfg(feature = "testkit")]
mod faults;
#[cfg(feature = "testkit")]
pub mod fixtures;
mod invoices;
#[cfg(feature = "testkit")]
mod logs;
mod queue;
mod secrets;
mod store;

pub use catalog::{CatalogError, demo_catalog, parse_catalog};
pub use clock::ManualClock;
pub use downloads::NoDownloadFiles;
#[cfg(feature = "testkit")]
pub use faults::{Fault, FaultPlan, Faulty, FaultyCarrier, FaultyQueue};
pub use invoices::InMemoryInvoices;
#[cfg(feature = "testkit")]
pub use logs::CapturedLogs;
pub use queue::{InMemoryPublisher, InMemoryQueue};
pub use secrets::{NoCredentials, StaticSecrets};
pub use store::InMemoryStore;
