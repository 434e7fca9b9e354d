//! Cancellation on request (`POST /orders/{orderId}/cancel`, `docs/decisions.md`,
//! "Cancellation"): by the order's owner, a guest with its token, or an admin. An unpaid order
//! is cancelled at once; a paid one that has not been handed to the carrier is cancelled with a
//! refund of everything still refundable, recorded in the same write (and sent after it); one
//! that has shipped cannot be cancelled here.

use serde_json::json;

use super::requests::NewRefund;
use super::{Order, OrderStatus, RefundRequest, TimelineEntry, TimelineType};
use crate::time::Timestamp;

/// A shipment's `status` once the carrier cancelled it before pickup.
pub const SHIPMENT_CANCELLED: &str = "cancelled";

/// Why an order cannot be cancelled now. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelRefusal {
    #[error("the order has been handed to the carrier (or delivered)")]
    AlreadyShipped,
    #[error("the order is held for review; a person decides what happens to it")]
    UnderReview,
    #[error("the order is being fulfilled right now; try again shortly")]
    FulfilmentInProgress,
    #[error("the order's payment is disputed; it cannot be refunded while the dispute is open")]
    Disputed,
}

/// What a cancellation did.
#[derive(Debug, Clone)]
pub struct Cancellation {
    pub entries: Vec<TimelineEntry>,
    /// The refund of a paid order, recorded `requested` for the caller to send.
    pub refund: Option<RefundRequest>,
}

/// `Ok(None)`: the order was already cancelled (nothing changed).
pub type CancelResult = Result<Option<Cancellation>, CancelRefusal>;

impl Order {
    /// Cancels on request. `refund_id` names the refund a paid order gets (the whole
    /// refundable balance, sent by the caller holding its lease until `lease_until`).
    /// `shipment_cancelled`: the carrier has cancelled the order's shipment (before pickup);
    /// without it an order with a shipment is [`CancelRefusal::AlreadyShipped`].
    pub fn cancel_on_request(
        &mut self,
        reason: &str,
        by: &str,
        refund_id: &str,
        now: Timestamp,
        lease_until: Timestamp,
        shipment_cancelled: bool,
    ) -> CancelResult {
        if self.status == OrderStatus::Cancelled {
            return Ok(None);
        }
        let shipped = self.shipment.is_some() || self.is_fulfilled();
        if shipped && !(shipment_cancelled && self.shipment.is_some()) {
            return Err(CancelRefusal::AlreadyShipped);
        }
        // A worker holding the lease may be creating a shipment right now; once the customer
        // has been told, the job is over whatever the lease says.
        if self.fulfilment_lease_until.is_some_and(|t| t > now) && self.notified_at.is_none() {
            return Err(CancelRefusal::FulfilmentInProgress);
        }
        let paid = self.payment.captured.is_some();
        if !paid && self.requires_review {
            return Err(CancelRefusal::UnderReview);
        }
        if paid && self.has_open_dispute() {
            return Err(CancelRefusal::Disputed);
        }
        let mut entries = Vec::new();
        if let Some(s) = self.shipment.as_mut().filter(|_| shipment_cancelled) {
            s.status = SHIPMENT_CANCELLED.into();
            let meta = json!({ "carrier": s.carrier, "shipmentId": s.shipment_id, "awb": s.awb });
            entries.push(self.push(TimelineType::ShipmentCancelled, now, meta));
        }
        self.status = OrderStatus::Cancelled;
        entries.push(self.push(
            TimelineType::Cancelled,
            now,
            json!({ "reason": reason, "by": by, "refundId": paid.then_some(refund_id) }),
        ));
        self.bump();
        let mut refund = None;
        if paid && self.refundable().is_some_and(|b| b.minor() > 0) {
            let new = NewRefund {
                refund_id: refund_id.to_owned(),
                amount: None,
                reason: Some(format!("order cancelled: {reason}")),
                requested_by: "cancellation".into(),
                idempotency_key: None,
                request_hash: None,
            };
            // The balance is positive and no dispute is open: it cannot be refused.
            if let Ok((request, entry)) = self.request_refund(new, now, lease_until) {
                entries.push(entry);
                refund = Some(request);
            }
        }
        Ok(Some(Cancellation { entries, refund }))
    }

    /// Whether a person or a rule cancelled the order on request (not the stale-order sweep).
    pub fn cancelled_on_request(&self) -> bool {
        self.status == OrderStatus::Cancelled
            && self
                .timeline
                .iter()
                .rev()
                .find(|e| e.kind == TimelineType::Cancelled)
                .is_some_and(|e| e.meta.contains_key("by"))
    }
}

/// What becomes of a payment for a cancelled order that is not reinstated
/// (`LATE_PAYMENT_POLICY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LatePaymentPolicy {
    /// Refunded in full at once, through the provider.
    #[default]
    Refund,
    /// Kept and held for a person (`paid_after_cancel`).
    Review,
}

impl LatePaymentPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "refund" => Some(Self::Refund),
            "review" => Some(Self::Review),
            _ => None,
        }
    }
}

/// The refund id of a late payment's automatic refund: derived from the payment, so every
/// delivery of that payment's events names the same refund.
pub fn late_refund_id(payment_id: &str) -> String {
    format!("rf_late_{payment_id}")
}

impl Order {
    /// A payment for a cancelled order that will not be reinstated, under
    /// [`LatePaymentPolicy::Refund`]: the money is recorded (the order stays cancelled) and a
    /// refund of all of it is recorded `requested` ([`late_refund_id`]), for the caller to send.
    /// The same payment again is [`TransitionError::AlreadyApplied`]; another payment on an order
    /// that already has one is held for review as a duplicate payment.
    pub fn record_late_payment_refund(
        &mut self,
        capture: &super::PaymentCapture,
        at: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<TimelineEntry>, super::TransitionError> {
        if self.status != OrderStatus::Cancelled {
            return Err(super::TransitionError::NotAllowed {
                from: self.status,
                action: "refund a late payment of",
            });
        }
        if self.payment.captured.is_some() {
            let mut before = self.clone();
            // Same rules as a second payment on a paid order.
            before.status = OrderStatus::Paid;
            let entries = before.record_payment(capture, at)?;
            before.status = OrderStatus::Cancelled;
            *self = before;
            return Ok(entries);
        }
        self.payment.provider_payment_id = Some(capture.provider_payment_id.clone());
        self.payment.captured = Some(capture.amount);
        let mut entries = vec![self.push(
            TimelineType::PaymentSucceeded,
            at,
            json!({
                "providerPaymentId": capture.provider_payment_id,
                "amount": capture.amount.minor(),
                "currency": capture.amount.currency(),
                "afterCancel": true,
            }),
        )];
        let held: Vec<String> = self.refunds.iter().map(|r| r.refund_id.clone()).collect();
        entries.extend(self.account_refunds(&super::RefundTotals::default(), &held, at));
        self.bump();
        let new = NewRefund {
            refund_id: late_refund_id(&capture.provider_payment_id),
            amount: None,
            reason: Some("paid after the order was cancelled".into()),
            requested_by: "late_payment".into(),
            idempotency_key: None,
            request_hash: None,
        };
        if let Ok((_, entry)) = self.request_refund(new, at, lease_until) {
            entries.push(entry);
        }
        Ok(entries)
    }
}
