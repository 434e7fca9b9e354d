//! Orders and their lifecycle: the statuses and timeline entries `docs/openapi.yaml` shows
//! (`Order`, `TimelineEntry`), moved by the rules `docs/decisions.md` gives ("Payment webhooks",
//! "Fulfilment", "The cleanup sweep").
//!
//! Every change goes through one of the transition methods on [`Order`]. Each either applies
//! completely — new status, timeline entries, bumped `version` — and returns the entries it
//! appended, or returns a [`TransitionError`] and leaves the order untouched. Stores persist a
//! transition conditioned on the `version` they read, so two racing writers cannot both apply.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::customer::{Customer, ShippingAddress};
use crate::ids::{OrderId, OrderNumber, Sku, TokenHash, UserId};
use crate::money::Money;
use crate::time::Timestamp;

/// Units of one line: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a whole number from 1 to {max}", max = Quantity::MAX)]
pub struct QuantityError;

impl Quantity {
    pub const MAX: u32 = 100;

    pub fn new(n: u64) -> Result<Self, QuantityError> {
        if (1..=u64::from(Self::MAX)).contains(&n) {
            Ok(Self(n as u32))
        } else {
            Err(QuantityError)
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = QuantityError;
    fn try_from(n: u32) -> Result<Self, QuantityError> {
        Self::new(u64::from(n))
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    PaymentFailed,
    Fulfilled,
    /// The carrier delivered the order's shipment.
    Delivered,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::PaymentFailed => "payment_failed",
            Self::Fulfilled => "fulfilled",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
        }
    }

    /// Every status, in lifecycle order.
    pub const ALL: [Self; 8] = [
        Self::PendingPayment,
        Self::PaymentFailed,
        Self::Paid,
        Self::Fulfilled,
        Self::Delivered,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Cancelled,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still waiting for money: the states the stale-order sweep may cancel.
    pub fn is_unpaid(self) -> bool {
        matches!(self, Self::PendingPayment | Self::PaymentFailed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Stripe,
    Razorpay,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Razorpay => "razorpay",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stripe" => Some(Self::Stripe),
            "razorpay" => Some(Self::Razorpay),
            _ => None,
        }
    }
}

/// Refunds of one payment as the provider reports them. Every refund counts once by its id;
/// a Stripe charge also reports its own running total, which the order's ledger for that charge
/// converges to whichever shapes (listed refunds or only the total) arrive, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReport {
    /// The payment refunded (Razorpay `pay_…`, Stripe PaymentIntent), when the event names it.
    /// Only refunds of the payment the order kept count against the order.
    pub payment_id: Option<String>,
    /// Individual refunds with their ids (Razorpay `refund.processed`, Stripe charges that list
    /// their refunds).
    pub refunds: Vec<(String, Money)>,
    /// Stripe: the charge the refunds are on, and its cumulative `amount_refunded` when the
    /// event carries it (a charge does; a single refund object does not).
    pub charge: Option<ChargeTotal>,
    /// `(provider refund id, our refund id)` for refunds this service asked for: the provider
    /// echoes our id from the refund's metadata (Stripe) or notes (Razorpay).
    pub our_ids: Vec<(String, String)>,
}

/// A Stripe charge and, when reported, its cumulative refunded amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeTotal {
    pub charge_id: String,
    pub total: Option<Money>,
}

/// A refund the provider could not complete (Stripe `refund.failed`, a refund object updated to
/// `failed`/`canceled`; Razorpay `refund.failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFailure {
    /// The payment the refund was of, when the event names it.
    pub payment_id: Option<String>,
    pub provider_refund_id: String,
    /// Our refund id, when the provider echoed it (a refund this service asked for).
    pub refund_id: Option<String>,
    pub reason: String,
}

/// Where a chargeback stands, as the order shows it (`dispute.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Opened; evidence is due (Stripe `needs_response`/`warning_needs_response`; Razorpay
    /// `open`, `action_required`).
    Open,
    /// Evidence submitted, the bank is deciding.
    UnderReview,
    /// Closed in the shop's favour: the money stays.
    Won,
    /// Closed against the shop: the disputed amount is gone.
    Lost,
}

impl DisputeStatus {
    /// Won and lost are final: a late `open` or `under_review` never reopens them.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Won | Self::Lost)
    }
}

