//! The DynamoDB store: every [`OrderStore`](oms_core::ports::OrderStore) operation on one
//! table, as `docs/data-model.md` describes it.
//!
//! | item | PK | SK | indexes |
//! |---|---|---|---|
//! | order | `ORDER#<id>` | `ORDER` | GSI1 `USER#<sub>` / `<createdAt>#<id>`; GSI2 `UNPAID` / `<expiresAt>#<id>` while unpaid, `REFUND_OWED` / `<due>#<id>` while refund work is owed (a `requested` refund: its `requestedAt`; a `pending` one: its `checkAt`; the earliest); GSI3 `ATTENTION` (held or disputed) or `STATUS#<status>` / `<createdAt>#<id>` |
//! | product | `PRODUCT#<sku>` | `PRODUCT` | GSI2 `PRODUCT` / `<sku>` |
//! | stock adjustment | `PRODUCT#<sku>` | `STOCK#<number, 20 digits>` | |
//! | payment reference | `PAYREF#<provider>#<providerId>` | `PAYREF` | |
//! | provider event | `EVENT#<provider>#<eventId>` | `EVENT` | GSI1 `EVENTS#<orderId>`; GSI3 `OUTCOME#<outcome>` / `<receivedAt>#<provider>#<eventId>`; TTL |
//! | idempotency key | `IDEMP#<scope>` | `IDEMP` | TTL |
//! | fulfilment outbox | `OUTBOX#<orderId>` | `OUTBOX` | GSI2 `OUTBOX` / `<createdAt>#<id>` |
//!
//! Writes that must hold together are one `TransactWriteItems`; a cancelled transaction is
//! decoded from its cancellation reasons (which carry the old item, thanks to
//! `ReturnValuesOnConditionCheckFailure = ALL_OLD`) into the port's typed outcomes.
//!
//! The parts: `keys` builds the keys above, `items` turns records into items and back,
//! `transactions` builds and runs the conditional writes, `errors` maps SDK failures to
//! [`StoreError`](oms_core::ports::StoreError), and `store` is [`DynamoStore`]'s
//! [`OrderStore`](oms_core::ports::OrderStore) implementation on top of them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

mod errors;
/// Item codecs. Public (and hidden from the docs) only so `tests/stored_shape.rs`, which as an
/// integration test sees nothing `pub(crate)`, can pin the exact shape the store writes; not an
/// API for other crates.
#[doc(hidden)]
pub mod items;
mod keys;
mod search;
mod store;
mod transactions;

pub(crate) use errors::sdk_error;

/// The store on one DynamoDB table (`TABLE_NAME`). Its operations are in `store`, the
/// conditional writes they share in `transactions`.
#[derive(Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// Index entries evaluated per `Query` page of a filtered search, and pages per partition.
    search_budget: (i32, usize),
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            search_budget: search::BUDGET,
        }
    }

    /// The same store with a filtered search reading `page` index entries a `Query` and at
    /// most `pages` pages per partition before it answers (tests use tiny budgets to reach
    /// the limit).
    pub fn with_search_budget(mut self, page: i32, pages: usize) -> Self {
        self.search_budget = (page.max(1), pages.max(1));
        self
    }
}

/// A DynamoDB item: attribute name to value, as the SDK reads and writes it.
pub(crate) type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
