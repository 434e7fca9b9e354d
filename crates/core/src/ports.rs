//! The ports: what the core needs from the outside world, as small traits. Adapters implement
//! them (in memory for tests and the dev server, AWS in production) and are passed in as
//! `Arc<dyn Port>`. No adapter type or SDK error appears here.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::customer::Customer;
use crate::ids::{OrderId, OrderNumber, Sku, UserId};
use crate::money::Money;
use crate::order::{Order, OrderLine, PaymentInfo, ProviderKind};
use crate::product::{Product, StockRecord};
use crate::search::{EventPage, EventSearch, OrderSearch};
use crate::secret::Secret;
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
    /// The store refused the request for a reason retrying will not fix by itself (missing
    /// table, permissions, a malformed request): answered 500 and logged for the operator.
    #[error("store error: {0}")]
    Backend(String),
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

/// What [`OrderStore::upsert_product`] did, with the product as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    Created(Product),
    /// Name and price replaced; `available` is the stock the product already had.
    Updated(Product),
}

/// A product's stock as the adjustment ledger sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLevel {
    pub product: Product,
    /// Adjustments recorded so far (0 before the first): the next record's number is one more.
    pub adjustments: u64,
}

#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Opaque; hand back unchanged to get the next page.
    pub next_cursor: Option<String>,
}

/// What became of a provider event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// It changed the order.
    Applied,
    /// It was about a known order but changed nothing (a sibling event already applied it, or
    /// the order is past the point it concerns).
    NoChange,
    /// A type this service does not act on.
    Ignored,
    /// No order could be found for it; an ops alert was raised.
    Unmatched,
}

impl EventOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::NoChange => "no_change",
            Self::Ignored => "ignored",
            Self::Unmatched => "unmatched",
        }
    }

    pub const ALL: [Self; 4] = [
        Self::Applied,
        Self::NoChange,
        Self::Ignored,
        Self::Unmatched,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Where an event came from: the provider's webhook, or this service asking the provider
/// (reconciliation, backfill), or an operator re-applying a stored one (replay). Recorded on the
/// event record and as `source` on the timeline entries it adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventSource {
    #[default]
    Webhook,
    Reconciliation,
    /// An operator re-applied a stored event (`replay:<eventId>`).
    Replay,
    /// An operator listed what the provider holds and applied what had not arrived: a Stripe
    /// event under its own `evt_…` id, a Razorpay payment or refund as `backfill:<id>#<status>`.
    Backfill,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Reconciliation => "reconciliation",
            Self::Replay => "replay",
            Self::Backfill => "backfill",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Webhook,
            Self::Reconciliation,
            Self::Replay,
            Self::Backfill,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// Where a recorded event came from, by its id alone: for records written before the source
    /// was stored (a backfilled Stripe event keeps its own `evt_…` id, so only its record says).
    pub fn of(event_id: &str) -> Self {
        if event_id.starts_with("reconcile:") {
            Self::Reconciliation
        } else if event_id.starts_with("replay:") {
            Self::Replay
        } else if event_id.starts_with("backfill:") {
            Self::Backfill
        } else {
            Self::Webhook
        }
    }
}

/// The dedupe and audit record of one provider event (`EVENT#<provider>#<eventId>`). Never holds
/// a secret or a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub provider: ProviderKind,
    pub event_id: String,
    pub event_type: String,
    pub received_at: Timestamp,
    pub order_id: Option<OrderId>,
    pub outcome: EventOutcome,
    /// Why, in a few words (`already applied`, `event type … is not handled`, …).
    pub detail: String,
    /// The raw body as received (provider data, verified), for investigation and replay.
    pub payload: String,
    /// Outlives the providers' retry windows (Stripe retries for 3 days).
    pub expires_at: Timestamp,
    /// How it reached us: the first to record an event id owns the record.
    pub source: EventSource,
}

/// A carrier tracking update no order could be found for (`TRACKING#<awb>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedTracking {
    pub awb: String,
    pub status_id: u32,
    /// The channel order id the update named, if any.
    pub order_ref: Option<String>,
    pub received_at: Timestamp,
    /// The raw body (carrier data; authenticated by its token, which it does not contain).
    pub payload: String,
    pub expires_at: Timestamp,
}