/// A chargeback as a provider reports it (Stripe Dispute object; Razorpay dispute entity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeReport {
    /// Stripe `du_…` (older `dp_…`) or Razorpay `disp_…`.
    pub dispute_id: String,
    /// The payment disputed (Stripe PaymentIntent, Razorpay payment id), when named.
    pub payment_id: Option<String>,
    pub status: DisputeStatus,
    pub amount: Money,
    /// The provider's reason code (`fraudulent`, `product_not_received`, …).
    pub reason: String,
    /// When the evidence is due (Stripe `evidence_details.due_by`, Razorpay `respond_by`).
    pub evidence_due_by: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    AmountMismatch,
    CurrencyMismatch,
    PaidAfterCancel,
    DuplicatePayment,
    /// A signed capture or refund for this order whose amount or payment could not be read.
    UnreadablePaymentEvent,
    /// A chargeback opened before the order shipped: nothing ships until it is won or a person
    /// clears the hold.
    Disputed,
    /// A refund the provider reported as failed after it had counted, or one this service
    /// cannot match: the customer may not have their money back.
    RefundFailed,
    /// The parcel came back to the seller (RTO) and `RTO_REFUND_POLICY` is `review`: a person
    /// decides whether the customer is refunded.
    ReturnedToOrigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineType {
    OrderCreated,
    PaymentSucceeded,
    PaymentFailed,
    ReviewRequired,
    ReviewCleared,
    InvoiceIssued,
    ShipmentCreated,
    Fulfilled,
    Cancelled,
    Reinstated,
    RefundPartial,
    RefundFull,
    /// A refund of a payment the order did not keep (a duplicate, a failed attempt).
    RefundOtherPayment,
    /// A refund was asked of the provider by this service (`refundId`, `amount`, `by`).
    RefundRequested,
    /// A refund the provider refused or could not complete.
    RefundFailed,
    DisputeOpened,
    DisputeWon,
    DisputeLost,
    /// The carrier cancelled the order's shipment before pickup (a cancellation on request,
    /// or the carrier's own, `source: carrier`).
    ShipmentCancelled,
    /// The carrier's tracking moved the shipment (`docs/decisions.md`, "Shipment tracking"):
    /// each with the scan's time, status id, location and activity.
    ShipmentInTransit,
    ShipmentOutForDelivery,
    ShipmentUndelivered,
    ShipmentReturning,
    ShipmentLost,
    ShipmentDamaged,
    ShipmentReturned,
    ShipmentDelivered,
    /// The customer was sent a message about the shipment (`message`: `out_for_delivery`,
    /// `delivered`); recorded before it is sent, so it is sent at most once.
    CustomerNotified,
    /// A short-lived link to a digital product's file was handed out (`sku`, `expiresAt`, `by`).
    DownloadGranted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    #[serde(rename = "type")]
    pub kind: TimelineType,
    pub at: Timestamp,
    #[serde(default)]
    pub meta: Map<String, Value>,
}

impl TimelineEntry {
    fn new(kind: TimelineType, at: Timestamp, meta: Value) -> Self {
        let meta = match meta {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Self { kind, at, meta }
    }
}

/// Who may read the order besides admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    User {
        #[serde(rename = "userId")]
        user_id: UserId,
    },
    /// A guest proves ownership with the access token returned at creation.
    Guest {
        #[serde(rename = "tokenHash")]
        token_hash: TokenHash,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub sku: Sku,
    pub name: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub line_total: Money,
}

/// What the payment provider knows the order by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentInfo {
    pub provider: ProviderKind,
    /// Razorpay order id (`order_…`) or Stripe Checkout Session id (`cs_…`).
    pub provider_order_id: String,
    /// Razorpay payment id (`pay_…`) or Stripe PaymentIntent id (`pi_…`), once known.
    #[serde(default)]
    pub provider_payment_id: Option<String>,
    /// Stripe's hosted checkout page.
    #[serde(default)]
    pub checkout_url: Option<String>,
    /// Razorpay's public key id for the storefront's checkout widget.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The amount actually captured, once paid.
    #[serde(default)]
    pub captured: Option<Money>,
}

/// The invoice issued for an order: a gapless sequential number and where its document is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceInfo {
    pub number: String,
    pub key: String,
    pub issued_at: Timestamp,
}

/// The shipment a carrier created for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentInfo {
    pub carrier: String,
    pub shipment_id: String,
    pub awb: String,
    pub status: String,
}

/// One refund the provider reported, keyed by its refund id so a redelivery counts once. The
/// ledger keeps every refund of every payment of the order, as reported; which of them count
/// against the order (those of the payment it kept) is derived, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// The provider's refund id, or `<charge>:unitemised` for the part of a Stripe charge's
    /// reported total whose refunds have not been listed yet.
    pub refund_id: String,
    pub amount: Money,
    pub at: Timestamp,
    /// The payment refunded, when the provider named it (all current events do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Stripe's charge, for refunds reported on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
}

