//! The ports: what the core needs from the outside world, as small traits. Adapters implement
//! them (in memory for tests and the dev server, AWS in production) and are passed in as
//! `Arc<dyn Port>`. No adapter type or SDK error appears here.

use std::sync::Arc;

use async_trait::async_trait;

use crate::customer::Customer;
use crate::ids::{OrderId, OrderNumber, Sku, UserId};
use crate::money::Money;
use crate::order::{Order, OrderLine, PaymentInfo, ProviderKind};
use crate::product::Product;
use crate::time::Timestamp;

/// The current instant. Injected so that every rule about time can be tested.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Identifiers and secrets. Injected so that the core holds no source of randomness.
pub trait IdGenerator: Send + Sync {
    /// A 26-character ULID for `now` (time-ordered, 80 random bits).
    fn ulid(&self, now: Timestamp) -> String;
    /// At least 128 bits of randomness, URL-safe.
    fn secret(&self) -> String;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused for a transient reason (throttling, timeout,
    /// a conflicting transaction): the caller answers 5xx so the client or provider retries.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A pagination cursor the store did not issue.
    #[error("invalid pagination cursor")]
    InvalidCursor,
    /// Data that does not decode into the domain: a bug or a manual edit, never client input.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A stored answer to an idempotent `POST /orders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// `<caller>#<key>`: a key is private to the caller that sent it.
    pub scope: String,
    /// Fingerprint of the request body it answered; another body under the key is refused.
    pub request_hash: String,
    pub order_id: OrderId,
    /// The exact response body that was sent (status 201).
    pub response: String,
    pub created_at: Timestamp,
    /// After this the record is dead even if the store's TTL sweep has not removed it yet.
    pub expires_at: Timestamp,
}

/// One line that could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockShortage {
    pub sku: Sku,
    pub requested: u32,
    pub available: u32,
}

/// The result of [`OrderStore::create_order`]: nothing is written unless it is `Created`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// At least one line could not be reserved; no stock was taken.
    InsufficientStock(Vec<StockShortage>),
    /// A live idempotency record already holds the key (a concurrent or earlier request).
    IdempotencyKeyTaken(IdempotencyRecord),
}

#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Opaque; hand back unchanged to get the next page.
    pub next_cursor: Option<String>,
}

/// Orders, products and idempotency records.
#[async_trait]
pub trait OrderStore: Send + Sync {
    async fn list_products(&self) -> Result<Vec<Product>, StoreError>;

    /// The products with these SKUs; unknown SKUs are simply absent from the answer.
    async fn get_products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError>;

    /// A live (unexpired at `now`) idempotency record.
    async fn get_idempotency(
        &self,
        scope: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// All or nothing: the order (which must not exist), one stock decrement per line (each
    /// conditioned on enough being available), the payment reference, and the idempotency
    /// record (which must not be live).
    async fn create_order(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<CreateOutcome, StoreError>;

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;

    /// A user's orders, newest first.
    async fn list_orders_for_user(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError>;
}

/// What a provider needs to open a payment for an order.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub order_id: OrderId,
    pub order_number: OrderNumber,
    pub amount: Money,
    pub customer: Customer,
    pub lines: Vec<OrderLine>,
    /// When the order will be cancelled if unpaid; a checkout session should not outlive it.
    pub expires_at: Timestamp,
    /// Now, as the order is opened.
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Network failure, timeout, 429 or 5xx from the provider: worth retrying.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx): retrying the same request will not help.
    #[error("payment provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
}

/// Opens a payment at a provider: a Razorpay order or a Stripe Checkout Session.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError>;
}

/// The providers this deployment accepts.
#[derive(Clone, Default)]
pub struct PaymentProviders(Vec<Arc<dyn PaymentProvider>>);

impl PaymentProviders {
    pub fn new(providers: Vec<Arc<dyn PaymentProvider>>) -> Self {
        Self(providers)
    }

    pub fn get(&self, kind: ProviderKind) -> Option<&Arc<dyn PaymentProvider>> {
        self.0.iter().find(|p| p.kind() == kind)
    }

    pub fn kinds(&self) -> Vec<ProviderKind> {
        self.0.iter().map(|p| p.kind()).collect()
    }
}
