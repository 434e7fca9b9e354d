//! Operators' catalog: `PUT /admin/products/{sku}` creates a product or reprices it, and
//! `POST /admin/products/{sku}/stock` restocks or writes off, keeping a record of who changed
//! the stock, when, by how much and why; `GET` of the same lists those records. The rules are
//! here; the store makes each change atomic.
//!
//! Stock only moves through adjustments (and orders): a `PUT` of a known product ignores any
//! `available` it carries, so reloading a catalog file never resets what was sold or counted.

use serde::Deserialize;

use crate::customer::text_field;
use crate::ids::{Sku, UserId};
use crate::money::{Currency, MAX_MINOR, Money};
use crate::ports::{Clock, OrderStore, StockShortage, StoreError, Upserted};
use crate::product::{Product, StockRecord};
use crate::validation::{Collector, ValidationErrors, bounded_text};

use super::read::{DEFAULT_PAGE, MAX_PAGE};
use super::retry::{Contended, Retry};

/// Largest stock one adjustment may add or remove.
pub const MAX_DELTA: i64 = 1_000_000;
/// Most units a product may hold: far above any shop's stock, far below `u32::MAX`, so a
/// restock can never wrap.
pub const MAX_AVAILABLE: u32 = 1_000_000_000;
/// Longest `reason` of an adjustment, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// Races an adjustment may lose before it gives up on a product that keeps changing under it.
/// Not [`super::retry::MAX_ATTEMPTS`]: that bounds the writers of one order, while every order
/// and adjustment of a product races for its stock. Each lost race means another writer took or
/// added units, and a write-off can only lose as many times as there are units to take, so
/// concurrent write-offs on a small stock (twenty at once on ten units, in the tests) all get
/// an answer instead of a 503.
const ADJUST_ATTEMPTS: usize = 25;

/// The JSON body of `PUT /admin/products/{sku}`. Loose types on purpose: [`ProductInput::parse`]
/// names every field that breaks a rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductInput {
    pub name: String,
    /// Minor units (paise for INR).
    pub unit_price: i64,
    pub currency: String,
    /// Initial stock, honoured only when the product is created (default 0).
    #[serde(default)]
    pub available: Option<i64>,
}

/// The JSON body of `POST /admin/products/{sku}/stock`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockInput {
    pub delta: i64,
    pub reason: String,
}

/// A well-formed adjustment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChange {
    pub sku: Sku,
    pub delta: i64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid request: {0}")]
    Validation(#[from] ValidationErrors),
    #[error("no such product")]
    NotFound,
    /// A write-off larger than the stock: nothing changed.
    #[error("insufficient stock")]
    InsufficientStock(StockShortage),
    /// The product kept changing between each read and write: retrying is safe.
    #[error("the product kept changing; try again")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Contended> for CatalogError {
    fn from(_: Contended) -> Self {
        Self::Contention
    }
}

/// A SKU as a path names it. `.` and `..` are valid SKU characters but, alone, are path
/// segments a URL resolves away, so no client could address such a product.
fn sku(raw: &str) -> Result<Sku, String> {
    let sku = Sku::parse(raw).map_err(|e| e.to_string())?;
    if matches!(raw, "." | "..") {
        return Err("must not be '.' or '..'".into());
    }
    Ok(sku)
}

/// Parses the SKU of a route whose body carries nothing else to check.
fn sku_only(raw: &str) -> Result<Sku, ValidationErrors> {
    sku(raw).map_err(|m| ValidationErrors::single("sku", m))
}

impl ProductInput {
    /// The product to create (or to reprice) under `raw_sku`, every broken rule named at once.
    /// Its `available` is the initial stock, 0 unless given.
    pub fn parse(self, raw_sku: &str) -> Result<Product, ValidationErrors> {
        let mut c = Collector::new();
        let sku = c.take("sku", sku(raw_sku));
        let name = c.take("name", text_field(&self.name));
        let currency = c.take("currency", Currency::parse(&self.currency));
        // A price of 0 could not be charged: the providers refuse to open a payment for nothing.
        let price = if !(1..=MAX_MINOR).contains(&self.unit_price) {
            c.push(
                "unitPrice",
                format!("must be a whole number of minor units (e.g. paise) from 1 to {MAX_MINOR}"),
            );
            None
        } else {
            currency.and_then(|cur| c.take("unitPrice", Money::new(self.unit_price, cur)))
        };
        let available = match self.available {
            None => Some(0),
            Some(n) => c.take(
                "available",
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n <= MAX_AVAILABLE)
                    .ok_or_else(|| format!("must be a whole number from 0 to {MAX_AVAILABLE}")),
            ),
        };
        c.finish()?;
        match (sku, name, price, available) {
            (Some(sku), Some(name), Some(unit_price), Some(available)) => Ok(Product {
                sku,
                name,
                unit_price,
                available,
            }),
            // Every `None` above recorded an error, so `finish` already returned.
            _ => Err(ValidationErrors::single("body", "is invalid")),
        }
    }
}

impl StockInput {
    pub fn parse(self, raw_sku: &str) -> Result<StockChange, ValidationErrors> {
        let mut c = Collector::new();
        let sku = c.take("sku", sku(raw_sku));
        if self.delta == 0 {
            c.push("delta", "must not be 0");
        } else if self.delta.unsigned_abs() > MAX_DELTA.unsigned_abs() {
            c.push(
                "delta",
                format!("must be between -{MAX_DELTA} and {MAX_DELTA}"),
            );
        }
        let reason = c.take("reason", bounded_text(&self.reason, MAX_REASON_CHARS));
        c.finish()?;
        match (sku, reason) {
            (Some(sku), Some(reason)) => Ok(StockChange {
                sku,
                delta: self.delta,
                reason,
            }),
            _ => Err(ValidationErrors::single("body", "is invalid")),
        }
    }
}