/// The refund ledger's totals at one moment: what counts against the kept payment (clamped to
/// its capture) and what each other payment of the order got back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RefundTotals {
    kept: i64,
    others: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The same change was applied before: a redelivery, answered as success and changing nothing.
    #[error("already applied")]
    AlreadyApplied,
    #[error("cannot {action} an order that is {}", from.as_str())]
    NotAllowed {
        from: OrderStatus,
        action: &'static str,
    },
    #[error("order is held for review")]
    UnderReview,
    /// Another worker holds the fulfilment lease.
    #[error("another worker is fulfilling this order")]
    Busy,
}

/// A successful capture reported by a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentCapture {
    pub provider_payment_id: String,
    /// What was paid, in the currency the provider reported.
    pub amount: Money,
}

/// Everything needed to open an order; prices already come from the catalog.
#[derive(Debug, Clone)]
pub struct OrderDraft {
    pub id: OrderId,
    pub number: OrderNumber,
    pub owner: Owner,
    pub customer: Customer,
    pub shipping_address: ShippingAddress,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub payment: PaymentInfo,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    id: OrderId,
    number: OrderNumber,
    status: OrderStatus,
    owner: Owner,
    customer: Customer,
    shipping_address: ShippingAddress,
    lines: Vec<OrderLine>,
    total: Money,
    payment: PaymentInfo,
    requires_review: bool,
    #[serde(default)]
    review_reason: Option<ReviewReason>,
    /// Every refund reported for this order's payments. Before any capture they are only held;
    /// once a payment is kept, its refunds count and other payments' refunds are shown apart.
    #[serde(default)]
    refunds: Vec<Refund>,
    /// Refunds this service asked the provider for, with their states; what they returned is
    /// counted through `refunds` once the provider reports it, never twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    refund_requests: Vec<RefundRequest>,
    /// Chargebacks on the order's payments, by dispute id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    disputes: Vec<Dispute>,
    #[serde(default)]
    invoice: Option<InvoiceInfo>,
    #[serde(default)]
    shipment: Option<ShipmentInfo>,
    /// What the carrier's tracking reported of the shipment.
    #[serde(default, skip_serializing_if = "Tracking::is_empty")]
    tracking: Tracking,
    /// When the customer and subscribers were told the order is fulfilled.
    #[serde(default)]
    notified_at: Option<Timestamp>,
    /// A worker is fulfilling the order until then; another copy of the job waits.
    #[serde(default)]
    fulfilment_lease_until: Option<Timestamp>,
    timeline: Vec<TimelineEntry>,
    created_at: Timestamp,
    updated_at: Timestamp,
    expires_at: Timestamp,
    /// Bumped by every transition; stores write conditioned on it.
    version: u64,
}

impl Order {
    /// A new order awaiting payment, with its `order_created` entry.
    pub fn open(draft: OrderDraft, at: Timestamp) -> Self {
        let entry = TimelineEntry::new(
            TimelineType::OrderCreated,
            at,
            json!({ "amount": draft.total.minor(), "currency": draft.total.currency() }),
        );
        Self {
            id: draft.id,
            number: draft.number,
            status: OrderStatus::PendingPayment,
            owner: draft.owner,
            customer: draft.customer,
            shipping_address: draft.shipping_address,
            lines: draft.lines,
            total: draft.total,
            payment: draft.payment,
            requires_review: false,
            review_reason: None,
            refunds: Vec::new(),
            refund_requests: Vec::new(),
            disputes: Vec::new(),
            invoice: None,
            shipment: None,
            tracking: Tracking::default(),
            notified_at: None,
            fulfilment_lease_until: None,
            timeline: vec![entry],
            created_at: at,
            updated_at: at,
            expires_at: draft.expires_at,
            version: 1,
        }
    }

