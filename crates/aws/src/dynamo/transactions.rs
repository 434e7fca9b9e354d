//! The conditional-write engine: the `Put`/`Update` pieces every multi-item write is made of
//! (an order put conditioned on its version, stock taken or given back), running one
//! `TransactWriteItems` with retries on conflicts, and reading a cancelled transaction's
//! reasons back into what failed (a condition, and which item; or a conflict that would not
//! clear).

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use oms_core::ports::{StockShortage, StoreError};
use oms_core::{Order, Sku};

use super::errors::{build, sdk_error};
use super::items::order_item;
use super::keys::{key, product_pk};
use super::{DynamoStore, Item, n};

/// Conflicting transactions (two writers on one item at once) are retried this many times
/// before the caller sees a retryable error.
const TRANSACTION_ATTEMPTS: u32 = 6;

/// The reason a cancelled transaction gives for item `i`.
pub(super) fn reason(reasons: &[CancellationReason], i: usize) -> Option<&str> {
    reasons
        .get(i)
        .and_then(CancellationReason::code)
        .filter(|c| *c != "None")
}

/// What a cancelled transaction means, item by item.
pub(super) enum Cancelled {
    /// Some item's condition failed: the caller decodes which.
    Conditions(Vec<CancellationReason>),
    /// Another transaction touched an item at the same time: retry.
    Conflict,
}

impl DynamoStore {
    /// A put of `item` that hands back the old item when its condition fails.
    pub(super) fn put(&self, item: Item) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    /// Put `order` only if the stored one is still at `expected` (the version it was computed
    /// from): how every order write after creation is conditioned.
    pub(super) fn put_order_if(&self, order: &Order, expected: u64) -> Result<Put, StoreError> {
        build(
            self.put(order_item(order)?)
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(expected))
                .build(),
        )
    }

    /// `SET available = available - :q` if at least `:q` are available.
    pub(super) fn take_stock(&self, sku: &Sku, q: u32) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .update(build(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(product_pk(sku), "PRODUCT")))
                    .update_expression("SET available = available - :q")
                    .condition_expression("available >= :q")
                    .expression_attribute_values(":q", n(q))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build(),
            )?)
            .build())
    }

    /// `SET available = available + :q` on a product that exists: stock given back.
    pub(super) fn give_stock(&self, sku: &Sku, q: u32) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .update(build(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(product_pk(sku), "PRODUCT")))
                    .update_expression("SET available = available + :q")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":q", n(q))
                    .build(),
            )?)
            .build())
    }

    /// Runs one transaction, retrying conflicts with another writer.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        op: &str,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let e = match res {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            let reasons = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().to_vec()
                }
                _ => return Err(sdk_error(op, e)),
            };
            let conflict = reasons
                .iter()
                .any(|r| matches!(r.code(), Some("TransactionConflict" | "ThrottlingError")));
            let failed_condition = reasons
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed"));
            if failed_condition {
                return Ok(Err(Cancelled::Conditions(reasons)));
            }
            if !conflict {
                return Err(StoreError::Backend(format!(
                    "{op}: transaction cancelled: {reasons:?}"
                )));
            }
            let backoff =
                Duration::from_millis(10 * 2u64.pow(attempt) + u64::from(attempt * 7 % 11));
            tracing::debug!(op, attempt, "transaction conflict; retrying");
            tokio::time::sleep(backoff).await;
        }
        Ok(Err(Cancelled::Conflict))
    }
}

/// The lines whose stock update failed its condition, with what the old item said was left.
pub(super) fn shortages(
    order: &Order,
    reasons: &[CancellationReason],
    first_line_index: usize,
) -> Vec<StockShortage> {
    order
        .lines()
        .iter()
        .enumerate()
        .filter(|(i, _)| reason(reasons, first_line_index + i) == Some("ConditionalCheckFailed"))
        .map(|(i, line)| StockShortage {
            sku: line.sku.clone(),
            requested: line.quantity.get(),
            available: reasons[first_line_index + i]
                .item()
                .and_then(|it| it.get("available"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
        .collect()
}
