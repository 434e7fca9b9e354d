//! Local adapters: an in-memory store that keeps every guarantee the DynamoDB store gives
//! (all-or-nothing order creation, no oversell, live idempotency keys), and a settable clock for
//! tests.

mod catalog;
mod clock;
mod faults;
pub mod fixtures;
mod invoices;
mod queue;
mod secrets;
mod store;

pub use catalog::{CatalogError, demo_catalog, parse_catalog};
pub use clock::ManualClock;
pub use faults::{Fault, FaultPlan, Faulty, FaultyQueue};
pub use invoices::InMemoryInvoices;
pub use queue::{InMemoryPublisher, InMemoryQueue};
pub use secrets::StaticSecrets;
pub use store::InMemoryStore;