/// A paid order whose fulfilment job must reach the queue: written in the same transaction as
/// the transition that made the order ready, cleared once the job is sent. Whoever holds the
/// lease sends; an expired lease lets a retry or the sweep take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub order_id: OrderId,
    pub created_at: Timestamp,
    pub lease_until: Timestamp,
    /// Where the change that owed the job came from, so a job the sweep sends later still
    /// names the delivery that paid the order.
    pub trace: Trace,
}

/// Where a fulfilment job or a published message came from: the HTTP request and the provider
/// event that caused it, so one log query follows a payment from its webhook delivery to the
/// shipment. It travels beside a message's body (SQS and SNS message attributes `requestId`
/// and `eventId`, each only when present), never in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Trace {
    /// The request id of the HTTP request that caused it (the response's `x-request-id`; API
    /// Gateway's request id in AWS).
    pub request_id: Option<String>,
    /// The provider event that caused it (Stripe `evt_…`, Razorpay's `x-razorpay-event-id`, or
    /// this service's own `reconcile:…`, `replay:…`, `backfill:…`).
    pub event_id: Option<String>,
}

impl Trace {
    /// The message attribute that carries [`Trace::request_id`].
    pub const REQUEST_ID: &'static str = "requestId";
    /// The message attribute that carries [`Trace::event_id`].
    pub const EVENT_ID: &'static str = "eventId";

    /// A trace of one HTTP request.
    pub fn request(request_id: impl Into<String>) -> Self {
        Self {
            request_id: Some(request_id.into()),
            event_id: None,
        }
    }

    /// This trace, naming `event_id` as the event that caused it.
    pub fn with_event(self, event_id: impl Into<String>) -> Self {
        Self {
            event_id: Some(event_id.into()),
            ..self
        }
    }

    /// Nothing is known of where it came from.
    pub fn is_empty(&self) -> bool {
        self.request_id.is_none() && self.event_id.is_none()
    }

    /// The message attributes that carry it, by name: only those present.
    pub fn attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (Self::REQUEST_ID, self.request_id.as_deref()),
            (Self::EVENT_ID, self.event_id.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    }

    /// The trace named by message attributes (`lookup` answers an attribute's string value);
    /// an empty value counts as absent.
    pub fn from_attributes<'a>(lookup: impl Fn(&str) -> Option<&'a str>) -> Self {
        let get = |name| lookup(name).filter(|v| !v.is_empty()).map(str::to_owned);
        Self {
            request_id: get(Self::REQUEST_ID),
            event_id: get(Self::EVENT_ID),
        }
    }
}

/// One atomic write for a provider event: the event record (which must not exist yet), and
/// optionally the order's new state (conditioned on the version it was computed from), stock
/// taken again, payment references, and an outbox entry.
#[derive(Debug, Clone)]
pub struct EventCommit<'a> {
    pub record: &'a EventRecord,
    pub order: Option<(&'a Order, u64)>,
    /// Take the order's line quantities from stock again (a cancelled order being reinstated).
    pub reserve_stock: bool,
    /// Provider ids (payment ids learned from the event) to index the record's order under.
    pub payment_refs: Vec<String>,
    pub outbox: Option<OutboxEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The event was recorded before: nothing was written.
    Duplicate(EventRecord),
    /// The order changed since it was read: nothing was written; read again and redecide.
    VersionConflict,
    /// The stock for a reinstatement is not there: nothing was written.
    InsufficientStock(Vec<StockShortage>),
}

/// Orders, products, idempotency records, provider events, payment references and the
/// fulfilment outbox: everything that must change together lives behind one port, so that one
/// transaction can cover it.
#[async_trait]
pub trait OrderStore: Send + Sync {
    async fn list_products(&self) -> Result<Vec<Product>, StoreError>;

    /// The products with these SKUs; unknown SKUs are simply absent from the answer.
    async fn get_products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError>;

