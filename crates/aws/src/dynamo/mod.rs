//! The DynamoDB store: every [`OrderStore`](oms_core::ports::OrderStore) operation on one
//! table, as `docs/data-model.md` describes it.
//!
//! | item | PK | SK | indexes |
//! |---|---|---|---|
//! | order | `ORDER#<id>` | `ORDER` | GSI1 `USER#<sub>` / `<createdAt>#<id>`; GSI2 `UNPAID` / `<expiresAt>#<id>` while unpaid, `REFUND_OWED` / `<due>#<id>` while refund work is owed (a `requested` refund: its `requestedAt`; a `pending` one: its `checkAt`; the earliest) |
//! | product | `PRODUCT#<sku>` | `PRODUCT` | GSI2 `PRODUCT` / `<sku>` |
//! | stock adjustment | `PRODUCT#<sku>` | `STOCK#<number, 20 digits>` | |
//! | payment reference | `PAYREF#<provider>#<providerId>` | `PAYREF` | |
//! | provider event | `EVENT#<provider>#<eventId>` | `EVENT` | TTL |
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
mod store;
mod transactions;

pub(crate) use errors::sdk_error;

/// The store on one DynamoDB table (`TABLE_NAME`). Its operations are in `store`, the
/// conditional writes they share in `transactions`.
#[derive(Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
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
