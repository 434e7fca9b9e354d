//! Catalog products: what can be ordered, at what price, and how many are left; and the record
//! kept of every stock adjustment an operator makes.

use serde::{Deserialize, Serialize};

use crate::ids::{Sku, UserId};
use crate::money::Money;
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub unit_price: Money,
    /// Units that can still be reserved by new orders.
    pub available: u32,
}

/// One change of a product's stock made by an operator (a restock, a write-off), kept for
/// audit. Stock that orders take and give back is accounted for on the orders, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRecord {
    pub sku: Sku,
    /// 1 for the product's first adjustment and one more for each after it: the ledger's
    /// order, whatever the clocks of the writers say.
    pub number: u64,
    pub at: Timestamp,
    /// The operator: the admin's `sub`.
    pub by: UserId,
    /// Units added (positive) or removed (negative); never 0.
    pub delta: i64,
    pub reason: String,
    /// `available` right after the adjustment.
    pub level: u32,
}