    /// Creates `product` if its SKU is new, its `available` being the initial stock; otherwise
    /// replaces its name and price and leaves its stock alone, so a catalog reload never resets
    /// what orders and adjustments did to it.
    async fn upsert_product(&self, product: &Product) -> Result<Upserted, StoreError>;

    /// A product and how many stock adjustments it has had. Strongly consistent: the caller
    /// computes the next level from it.
    async fn get_stock(&self, sku: &Sku) -> Result<Option<StockLevel>, StoreError>;

    /// All or nothing: sets the product's `available` to `record.level` and keeps `record`,
    /// only if the product still holds `expected` units and `record.number - 1` adjustments.
    /// `false` when it changed meanwhile (an order, another adjustment) or is gone: nothing was
    /// written, read again and redecide. `true` also when this very record is already kept: a
    /// retry of a call that committed but whose answer was lost.
    async fn adjust_stock(&self, record: &StockRecord, expected: u32) -> Result<bool, StoreError>;

    /// A product's stock records, newest first: at most `limit`, and only those numbered below
    /// `before` when it is given.
    async fn stock_records(
        &self,
        sku: &Sku,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StockRecord>, StoreError>;

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

    /// The order a provider id (order, session, payment intent or payment id) belongs to.
    /// Strongly consistent: a reference written with the order is visible at once.
    async fn find_order_by_ref(
        &self,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<OrderId>, StoreError>;

    async fn get_event(
        &self,
        provider: ProviderKind,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError>;

    /// The provider events recorded for an order (those that named it or were matched to it),
    /// newest first, at most `limit`.
    async fn order_events(
        &self,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError>;

    /// Orders matching `search`, newest first, at most `limit`, from an index (never a scan).
    /// The cursor is one this search returned ([`StoreError::InvalidCursor`] otherwise).
    async fn search_orders(
        &self,
        search: &OrderSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError>;

    /// Recorded provider events matching `search`, newest first, at most `limit`, without
    /// their raw bodies, from an index (never a scan).
    async fn search_events(
        &self,
        search: &EventSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError>;

    /// See [`EventCommit`]: all of it or none of it.
    async fn commit_event(&self, commit: EventCommit<'_>) -> Result<CommitOutcome, StoreError>;

    /// Writes an order changed outside a provider event (an admin action), conditioned on
    /// `expected_version`, with an outbox entry if it became ready. `false` on a version conflict.
    async fn save_order(
        &self,
        order: &Order,
        expected_version: u64,
        outbox: Option<&OutboxEntry>,
    ) -> Result<bool, StoreError>;

    /// Writes an order whose goods are back in stock — one the sweep has just cancelled, or
    /// one whose parcel came back to the seller — and gives its lines' stock back, all or
    /// nothing, conditioned on `expected_version` (`false` on a conflict: the order changed,
    /// perhaps because it was paid a moment ago).
    async fn release_order_stock(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError>;

    /// Writes an order that has just been given its shipment, conditioned on
    /// `expected_version`, together with the reference that finds it by the shipment's AWB
    /// ([`OrderStore::find_order_by_awb`]). `false` on a version conflict.
    async fn save_shipped_order(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError>;

    /// The order a carrier's tracking number (AWB) belongs to. Strongly consistent.
    async fn find_order_by_awb(&self, awb: &str) -> Result<Option<OrderId>, StoreError>;

    /// Records a tracking update for an AWB no order has (kept until `expires_at`, the last
    /// update's body and how many came). `true` for the first update of that AWB: the caller
    /// alerts once.
    async fn record_unmatched_tracking(
        &self,
        record: &UnmatchedTracking,
    ) -> Result<bool, StoreError>;

    /// Takes the outbox lease for `order_id` until `lease_until` if an entry exists and its
    /// lease has run out at `now`. `true` when the caller now holds it.
    async fn claim_outbox(
        &self,
        order_id: &OrderId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up early (the send failed), so the next retry may claim it at once.
    async fn release_outbox(&self, order_id: &OrderId, now: Timestamp) -> Result<(), StoreError>;

    /// The job owed by `entry` reached its worker: the entry is done. Only that entry (same
    /// `created_at`): one written since, by a change that owes another job, stays.
    async fn clear_outbox(&self, entry: &OutboxEntry) -> Result<(), StoreError>;

    /// Unpaid orders whose payment window ended before `before`, oldest first.
    async fn stale_unpaid(&self, before: Timestamp, limit: u32)
    -> Result<Vec<OrderId>, StoreError>;

    /// Orders owed refund work due before `before`, the earliest due first
    /// ([`Order::refund_work_due`]): a refund still `requested` (a provider call owed, due from
    /// when it was asked for), or one still `pending` whose check is due (its webhook may have
    /// been lost).
    async fn owed_refunds(&self, before: Timestamp, limit: u32)
    -> Result<Vec<OrderId>, StoreError>;

    /// Outbox entries created before `before`, oldest first: jobs still owed.
    async fn owed_outbox(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// The last invoice number issued (0 before the first).
    async fn last_invoice_number(&self) -> Result<u64, StoreError>;

    /// The fulfilment job's first read: the order, the last invoice number and the order's
    /// outbox entry, in one request where the store can batch them (DynamoDB `BatchGetItem`).
    async fn read_for_fulfilment(&self, id: &OrderId) -> Result<FulfilmentRead, StoreError>;

    /// Writes `order` (now carrying invoice `number`) and moves the invoice counter from
    /// `number - 1` to `number`, together: numbers are sequential and gapless, and an order gets
    /// at most one. With `clear`, the order's outbox entry goes in the same write, provided it
    /// is still that entry (otherwise [`InvoiceOutcome::VersionConflict`]: whatever wrote a new
    /// one changed the order too).
    async fn issue_invoice(
        &self,
        order: &Order,
        expected_version: u64,
        number: u64,
        clear: Option<&OutboxEntry>,
    ) -> Result<InvoiceOutcome, StoreError>;
}

/// What a fulfilment job reads first ([`OrderStore::read_for_fulfilment`]).
#[derive(Debug, Clone, Default)]
pub struct FulfilmentRead {
    pub order: Option<Order>,
    /// The last invoice number issued: a hint, which [`OrderStore::issue_invoice`] checks.
    pub last_invoice: u64,
    /// The order's outbox entry, while its job is marked owed: the worker that receives the
    /// job clears it ([`OrderStore::clear_outbox`], or in its first write).
    pub outbox: Option<OutboxEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceOutcome {
    Issued,
    /// The order changed since it was read.
    VersionConflict,
    /// Another invoice took this number first: read the counter again.
    NumberTaken,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    #[error("carrier unavailable: {0}")]
    Unavailable(String),
    #[error("carrier refused the shipment: {0}")]
    Rejected(String),
}

/// What became of a request to cancel a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentCancel {
    /// The carrier cancelled it (or it was already cancelled): nothing will be picked up.
    Cancelled,
    /// The carrier will not cancel it: it has been picked up (or, for digital goods, delivered).
    TooLate,
}

/// Creates shipments (Shiprocket, or none for digital goods). Must be idempotent per order: a
/// retried job may ask again for an order whose shipment was created but not yet recorded.
#[async_trait]
pub trait Carrier: Send + Sync {
    fn name(&self) -> &'static str;

    async fn create_shipment(
        &self,
        order: &Order,
    ) -> Result<crate::order::ShipmentInfo, CarrierError>;

    /// Cancels a shipment the carrier has not picked up yet (Shiprocket allows it until the
    /// shipment is "Out for Pickup"; it accepts the request and cancels asynchronously).
    /// Idempotent: cancelling a cancelled shipment is `Cancelled` again. `Unavailable` when the
    /// outcome is unknown (network, 401, 429, 5xx).
    async fn cancel_shipment(
        &self,
        shipment: &crate::order::ShipmentInfo,
    ) -> Result<ShipmentCancel, CarrierError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notification failed: {0}")]
pub struct NotifyError(pub String);

/// Tells the customer (WhatsApp in production).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn order_fulfilled(&self, order: &Order) -> Result<(), NotifyError>;

    /// The shipment reached a state the customer is told of (out for delivery, delivered).
    async fn shipment_update(
        &self,
        order: &Order,
        state: crate::tracking::ShipmentState,
    ) -> Result<(), NotifyError>;
}

/// The post-payment work for one order. Its JSON is the message body (`{"orderId":…}`); its
/// trace travels beside it, as message attributes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfilmentJob {
    pub order_id: OrderId,
    /// Where the job came from: never in the body, so a body without it still reads.
    #[serde(skip)]
    pub trace: Trace,
}

impl FulfilmentJob {
    /// A job with nothing known of where it came from.
    pub fn new(order_id: OrderId) -> Self {
        Self {
            order_id,
            trace: Trace::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct QueueError(pub String);

/// Hands fulfilment jobs to the post-payment worker (SQS in AWS).
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn send(&self, job: &FulfilmentJob) -> Result<(), QueueError>;
}

/// A fulfilment job set aside after failing on every receive (the post-payment queue's
/// dead-letter queue), as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJob {
    /// The order the job is for; `None` when the message is not a fulfilment job at all.
    pub order_id: Option<OrderId>,
    /// The queue's id of the message (SQS `MessageId`).
    pub message_id: String,
    /// How many times the message was received before it was listed (SQS
    /// `ApproximateReceiveCount`, less the listing's own receive; an earlier listing counts).
    pub receive_count: u32,
    /// When the job was first sent, where the queue says (SQS `SentTimestamp`).
    pub sent_at: Option<Timestamp>,
}

/// The most dead jobs one call lists or moves back.
pub const MAX_DEAD_JOBS: u32 = 100;

/// The fulfilment jobs that failed for good (the post-payment queue's dead-letter queue): seen
/// and moved back to the queue by an operator, without the AWS CLI. Moving back is at least
/// once: a job may reach the queue twice, which the worker's idempotency absorbs.
#[async_trait]
pub trait DeadJobs: Send + Sync {
    /// Up to `limit` (at most [`MAX_DEAD_JOBS`]) dead jobs, each once. Looking leaves them
    /// where they are: none is lost or hidden for long.
    async fn list(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError>;

    /// Moves up to `limit` (at most [`MAX_DEAD_JOBS`]) dead jobs back to the queue the worker
    /// reads; how many were moved.
    async fn redrive(&self, limit: u32) -> Result<u32, QueueError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Order lifecycle events for other systems (SNS `ORDER_EVENTS_TOPIC_ARN`).
    OrderEvents,
    /// Things a person must look at (SNS `OPS_ALERTS_TOPIC_ARN`).
    OpsAlerts,
}

/// One published message; `event_type` becomes the `eventType` message attribute that
/// subscription filters match on, and `trace` the `requestId` and `eventId` attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub event_type: String,
    pub body: serde_json::Value,
    /// Where the change it announces came from (see [`Trace`]).
    pub trace: Trace,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("publish failed: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, topic: Topic, message: &Message) -> Result<(), PublishError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret unavailable: {0}")]
pub struct SecretError(pub String);

/// One provider's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSecrets {
    /// Stripe's secret API key (`sk_…`) or Razorpay's key secret (which also signs checkout
    /// confirmations).
    pub api_secret: Option<Secret>,
    /// Razorpay's public key id (`rzp_…`): not secret, but rotated together with the secret.
    pub key_id: Option<String>,
    /// Every webhook secret currently accepted, current first, then a previous one kept during
    /// a rotation. Empty when webhooks are not configured.
    pub webhook_secrets: Vec<Secret>,
}

/// Provider secrets: from the environment locally, Secrets Manager (cached, with a TTL) in AWS,
/// so a rotated secret is picked up without a redeploy.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn provider(&self, kind: ProviderKind) -> Result<ProviderSecrets, SecretError>;
}

/// Credentials of a fulfilment integration (Shiprocket, WhatsApp), read when they are used so
/// a rotation is picked up without a redeploy: from Secrets Manager (cached, with a TTL) in AWS,
/// from the environment locally.
#[async_trait]
pub trait CredentialSource: Send + Sync + std::fmt::Debug {
    /// The current value of `field` of the integration's credential document (`email`,
    /// `password`, `token`, …).
    async fn field(&self, field: &str) -> Result<Secret, CredentialError>;

    /// `field` when the document has it, `None` when it does not (an optional field, such as a
    /// previous token kept during a rotation); an error only when the document cannot be read.
    async fn optional_field(&self, field: &str) -> Result<Option<Secret>, CredentialError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials unavailable: {0}")]
pub struct CredentialError(pub String);

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

/// What happened when a checkout was closed before its order is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutClosed {
    /// It can no longer take money.
    Expired,
    /// It was paid meanwhile: do not cancel, the payment webhook is on its way.
    AlreadyPaid,
    /// The provider has nothing to close (a Razorpay order); a late payment is handled as a
    /// payment after cancellation.
    NotApplicable,
}

/// A refund this service asks a provider for. The provider's idempotency key is derived from
/// `refund_id` (Stripe `Idempotency-Key`, Razorpay `X-Refund-Idempotency`), so a retried call —
/// by the same request, a repeat of it, or the sweep — never refunds twice; and `refund_id`
/// travels in the refund's metadata (Stripe) or notes (Razorpay), so the webhook that follows
/// names the ledger entry it settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundCall {
    /// Our refund id (`rf_…`).
    pub refund_id: String,
    pub order_id: OrderId,
    /// The payment refunded: Stripe PaymentIntent (`pi_…`) or Razorpay payment (`pay_…`).
    pub payment_id: String,
    pub amount: Money,
    /// Free text from the operator, kept in the refund's metadata/notes.
    pub reason: Option<String>,
}

impl RefundCall {
    /// The idempotency key sent with the call: the same for every attempt of one refund.
    pub fn idempotency_key(&self) -> String {
        format!("refund-{}", self.refund_id)
    }
}

/// Where a refund stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderRefundStatus {
    /// Accepted, money not yet returned (Stripe `pending`/`requires_action`, Razorpay `pending`).
    Pending,
    /// Money returned (Stripe `succeeded`, Razorpay `processed`).
    Succeeded,
    /// Not done and will not be (Stripe `failed`/`canceled`, Razorpay `failed`).
    Failed,
}

/// The provider's answer to a [`RefundCall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// Stripe `re_…` or Razorpay `rfnd_…`: what the provider's refund webhooks name.
    pub provider_refund_id: String,
    pub status: ProviderRefundStatus,
    pub amount: Money,
    /// Stripe's charge the refund is on (`ch_…`), which `charge.refunded` totals by.
    pub charge_id: Option<String>,
}

/// Where a payment found at the provider stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundPaymentStatus {
    /// Money captured (Stripe session `paid`; Razorpay payment `captured`).
    Captured,
    /// Not captured yet (Razorpay `created`/`authorized`; a Stripe session completed with an
    /// asynchronous payment still settling).
    Pending,
    /// The attempt failed (Razorpay `failed`).
    Failed,
}

/// A payment the provider holds for one of our checkouts, as its API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPayment {
    /// Stripe PaymentIntent (`pi_…`) or Razorpay payment (`pay_…`).
    pub payment_id: String,
    pub amount: Money,
    pub status: FoundPaymentStatus,
}

/// What a backfill asks a provider for: what it holds that was created from `since` to `until`
/// (both inclusive, whole seconds), one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillQuery {
    pub since: Timestamp,
    pub until: Timestamp,
    /// Only events whose webhook was not delivered (Stripe `delivery_success=false`). Razorpay
    /// cannot tell; the use case refuses the flag for it.
    pub undelivered_only: bool,
    /// Where the previous page ended (the provider's own cursor, opaque to the caller); `None`
    /// for the first page.
    pub cursor: Option<String>,
}

/// One thing a provider holds, as its webhook would have carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillItem {
    /// The dedupe key: Stripe's own `evt_…` (so the webhook, had it come, and the backfill are
    /// one event); for Razorpay, which lists entities rather than events,
    /// `backfill:<pay_…|rfnd_…>#<status>`.
    pub event_id: String,
    /// A webhook body: Stripe's event object exactly as listed; for Razorpay, the listed entity
    /// wrapped as the matching webhook carries it (`payment.captured`, `refund.processed`, …), so
    /// the webhook's own normaliser reads both.
    pub body: String,
}

/// One page of [`PaymentProvider::backfill_page`]: at most 100 items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillPage {
    pub items: Vec<BackfillItem>,
    /// Hand back in [`BackfillQuery::cursor`] for the next page; `None` when this was the last.
    pub next_cursor: Option<String>,
}

/// The most items one backfill page holds (both providers' list maximum).
pub const BACKFILL_PAGE: u32 = 100;

/// Opens a payment at a provider: a Razorpay order or a Stripe Checkout Session.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError>;