    pub fn id(&self) -> &OrderId {
        &self.id
    }
    pub fn number(&self) -> &OrderNumber {
        &self.number
    }
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    pub fn owner(&self) -> &Owner {
        &self.owner
    }
    pub fn customer(&self) -> &Customer {
        &self.customer
    }
    pub fn shipping_address(&self) -> &ShippingAddress {
        &self.shipping_address
    }
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }
    pub fn total(&self) -> Money {
        self.total
    }
    pub fn payment(&self) -> &PaymentInfo {
        &self.payment
    }
    pub fn requires_review(&self) -> bool {
        self.requires_review
    }
    pub fn review_reason(&self) -> Option<ReviewReason> {
        self.review_reason
    }
    /// Refunds of the payment the order kept (all reported refunds while none is kept yet).
    pub fn refunds(&self) -> impl Iterator<Item = &Refund> {
        self.refunds.iter().filter(|r| self.is_kept(r))
    }

    /// Refunds of other payments: recorded and shown, never counted against the order.
    pub fn other_payment_refunds(&self) -> impl Iterator<Item = &Refund> {
        self.refunds.iter().filter(|r| !self.is_kept(r))
    }

    /// Whether a refund is of the payment the order kept. A refund that names no payment is
    /// taken to be of it; before any capture every refund is held as if it were.
    fn is_kept(&self, r: &Refund) -> bool {
        match (&r.payment_id, &self.payment.provider_payment_id) {
            (Some(refunded), Some(kept)) if self.payment.captured.is_some() => refunded == kept,
            _ => true,
        }
    }

    fn refund_totals(&self) -> RefundTotals {
        let mut totals = RefundTotals::default();
        let Some(captured) = self.payment.captured else {
            return totals;
        };
        let mut kept = 0i64;
        for r in &self.refunds {
            if self.is_kept(r) {
                kept = kept.saturating_add(r.amount.minor());
            } else if let Some(p) = &r.payment_id {
                let t = totals.others.entry(p.clone()).or_default();
                *t = t.saturating_add(r.amount.minor());
            }
        }
        // Providers never refund more than was captured; clamp so a malformed event cannot
        // make the order claim otherwise.
        totals.kept = kept.clamp(0, captured.minor());
        totals
    }
    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.timeline
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
    pub fn version(&self) -> u64 {
        self.version
    }

    /// What has been refunded of the payment the order kept, never more than it captured, in
    /// the captured currency (the order's, and zero, until something is captured).
    pub fn refunded(&self) -> Money {
        let currency = self
            .payment
            .captured
            .map_or(self.total.currency(), |c| c.currency());
        Money::new(self.refund_totals().kept, currency).unwrap_or(Money::zero(currency))
    }

    pub fn user_id(&self) -> Option<&UserId> {
        match &self.owner {
            Owner::User { user_id } => Some(user_id),
            Owner::Guest { .. } => None,
        }
    }

    /// Whether a reader may see this order: its signed-in owner, an admin, or a guest holding
    /// the order's access token. Anyone else must be told it does not exist.
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        if viewer.admin {
            return true;
        }
        match &self.owner {
            Owner::User { user_id } => viewer.user.as_ref() == Some(user_id),
            Owner::Guest { token_hash } => viewer
                .order_token
                .as_deref()
                .is_some_and(|t| token_hash.matches(t)),
        }
    }

    /// Marks the entries appended since the timeline had `len` entries with where the change
    /// came from (`source`: `reconciliation`, …); returns them.
    pub fn mark_source_since(&mut self, len: usize, source: &str) -> Vec<TimelineEntry> {
        for e in self.timeline.iter_mut().skip(len) {
            e.meta.insert("source".into(), Value::from(source));
        }
        self.timeline.iter().skip(len).cloned().collect()
    }

    fn push(&mut self, kind: TimelineType, at: Timestamp, meta: Value) -> TimelineEntry {
        let entry = TimelineEntry::new(kind, at, meta);
        self.timeline.push(entry.clone());
        self.updated_at = at.max(self.updated_at);
        entry
    }

    fn bump(&mut self) {
        self.version += 1;
    }

    /// Money received. From `pending_payment` or `payment_failed` the order becomes `paid`; an
    /// amount or currency that differs from the order's still pays (the money is real) but holds
    /// the order for review. The same payment reported again is [`TransitionError::AlreadyApplied`];
    /// a different payment on an already-paid order is held for review as a duplicate payment.
    /// A payment on a cancelled order goes through [`Order::record_payment_after_cancel`].
    pub fn record_payment(
        &mut self,
        capture: &PaymentCapture,
        at: Timestamp,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        match self.status {
            OrderStatus::PendingPayment | OrderStatus::PaymentFailed => {
                Ok(self.apply_payment(capture, at, None))
            }
            OrderStatus::Cancelled => Err(TransitionError::NotAllowed {
                from: self.status,
                action: "pay (use record_payment_after_cancel)",
            }),
            _ if self.payment.provider_payment_id.as_deref()
                == Some(capture.provider_payment_id.as_str()) =>
            {
                Err(TransitionError::AlreadyApplied)
            }
            _ => {
                // A second, different payment for a settled order: money must not be kept
                // silently. Flag it once per payment id.
                let already_flagged = self.timeline.iter().any(|e| {
                    e.kind == TimelineType::ReviewRequired
                        && e.meta.get("providerPaymentId").and_then(Value::as_str)
                            == Some(capture.provider_payment_id.as_str())
                });
                if already_flagged {
                    return Err(TransitionError::AlreadyApplied);
                }
                let entry = self.flag_review(
                    ReviewReason::DuplicatePayment,
                    at,
                    json!({
                        "providerPaymentId": capture.provider_payment_id,
                        "amount": capture.amount.minor(),
                        "currency": capture.amount.currency(),
                    }),
                );
                self.bump();
                Ok(vec![entry])
            }
        }
    }

    /// A payment for an order the sweep already cancelled. When the store could reserve the
    /// stock again (`restocked`), the order is reinstated and paid; otherwise it is paid and held
    /// for review with `paid_after_cancel`, so the money is refunded or the goods found by hand.
    pub fn record_payment_after_cancel(
        &mut self,
        capture: &PaymentCapture,
        restocked: bool,
        at: Timestamp,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.status != OrderStatus::Cancelled {
            return Err(TransitionError::NotAllowed {
                from: self.status,
                action: "reinstate",
            });
        }
        let mut entries = Vec::new();
        let review = if restocked {
            entries.push(self.push(TimelineType::Reinstated, at, json!({})));
            None
        } else {
            Some(ReviewReason::PaidAfterCancel)
        };
        entries.extend(self.apply_payment(capture, at, review));
        Ok(entries)
    }

    fn apply_payment(
        &mut self,
        capture: &PaymentCapture,
        at: Timestamp,
        forced_review: Option<ReviewReason>,
    ) -> Vec<TimelineEntry> {
        self.status = OrderStatus::Paid;
        self.payment.provider_payment_id = Some(capture.provider_payment_id.clone());
        self.payment.captured = Some(capture.amount);
        let mut entries = vec![self.push(
            TimelineType::PaymentSucceeded,
            at,
            json!({
                "providerPaymentId": capture.provider_payment_id,
                "amount": capture.amount.minor(),
                "currency": capture.amount.currency(),
            }),
        )];
        let mismatch = if capture.amount.currency() != self.total.currency() {
            Some(ReviewReason::CurrencyMismatch)
        } else if capture.amount.minor() != self.total.minor() {
            Some(ReviewReason::AmountMismatch)
        } else {
            None
        };
        // Refunds reported before this capture now count (if of this payment) or are shown
        // as refunds of other payments.
        let held: Vec<String> = self.refunds.iter().map(|r| r.refund_id.clone()).collect();
        entries.extend(self.account_refunds(&RefundTotals::default(), &held, at));
        if let Some(reason) = forced_review.or(mismatch) {
            entries.push(self.flag_review(
                reason,
                at,
                json!({
                    "expectedAmount": self.total.minor(),
                    "expectedCurrency": self.total.currency(),
                    "paidAmount": capture.amount.minor(),
                    "paidCurrency": capture.amount.currency(),
                }),
            ));
        }
        self.bump();
        entries
    }

    fn flag_review(
        &mut self,
        reason: ReviewReason,
        at: Timestamp,
        mut meta: Value,
    ) -> TimelineEntry {
        self.requires_review = true;
        self.review_reason = Some(reason);
        if let Value::Object(m) = &mut meta {
            m.insert("reason".into(), json!(reason));
        }
        self.push(TimelineType::ReviewRequired, at, meta)
    }

    /// The provider reports a failed attempt. Only an unpaid order changes: `payment_failed`
    /// keeps the order open for a later success; a paid order is never un-paid.
    pub fn record_payment_failure(
        &mut self,
        provider_payment_id: Option<&str>,
        reason: &str,
        at: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        match self.status {
            OrderStatus::PendingPayment | OrderStatus::PaymentFailed => {
                let same_attempt_seen = self.timeline.iter().any(|e| {
                    e.kind == TimelineType::PaymentFailed
                        && provider_payment_id.is_some()
                        && e.meta.get("providerPaymentId").and_then(Value::as_str)
                            == provider_payment_id
                });
                if same_attempt_seen {
                    return Err(TransitionError::AlreadyApplied);
                }
                self.status = OrderStatus::PaymentFailed;
                let entry = self.push(
                    TimelineType::PaymentFailed,
                    at,
                    json!({ "providerPaymentId": provider_payment_id, "reason": reason }),
                );
                self.bump();
                Ok(entry)
            }
            from => Err(TransitionError::NotAllowed {
                from,
                action: "fail the payment of",
            }),
        }
    }

    /// The sweep gives up on an unpaid order; the caller releases its stock in the same write.
    /// An order held for review is a person's to decide: it is never cancelled by the sweep.
    pub fn cancel(
        &mut self,
        reason: &str,
        at: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        if self.requires_review && self.status.is_unpaid() {
            return Err(TransitionError::UnderReview);
        }
        match self.status {
            OrderStatus::PendingPayment | OrderStatus::PaymentFailed => {
                self.status = OrderStatus::Cancelled;
                let entry = self.push(TimelineType::Cancelled, at, json!({ "reason": reason }));
                self.bump();
                Ok(entry)
            }
            OrderStatus::Cancelled => Err(TransitionError::AlreadyApplied),
            from => Err(TransitionError::NotAllowed {
                from,
                action: "cancel",
            }),
        }
    }

    /// Refunds reported by the provider for one payment. Each refund id counts once; a Stripe
    /// charge's ledger converges to the largest total reported for it (its listed refunds plus
    /// an `unitemised` rest), so the cumulative and the itemised `charge.refunded` shapes,
    /// repeated or in any order, count each unit once. Only refunds of the payment the order
    /// kept move `refunded` and the status (`refund_partial`/`refund_full`); refunds of other
    /// payments are recorded as `refund_other_payment`. Before any capture refunds are held
    /// (no entry) and sorted out when the capture is recorded, so the final state does not
    /// depend on delivery order. A report that adds nothing (a repeat, a refund of 0) is
    /// [`TransitionError::AlreadyApplied`].
    pub fn record_refunds(
        &mut self,
        report: &RefundReport,
        at: Timestamp,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        let before_ledger = self.refunds.clone();
        let before = self.refund_totals();
        let mut new_ids = Vec::new();
        let charge_id = report.charge.as_ref().map(|c| c.charge_id.clone());
        let charge_before = charge_id.as_deref().map_or(0, |c| self.charge_total(c));
        for (id, amount) in &report.refunds {
            if amount.minor() <= 0 || self.refunds.iter().any(|r| &r.refund_id == id) {
                continue;
            }
            new_ids.push(id.clone());
            self.refunds.push(Refund {
                refund_id: id.clone(),
                amount: *amount,
                at,
                payment_id: report.payment_id.clone(),
                charge_id: charge_id.clone(),
            });
        }
        if let Some(charge) = &report.charge {
            self.converge_charge(charge, report.payment_id.as_deref(), charge_before, at);
        }
        let (settled, held) = self.settle_requests(&report.our_ids, at);
        if self.refunds == before_ledger && !settled {
            return Err(TransitionError::AlreadyApplied);
        }
        let mut entries = self.account_refunds(&before, &new_ids, at);
        entries.extend(held);
        self.bump();
        Ok(entries)
    }

    /// What the ledger holds for one Stripe charge.
    fn charge_total(&self, charge_id: &str) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.charge_id.as_deref() == Some(charge_id))
            .map(|r| r.amount.minor())
            .sum()
    }

    /// Sets the `<charge>:unitemised` entry so the charge's ledger totals the largest of: what
    /// it totalled before this report (`previous`), the total just reported, and the sum of
    /// its listed refunds. Each is a lower bound of what the provider refunded on the charge,
    /// and the latest report equals it, so the ledger ends at the provider's own total.
    fn converge_charge(
        &mut self,
        charge: &ChargeTotal,
        payment_id: Option<&str>,
        previous: i64,
        at: Timestamp,
    ) {
        let rest_id = format!("{}:unitemised", charge.charge_id);
        let listed: i64 = self
            .refunds
            .iter()
            .filter(|r| r.charge_id.as_deref() == Some(charge.charge_id.as_str()))
            .filter(|r| r.refund_id != rest_id)
            .map(|r| r.amount.minor())
            .sum();
        let reported = charge.total.map_or(0, |t| t.minor());
        let rest = reported.max(listed).max(previous) - listed;
        let currency = match (
            charge.total,
            self.refunds
                .iter()
                .find(|r| r.charge_id.as_deref() == Some(charge.charge_id.as_str())),
        ) {
            (Some(t), _) => t.currency(),
            (None, Some(r)) => r.amount.currency(),
            (None, None) => return,
        };
        let existing = self.refunds.iter().position(|r| r.refund_id == rest_id);
        match (existing, Money::new(rest, currency)) {
            (Some(i), Ok(m)) if rest > 0 => {
                if self.refunds[i].amount != m {
                    self.refunds[i].amount = m;
                    self.refunds[i].at = at;
                }
            }
            (Some(i), _) => {
                self.refunds.remove(i);
            }
            (None, Ok(m)) if rest > 0 => self.refunds.push(Refund {
                refund_id: rest_id,
                amount: m,
                at,
                payment_id: payment_id.map(str::to_owned),
                charge_id: Some(charge.charge_id.clone()),
            }),
            (None, _) => {}
        }
    }

    /// Timeline entries and status for the ledger's change since `before`: the kept payment's
    /// refunded amount went up (`refund_partial`/`refund_full`), or another payment's did
    /// (`refund_other_payment`). Nothing while no payment is captured.
    fn account_refunds(
        &mut self,
        before: &RefundTotals,
        refund_ids: &[String],
        at: Timestamp,
    ) -> Vec<TimelineEntry> {
        let Some(captured) = self.payment.captured else {
            return Vec::new();
        };
        let after = self.refund_totals();
        let ids = |o: &Self, kept: Option<&str>| -> Vec<String> {
            refund_ids
                .iter()
                .filter(|id| {
                    o.refunds.iter().any(|r| {
                        &r.refund_id == *id
                            && match kept {
                                None => o.is_kept(r),
                                Some(p) => !o.is_kept(r) && r.payment_id.as_deref() == Some(p),
                            }
                    })
                })
                .cloned()
                .collect()
        };
        let mut entries = Vec::new();
        if after.kept > before.kept {
            let refund_ids = ids(self, None);
            let full = after.kept >= captured.minor();
            // A cancelled order stays cancelled: its refund shows in `paymentStatus`.
            if self.status != OrderStatus::Cancelled {
                self.status = if full {
                    OrderStatus::Refunded
                } else {
                    OrderStatus::PartiallyRefunded
                };
            }
            let kind = if full {
                TimelineType::RefundFull
            } else {
                TimelineType::RefundPartial
            };
            entries.push(self.push(
                kind,
                at,
                json!({
                    "refundIds": refund_ids,
                    "providerPaymentId": self.payment.provider_payment_id,
                    "amount": after.kept - before.kept,
                    "refundedAmount": after.kept,
                }),
            ));
        }
        for (payment, total) in &after.others {
            let was = before.others.get(payment).copied().unwrap_or(0);
            if *total > was {
                let review = self.review_reason;
                let refund_ids = ids(self, Some(payment));
                entries.push(self.push(
                    TimelineType::RefundOtherPayment,
                    at,
                    json!({
                        "refundIds": refund_ids,
                        "providerPaymentId": payment,
                        "amount": total - was,
                        "refundedOnPayment": total,
                        "review": review,
                    }),
                ));
            }
        }
        entries
    }

    /// A signed capture or refund that names this order but whose amount or payment cannot be
    /// read: the provider may hold money for it, so the order is held for review (and out of
    /// the stale-order sweep) until a person decides. Once per event (the caller dedupes; the
    /// event's record names this order, and the ops alert names the event).
    pub fn hold_unreadable(
        &mut self,
        reason: &str,
        at: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        let entry = self.flag_review(
            ReviewReason::UnreadablePaymentEvent,
            at,
            json!({ "detail": reason }),
        );
        self.bump();
        Ok(entry)
    }

    /// Whether the stale-order sweep may cancel this order once it expires: unpaid and not
    /// held for a person. Stores index only these orders for the sweep.
    pub fn awaits_payment(&self) -> bool {
        self.status.is_unpaid() && !self.requires_review
    }

    /// An admin releases the hold; fulfilment may proceed if the order is paid.
    pub fn clear_review(
        &mut self,
        by: &str,
        at: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        if !self.requires_review {
            return Err(TransitionError::AlreadyApplied);
        }
        let reason = self.review_reason.take();
        self.requires_review = false;
        let entry = self.push(
            TimelineType::ReviewCleared,
            at,
            json!({ "by": by, "reason": reason }),
        );
        self.bump();
        Ok(entry)
    }

    /// Whether the post-payment work may run now: paid (a partial refund does not stop it; a
    /// full one does), not held for review, and not fulfilled already (a refund after
    /// fulfilment moves the status, not the goods). The worker checks this again before each
    /// step, so a refund or review that lands after the job was queued still stops fulfilment.
    pub fn ready_for_fulfilment(&self) -> bool {
        matches!(
            self.status,
            OrderStatus::Paid | OrderStatus::PartiallyRefunded
        ) && !self.requires_review
            && !self.is_fulfilled()
    }

    /// Whether the order was fulfilled, whatever its status says since (a refund after
    /// fulfilment makes it `partially_refunded`).
    pub fn is_fulfilled(&self) -> bool {
        self.timeline
            .iter()
            .any(|e| e.kind == TimelineType::Fulfilled)
    }

    pub fn invoice(&self) -> Option<&InvoiceInfo> {
        self.invoice.as_ref()
    }

    pub fn shipment(&self) -> Option<&ShipmentInfo> {
        self.shipment.as_ref()
    }

    pub fn notified_at(&self) -> Option<Timestamp> {
        self.notified_at
    }

    /// The invoice is issued (`invoice_issued`). Only for an order ready for fulfilment, once.
    pub fn record_invoice(
        &mut self,
        info: InvoiceInfo,
        at: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        if self.invoice.is_some() {
            return Err(TransitionError::AlreadyApplied);
        }
        self.require_ready("invoice")?;
        let entry = self.push(
            TimelineType::InvoiceIssued,
            at,
            json!({ "number": info.number, "key": info.key }),
        );
        self.invoice = Some(info);
        self.bump();
        Ok(entry)
    }

    /// The carrier created the shipment (`shipment_created`). After the invoice, once.
    pub fn record_shipment(
        &mut self,
        info: ShipmentInfo,
        at: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        if self.shipment.is_some() {
            return Err(TransitionError::AlreadyApplied);
        }
        self.require_ready("ship")?;
        if self.invoice.is_none() {
            return Err(TransitionError::NotAllowed {
                from: self.status,
                action: "ship (no invoice yet)",
            });
        }
        let entry = self.push(
            TimelineType::ShipmentCreated,
            at,
            json!({ "carrier": info.carrier, "shipmentId": info.shipment_id, "awb": info.awb }),
        );
        self.shipment = Some(info);
        self.bump();
        Ok(entry)
    }

    /// The customer and subscribers were told (no timeline entry of its own: `fulfilled` is it).
    pub fn record_notified(&mut self, at: Timestamp) -> Result<(), TransitionError> {
        if self.notified_at.is_some() {
            return Err(TransitionError::AlreadyApplied);
        }
        if !self.is_fulfilled() {
            return Err(TransitionError::NotAllowed {
                from: self.status,
                action: "notify fulfilment of",
            });
        }
        self.notified_at = Some(at);
        self.updated_at = at.max(self.updated_at);
        self.bump();
        Ok(())
    }

    /// Takes the fulfilment lease until `until`, unless another worker holds it at `now`.
    pub fn claim_fulfilment(
        &mut self,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<(), TransitionError> {
        if self.fulfilment_lease_until.is_some_and(|t| t > now) {
            return Err(TransitionError::Busy);
        }
        self.fulfilment_lease_until = Some(until);
        self.bump();
        Ok(())
    }

    /// Gives the lease back early (the job failed and will be retried).
    pub fn release_fulfilment(&mut self) {
        if self.fulfilment_lease_until.take().is_some() {
            self.bump();
        }
    }

    fn require_ready(&self, action: &'static str) -> Result<(), TransitionError> {
        if self.requires_review {
            return Err(TransitionError::UnderReview);
        }
        if !self.ready_for_fulfilment() {
            return Err(TransitionError::NotAllowed {
                from: self.status,
                action,
            });
        }
        Ok(())
    }

    /// All post-payment steps done.
    pub fn mark_fulfilled(&mut self, at: Timestamp) -> Result<TimelineEntry, TransitionError> {
        if self.is_fulfilled() {
            return Err(TransitionError::AlreadyApplied);
        }
        match self.status {
            OrderStatus::Fulfilled => Err(TransitionError::AlreadyApplied),
            OrderStatus::Paid | OrderStatus::PartiallyRefunded if self.requires_review => {
                Err(TransitionError::UnderReview)
            }
            OrderStatus::Paid | OrderStatus::PartiallyRefunded => {
                self.status = OrderStatus::Fulfilled;
                let entry = self.push(TimelineType::Fulfilled, at, json!({}));
                self.bump();
                Ok(entry)
            }
            from => Err(TransitionError::NotAllowed {
                from,
                action: "fulfil",
            }),
        }
    }
}

/// Who is reading: derived from the request's credentials by the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user: Option<UserId>,
    pub admin: bool,
    /// The `X-Order-Token` a guest presented, if any.
    pub order_token: Option<String>,
}

mod cancel;
mod disputes;
mod downloads;
mod requests;
mod tracking;
pub use cancel::{
    CancelRefusal, CancelResult, Cancellation, LatePaymentPolicy, SHIPMENT_CANCELLED,
    late_refund_id,
};
pub use disputes::Dispute;
pub use downloads::{DownloadRefusal, MAX_GRANTS_PER_SKU};
pub use requests::{
    FulfilmentStatus, NewRefund, PaymentStatus, RefundRefusal, RefundRequest, RefundState,
};
pub use tracking::{
    CarrierStatus, RtoRefundPolicy, ShipmentEvent, Tracking, TrackingChange, rto_refund_id,
};

#[cfg(test)]
pub(crate) mod tests;
