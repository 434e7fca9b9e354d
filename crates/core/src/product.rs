//! Catalog products: what can be ordered, at what price, and how many are left.

use serde::{Deserialize, Serialize};

use crate::ids::Sku;
use crate::money::Money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub unit_price: Money,
    /// Units that can still be reserved by new orders.
    pub available: u32,
}