/// Why an adjustment cannot apply to the current level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelError {
    /// It would take the stock below zero.
    Short { available: u32 },
    /// It would take the stock above [`MAX_AVAILABLE`].
    AboveMax { level: i64 },
}

/// The stock after adding `delta` to `available`. Only a restock is held to [`MAX_AVAILABLE`]:
/// a write-off from a level above it (a seeded catalog) still goes down.
pub fn next_level(available: u32, delta: i64) -> Result<u32, LevelError> {
    let level = i64::from(available).saturating_add(delta);
    if level < 0 {
        return Err(LevelError::Short { available });
    }
    if delta > 0 && level > i64::from(MAX_AVAILABLE) {
        return Err(LevelError::AboveMax { level });
    }
    u32::try_from(level).map_err(|_| LevelError::AboveMax { level })
}

/// Creates the product under `raw_sku` (with its initial stock) or replaces its name and price.
pub async fn put_product(
    store: &dyn OrderStore,
    admin: &UserId,
    raw_sku: &str,
    input: ProductInput,
) -> Result<Upserted, CatalogError> {
    let asked_available = input.available;
    let product = input.parse(raw_sku)?;
    let outcome = store.upsert_product(&product).await?;
    match &outcome {
        Upserted::Created(p) => {
            tracing::info!(sku = %p.sku, by = %admin, available = p.available, "product created");
        }
        Upserted::Updated(p) => {
            if asked_available.is_some_and(|a| a != i64::from(p.available)) {
                tracing::info!(sku = %p.sku, available = p.available, "available ignored on update: stock changes go through the stock route");
            }
            tracing::info!(sku = %p.sku, by = %admin, "product updated");
        }
    }
    Ok(outcome)
}

/// The product after an adjustment, and the record kept of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjusted {
    pub product: Product,
    pub record: StockRecord,
}

/// Adds `delta` units to a product's stock (removes them when negative), atomically with the
/// record of who did it and why. A write-off larger than the stock changes nothing.
pub async fn adjust_stock(
    store: &dyn OrderStore,
    clock: &dyn Clock,
    admin: &UserId,
    raw_sku: &str,
    input: StockInput,
) -> Result<Adjusted, CatalogError> {
    let change = input.parse(raw_sku)?;
    let mut retry = Retry::new(ADJUST_ATTEMPTS);
    loop {
        let current = store
            .get_stock(&change.sku)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let available = current.product.available;
        let level = match next_level(available, change.delta) {
            Ok(level) => level,
            Err(LevelError::Short { available }) => {
                return Err(CatalogError::InsufficientStock(StockShortage {
                    sku: change.sku,
                    // |delta| <= MAX_DELTA, so it fits.
                    requested: u32::try_from(change.delta.unsigned_abs()).unwrap_or(u32::MAX),
                    available,
                }));
            }
            Err(LevelError::AboveMax { level }) => {
                return Err(ValidationErrors::single(
                    "delta",
                    format!(
                        "would take available to {level}, above the maximum of {MAX_AVAILABLE}"
                    ),
                )
                .into());
            }
        };
        let record = StockRecord {
            sku: change.sku.clone(),
            number: current.adjustments + 1,
            at: clock.now(),
            by: admin.clone(),
            delta: change.delta,
            reason: change.reason.clone(),
            level,
        };
        if store.adjust_stock(&record, available).await? {
            tracing::info!(sku = %record.sku, by = %admin, delta = record.delta, level, number = record.number, "stock adjusted");
            return Ok(Adjusted {
                product: Product {
                    available: level,
                    ..current.product
                },
                record,
            });
        }
        retry.lost_race()?;
    }
}

/// One page of a product's stock records, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockPage {
    pub product: Product,
    pub records: Vec<StockRecord>,
    /// Opaque; hand back unchanged to get the next page.
    pub next_cursor: Option<String>,
}

/// Cursor = hex of `<sku>#<number>` of the last record on the page; a cursor issued for
/// another product is refused.
fn encode_cursor(sku: &Sku, number: u64) -> String {
    hex::encode(format!("{sku}#{number}"))
}

fn decode_cursor(sku: &Sku, cursor: &str) -> Result<u64, StoreError> {
    let raw = hex::decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(raw).map_err(|_| StoreError::InvalidCursor)?;
    let (owner, number) = text.rsplit_once('#').ok_or(StoreError::InvalidCursor)?;
    if owner != sku.as_str() {
        return Err(StoreError::InvalidCursor);
    }
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or(StoreError::InvalidCursor)
}

/// A product and its stock records, newest first. `limit` is clamped to 1..=[`MAX_PAGE`].
pub async fn stock_records(
    store: &dyn OrderStore,
    raw_sku: &str,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<StockPage, CatalogError> {
    let sku = sku_only(raw_sku)?;
    let before = cursor.map(|c| decode_cursor(&sku, c)).transpose()?;
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let product = store
        .get_stock(&sku)
        .await?
        .ok_or(CatalogError::NotFound)?
        .product;
    // One more than asked: its presence says whether a next page exists, so the last page
    // never points at an empty one.
    let mut records = store.stock_records(&sku, before, limit + 1).await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_cursor = match (more, records.last()) {
        (true, Some(last)) => Some(encode_cursor(&sku, last.number)),
        _ => None,
    };
    Ok(StockPage {
        product,
        records,
        next_cursor,
    })
}

#[cfg(test)]
mod tests;