    /// Closes the checkout of an order about to be cancelled, where the provider supports it.
    async fn close_checkout(&self, payment: &PaymentInfo) -> Result<CheckoutClosed, ProviderError>;

    /// Asks the provider what became of an order's checkout — Stripe: retrieve the Checkout
    /// Session (`GET /v1/checkout/sessions/{id}`, its PaymentIntent); Razorpay: the order's
    /// payments (`GET /v1/orders/{id}/payments`) — so a payment whose webhook was lost is found.
    /// Empty when nothing was paid or attempted.
    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<FoundPayment>, ProviderError>;

    /// Asks the provider to refund part or all of a captured payment (see [`RefundCall`]).
    /// `Unavailable` when the outcome is unknown (network, 429, 5xx): the caller retries with
    /// the same call; `Rejected` when the provider refused it (4xx).
    async fn refund(&self, call: &RefundCall) -> Result<ProviderRefund, ProviderError>;

    /// Where a refund the provider accepted stands now, so a refund whose webhook was lost is
    /// settled anyway — Stripe: `GET /v1/refunds/{id}`; Razorpay:
    /// `GET /v1/payments/{paymentId}/refunds/{id}`. `payment_id` is the payment refunded
    /// (`pi_…`, `pay_…`), `provider_refund_id` the provider's refund (`re_…`, `rfnd_…`).
    /// Read only: calling it any number of times changes nothing at the provider.
    async fn get_refund(
        &self,
        payment_id: &str,
        provider_refund_id: &str,
    ) -> Result<ProviderRefund, ProviderError>;
    /// Lists what the provider holds from `query.since` to `query.until`, newest first, one
    /// page (at most [`BACKFILL_PAGE`] items) at a time — Stripe: its events
    /// (`GET /v1/events`, kept 30 days); Razorpay: its payments, then its refunds (it has no
    /// event list) — so events whose webhook never arrived can be applied. `Rejected` with 400
    /// for a cursor it did not issue. A provider that cannot list answers `Rejected` (501).
    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        let _ = query;
        Err(ProviderError::Rejected {
            status: 501,
            message: format!("{} cannot list its events", self.kind().as_str()),
        })
    }
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invoice storage failed: {0}")]
pub struct StorageError(pub String);

/// Where invoice documents are kept (S3 `INVOICE_BUCKET` in AWS), by key.
#[async_trait]
pub trait InvoiceStorage: Send + Sync {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("download link failed: {0}")]
pub struct LinkError(pub String);

/// Short-lived links to the files of digital products (`GET /orders/{orderId}/downloads/{sku}`):
/// S3 pre-signed GETs of `downloads/<sku>` in `DOWNLOADS_BUCKET` in AWS, a signed dev-server
/// route locally. A link is a bearer credential: whoever holds it may fetch the file until it
/// expires, `ttl` after `now`.
#[async_trait]
pub trait DownloadLinks: Send + Sync {
    async fn link(
        &self,
        sku: &Sku,
        ttl: std::time::Duration,
        now: Timestamp,
    ) -> Result<String, LinkError>;
}
