//! The order-and-payment domain: ids, money, orders and their lifecycle, the ports the rest of
//! the system plugs adapters into, and the use cases that drive them.
//!
//! This crate does no I/O and owns no clock or randomness: time comes from [`ports::Clock`],
//! identifiers and secrets from [`ports::IdGenerator`], and every side effect goes through a
//! port. Lambdas and the dev server are thin adapters around it.

pub mod app;
pub mod customer;
pub mod ids;
pub mod invoice;
pub mod money;
pub mod order;
pub mod ports;
pub mod product;
pub mod search;
pub mod secret;
pub mod time;
pub mod tracking;
pub mod validation;
pub mod webhook;

pub use customer::{Customer, Email, ShippingAddress};
pub use ids::{AccessToken, IdempotencyKey, OrderId, OrderNumber, Sku, TokenHash, UserId};
pub use money::{Currency, Money, MoneyError};
pub use order::{
    InvoiceInfo, Order, OrderLine, OrderStatus, Owner, PaymentInfo, ProviderKind, Quantity,
    ReviewReason, ShipmentInfo, TimelineEntry, TimelineType, TransitionError,
};
pub use product::{Product, StockRecord};
pub use secret::Secret;
pub use time::Timestamp;
pub use validation::{FieldError, ValidationErrors};
