//! Refunds this service asks a provider for: ledger entries that move `requested` → `pending`
//! → `succeeded` | `failed` (`docs/decisions.md`, "Refunds started here").
//!
//! A request never counts as refunded money by itself. What the provider returned is counted
//! through the order's reported refunds (`Order::record_refunds`), keyed by the provider's refund
//! id; a request only ties our id to that provider id, so the provider's answer to our call and
//! the webhook that follows it, in either order and however often, count the money once. Until
//! then a request is *in flight* and holds its amount out of the refundable balance, so two
//! requests can never together ask for more than was captured.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    ChargeTotal, Order, RefundReport, ReviewReason, TimelineEntry, TimelineType, TransitionError,
};
use crate::money::Money;
use crate::ports::{ProviderRefund, ProviderRefundStatus};
use crate::time::Timestamp;

/// Where a refund this service asked for stands (`refunds[].status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Recorded here; the provider has not (knowingly) accepted it yet. The sweep sends it
    /// again, with the same idempotency key, until the provider answers.
    Requested,
    /// The provider accepted it; the money is on its way.
    Pending,
    Succeeded,
    Failed,
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// One refund this service asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// Ours (`rf_…`): the provider's idempotency key is derived from it.
    pub refund_id: String,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub status: RefundState,
    /// Stripe `re_…` / Razorpay `rfnd_…`, once the provider named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_refund_id: Option<String>,
    /// The admin who asked, or the rule that did (`cancellation`, `late_payment`).
    pub requested_by: String,
    /// The `Idempotency-Key` it was created under, and the fingerprint of that request's body:
    /// the same key with another body is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
    pub requested_at: Timestamp,
    pub updated_at: Timestamp,
    /// Calls made to the provider for it.
    pub attempts: u32,
    /// Whoever took the send holds it until then; nobody else calls the provider for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lease_until: Option<Timestamp>,
    /// While `pending`: when the sweep next asks the provider where it stands, in case its
    /// webhook was lost (`RECONCILE_AFTER_MINUTES` after it was sent, then after each check
    /// that found it still pending). Absent on requests recorded before this existed: due at
    /// once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// A refund to record before calling the provider.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub refund_id: String,
    /// Minor units in the captured currency; `None` = the whole refundable balance.
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub requested_by: String,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
}

/// Why a refund cannot be asked for now. Nothing is recorded and nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("the order has no captured payment to refund")]
    NotRefundable,
    #[error("the order's payment is disputed; refunds wait until the dispute is closed")]
    Disputed,
    #[error("{requested} exceeds the refundable balance of {balance}")]
    ExceedsBalance { requested: i64, balance: Money },
}

/// The order's payment as the view shows it beside `status` (`paymentStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Unpaid,
    Paid,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Paid => "paid",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }
}

/// How far the goods got (`fulfilmentStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    Unfulfilled,
    Fulfilled,
    /// The carrier delivered it.
    Delivered,
    /// It came back to the seller (RTO delivered).
    Returned,
    /// Its shipment was cancelled at the carrier before pickup.
    Cancelled,
}

impl FulfilmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unfulfilled => "unfulfilled",
            Self::Fulfilled => "fulfilled",
            Self::Delivered => "delivered",
            Self::Returned => "returned",
            Self::Cancelled => "cancelled",
        }
    }
}

impl Order {
    pub fn refund_requests(&self) -> &[RefundRequest] {
        &self.refund_requests
    }

    pub fn refund_request(&self, refund_id: &str) -> Option<&RefundRequest> {
        self.refund_requests
            .iter()
            .find(|r| r.refund_id == refund_id)
    }

    /// The request created under an `Idempotency-Key`, if any.
    pub fn refund_request_by_key(&self, key: &str) -> Option<&RefundRequest> {
        self.refund_requests
            .iter()
            .find(|r| r.idempotency_key.as_deref() == Some(key))
    }

    pub fn payment_status(&self) -> PaymentStatus {
        let Some(captured) = self.payment.captured else {
            return PaymentStatus::Unpaid;
        };
        match self.refunded().minor() {
            0 => PaymentStatus::Paid,
            r if r >= captured.minor() => PaymentStatus::Refunded,
            _ => PaymentStatus::PartiallyRefunded,
        }
    }

    pub fn fulfilment_status(&self) -> FulfilmentStatus {
        use crate::tracking::ShipmentState;
        if self.shipment_state() == Some(ShipmentState::Delivered) {
            FulfilmentStatus::Delivered
        } else if self.shipment_state() == Some(ShipmentState::Returned) {
            FulfilmentStatus::Returned
        } else if self
            .shipment
            .as_ref()
            .is_some_and(|s| s.status == super::cancel::SHIPMENT_CANCELLED)
        {
            FulfilmentStatus::Cancelled
        } else if self.is_fulfilled() {
            FulfilmentStatus::Fulfilled
        } else {
            FulfilmentStatus::Unfulfilled
        }
    }

    /// Requests still owed money by the provider: asked for, and not yet counted or failed.
    fn in_flight(&self) -> i64 {
        self.refund_requests
            .iter()
            .filter(|r| matches!(r.status, RefundState::Requested | RefundState::Pending))
            .filter(|r| {
                r.provider_refund_id
                    .as_ref()
                    .is_none_or(|p| !self.refunds.iter().any(|l| &l.refund_id == p))
            })
            .map(|r| r.amount.minor())
            .fold(0i64, i64::saturating_add)
    }

    /// What may still be refunded: captured, less what was refunded, what is in flight and
    /// what lost disputes took. `None` before a capture.
    pub fn refundable(&self) -> Option<Money> {
        let captured = self.payment.captured?;
        let left =
            captured.minor() - self.refunded().minor() - self.in_flight() - self.lost_to_disputes();
        Some(
            Money::new(left.max(0), captured.currency())
                .unwrap_or(Money::zero(captured.currency())),
        )
    }

    /// Records a refund about to be asked of the provider (`refund_requested`), taken for
    /// sending by the caller until `lease_until`.
    pub fn request_refund(
        &mut self,
        new: NewRefund,
        at: Timestamp,
        lease_until: Timestamp,
    ) -> Result<(RefundRequest, TimelineEntry), RefundRefusal> {
        let balance = self.refundable().ok_or(RefundRefusal::NotRefundable)?;
        if self.has_open_dispute() {
            return Err(RefundRefusal::Disputed);
        }
        let requested = new.amount.unwrap_or(balance.minor());
        if requested <= 0 || requested > balance.minor() {
            return Err(RefundRefusal::ExceedsBalance { requested, balance });
        }
        let amount = Money::new(requested, balance.currency())
            .map_err(|_| RefundRefusal::ExceedsBalance { requested, balance })?;
        let request = RefundRequest {
            refund_id: new.refund_id,
            amount,
            reason: new.reason,
            status: RefundState::Requested,
            provider_refund_id: None,
            requested_by: new.requested_by,
            idempotency_key: new.idempotency_key,
            request_hash: new.request_hash,
            requested_at: at,
            updated_at: at,
            attempts: 1,
            send_lease_until: Some(lease_until),
            check_at: None,
            failure: None,
        };
        let entry = self.push(
            TimelineType::RefundRequested,
            at,
            json!({
                "refundId": request.refund_id,
                "amount": amount.minor(),
                "currency": amount.currency(),
                "by": request.requested_by,
                "reason": request.reason,
            }),
        );
        self.refund_requests.push(request.clone());
        self.bump();
        Ok((request, entry))
    }

    /// Takes a `requested` refund for sending until `until`, unless someone holds it at `now`.
    pub fn claim_refund_send(
        &mut self,
        refund_id: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<RefundRequest, TransitionError> {
        let r = self.request_mut(refund_id)?;
        if r.status != RefundState::Requested {
            return Err(TransitionError::AlreadyApplied);
        }
        if r.send_lease_until.is_some_and(|t| t > now) {
            return Err(TransitionError::Busy);
        }
        r.send_lease_until = Some(until);
        r.attempts += 1;
        r.updated_at = now;
        let claimed = r.clone();
        self.bump();
        Ok(claimed)
    }

    /// The oldest `requested` refund's time, while any is owed a call.
    pub fn owes_refund_call(&self) -> Option<Timestamp> {
        self.refund_requests
            .iter()
            .filter(|r| r.status == RefundState::Requested)
            .map(|r| r.requested_at)
            .min()
    }

    /// When a `pending` refund is next to be asked about at the provider (its webhook may have
    /// been lost), the earliest of them; `None` while none is pending.
    pub fn refund_check_due(&self) -> Option<Timestamp> {
        self.refund_requests
            .iter()
            .filter(|r| r.status == RefundState::Pending && r.provider_refund_id.is_some())
            .map(|r| r.check_at.unwrap_or(r.updated_at))
            .min()
    }

    /// When the sweep next owes this order refund work — a call for a `requested` refund (from
    /// when it was asked for), or a check of a `pending` one (from its `check_at`) — the
    /// earliest of them: the sweep's index (`REFUND_OWED`).
    pub fn refund_work_due(&self) -> Option<Timestamp> {
        match (self.owes_refund_call(), self.refund_check_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The `pending` refunds due for a check at `now`: `(our id, the provider's id)`.
    pub fn refund_checks_due(&self, now: Timestamp) -> Vec<(String, String)> {
        self.refund_requests
            .iter()
            .filter(|r| r.status == RefundState::Pending)
            .filter(|r| r.check_at.unwrap_or(r.updated_at) <= now)
            .filter_map(|r| Some((r.refund_id.clone(), r.provider_refund_id.clone()?)))
            .collect()
    }

    /// The provider still reports the refund pending: it is asked again at `check_at`. Not a
    /// timeline entry (nothing happened); `AlreadyApplied` once it is no longer pending.
    pub fn record_refund_still_pending(
        &mut self,
        refund_id: &str,
        check_at: Timestamp,
    ) -> Result<(), TransitionError> {
        let r = self.request_mut(refund_id)?;
        if r.status != RefundState::Pending {
            return Err(TransitionError::AlreadyApplied);
        }
        r.check_at = Some(check_at);
        self.bump();
        Ok(())
    }

    /// The provider answered our call. `succeeded` counts the money now (once: the refund's
    /// provider id is the ledger key the webhook will use too); `pending` waits for the webhook,
    /// and is asked about at `check_at` if none has come by then; `failed` releases the amount.
    /// A request already settled (by a webhook that came first) is not moved back.
    pub fn record_refund_sent(
        &mut self,
        refund_id: &str,
        answer: &ProviderRefund,
        at: Timestamp,
        check_at: Timestamp,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        let r = self.request_mut(refund_id)?;
        let known = r.provider_refund_id.is_some();
        if r.status.is_final()
            || (known
                && r.status == RefundState::Pending
                && answer.status == ProviderRefundStatus::Pending)
        {
            return Err(TransitionError::AlreadyApplied);
        }
        r.provider_refund_id = Some(answer.provider_refund_id.clone());
        r.send_lease_until = None;
        r.updated_at = at;
        match answer.status {
            ProviderRefundStatus::Pending => {
                r.status = RefundState::Pending;
                r.check_at = Some(check_at);
                self.bump();
                Ok(Vec::new())
            }
            ProviderRefundStatus::Failed => {
                let entry =
                    self.fail_request(refund_id, "the provider reported the refund failed", at);
                self.bump();
                Ok(entry.into_iter().collect())
            }
            ProviderRefundStatus::Succeeded => {
                let report = RefundReport {
                    payment_id: self.payment.provider_payment_id.clone(),
                    refunds: vec![(answer.provider_refund_id.clone(), answer.amount)],
                    charge: answer.charge_id.clone().map(|charge_id| ChargeTotal {
                        charge_id,
                        total: None,
                    }),
                    our_ids: vec![(answer.provider_refund_id.clone(), refund_id.to_owned())],
                };
                match self.record_refunds(&report, at) {
                    Err(TransitionError::AlreadyApplied) => {
                        // The ledger had it (a webhook came first) and the request was
                        // settled with it.
                        self.bump();
                        Ok(Vec::new())
                    }
                    other => other,
                }
            }
        }
    }

    /// The provider refused our call (a 4xx): nothing was refunded, the amount is released.
    pub fn record_refund_rejected(
        &mut self,
        refund_id: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        let r = self.request_mut(refund_id)?;
        if r.status.is_final() {
            return Err(TransitionError::AlreadyApplied);
        }
        r.send_lease_until = None;
        let entry = self
            .fail_request(refund_id, message, at)
            .ok_or(TransitionError::AlreadyApplied)?;
        self.bump();
        Ok(entry)
    }

    /// A refund the provider will not complete (`refund.failed`, a refund updated to failed).
    /// Ours is marked failed and its amount released. If the ledger had already counted it
    /// (the provider said it succeeded before) — by its id, or inside a Stripe charge's total
    /// whose refunds were not listed — the money may not have reached the customer: the order
    /// is held for a person, the ledger left as it is.
    pub fn record_refund_failure(
        &mut self,
        failure: &super::RefundFailure,
        at: Timestamp,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        let ours = self
            .refund_requests
            .iter()
            .find(|r| {
                failure.refund_id.as_deref() == Some(r.refund_id.as_str())
                    || r.provider_refund_id.as_deref() == Some(failure.provider_refund_id.as_str())
            })
            .map(|r| r.refund_id.clone());
        let amount = ours
            .as_deref()
            .and_then(|id| self.refund_request(id))
            .map(|r| r.amount.minor());
        let counted = self
            .refunds
            .iter()
            .any(|l| l.refund_id == failure.provider_refund_id)
            || self.unitemised_of(failure.payment_id.as_deref()) >= amount.unwrap_or(1);
        let mut entries = Vec::new();
        if let Some(id) = &ours {
            if let Some(r) = self.refund_requests.iter_mut().find(|r| &r.refund_id == id)
                && r.provider_refund_id.is_none()
            {
                r.provider_refund_id = Some(failure.provider_refund_id.clone());
            }
            entries.extend(self.fail_request(id, &failure.reason, at));
        }
        if counted && !self.held_for_refund(&failure.provider_refund_id) {
            entries.push(self.flag_review(
                ReviewReason::RefundFailed,
                at,
                json!({
                    "providerRefundId": failure.provider_refund_id,
                    "detail": failure.reason,
                }),
            ));
        }
        if entries.is_empty() {
            return Err(TransitionError::AlreadyApplied);
        }
        self.bump();
        Ok(entries)
    }

    /// What the ledger counts of `payment` (any payment, when `None`) in charge totals whose
    /// refunds were not listed (`<charge>:unitemised`): it may include any of their refunds.
    fn unitemised_of(&self, payment: Option<&str>) -> i64 {
        self.refunds
            .iter()
            .filter(|l| {
                l.charge_id
                    .as_ref()
                    .is_some_and(|c| l.refund_id == format!("{c}:unitemised"))
            })
            .filter(|l| payment.is_none() || l.payment_id.as_deref() == payment)
            .map(|l| l.amount.minor())
            .sum()
    }

    /// Whether the order was held for a person over this provider refund.
    fn held_for_refund(&self, provider_refund_id: &str) -> bool {
        self.timeline.iter().any(|e| {
            e.kind == TimelineType::ReviewRequired
                && e.meta.get("providerRefundId").and_then(|v| v.as_str())
                    == Some(provider_refund_id)
        })
    }

    /// Ties reported refunds to our requests: by the id the provider echoed, or by the
    /// provider id our call was answered with. `true` when a request moved, or the order was
    /// held.
    ///
    /// A request already failed whose refund the ledger now counts — the provider failed it
    /// after it succeeded, and the success (by its id, or inside a charge total reported
    /// before the failure) was delivered after the failure — holds the order for a person, as
    /// when the two arrive the other way round (`record_refund_failure`): in either order the
    /// money counts, the request is failed, and someone is asked. A charge total does not say
    /// which refunds it holds, so one that could hold the failed refund is enough: a hold a
    /// person clears is cheaper than money shown returned that was not.
    /// `true` when a request moved, with the hold entries it added.
    pub(super) fn settle_requests(
        &mut self,
        our_ids: &[(String, String)],
        at: Timestamp,
    ) -> (bool, Vec<TimelineEntry>) {
        let mut held = Vec::new();
        let ledger: Vec<String> = self.refunds.iter().map(|l| l.refund_id.clone()).collect();
        let mut moved = false;
        for r in &mut self.refund_requests {
            let echoed = our_ids
                .iter()
                .find(|(_, ours)| ours == &r.refund_id)
                .map(|(provider, _)| provider.clone());
            if r.provider_refund_id.is_none()
                && let Some(p) = echoed
            {
                r.provider_refund_id = Some(p);
                moved = true;
            }
            let counted = r
                .provider_refund_id
                .as_ref()
                .is_some_and(|p| ledger.contains(p));
            if counted && r.status != RefundState::Succeeded && r.status != RefundState::Failed {
                r.status = RefundState::Succeeded;
                r.send_lease_until = None;
                r.updated_at = at;
                moved = true;
            }
        }
        let unitemised = self.unitemised_of(self.payment.provider_payment_id.as_deref());
        let reversed: Vec<(String, String)> = self
            .refund_requests
            .iter()
            .filter(|r| r.status == RefundState::Failed)
            .filter_map(|r| {
                let p = r.provider_refund_id.clone()?;
                (ledger.contains(&p) || unitemised >= r.amount.minor())
                    .then(|| (p, r.failure.clone().unwrap_or_default()))
            })
            .collect();
        for (provider_refund_id, why) in reversed {
            if !self.held_for_refund(&provider_refund_id) {
                held.push(self.flag_review(
                    ReviewReason::RefundFailed,
                    at,
                    json!({ "providerRefundId": provider_refund_id, "detail": why }),
                ));
                moved = true;
            }
        }
        (moved, held)
    }

    fn request_mut(&mut self, refund_id: &str) -> Result<&mut RefundRequest, TransitionError> {
        let status = self.status;
        self.refund_requests
            .iter_mut()
            .find(|r| r.refund_id == refund_id)
            .ok_or(TransitionError::NotAllowed {
                from: status,
                action: "settle an unknown refund of",
            })
    }

    /// Marks a request failed (`refund_failed`); `None` if it already was.
    fn fail_request(&mut self, refund_id: &str, why: &str, at: Timestamp) -> Option<TimelineEntry> {
        let r = self
            .refund_requests
            .iter_mut()
            .find(|r| r.refund_id == refund_id && r.status != RefundState::Failed)?;
        r.status = RefundState::Failed;
        r.failure = Some(why.to_owned());
        r.send_lease_until = None;
        r.updated_at = at;
        let meta = json!({
            "refundId": r.refund_id,
            "providerRefundId": r.provider_refund_id,
            "amount": r.amount.minor(),
            "reason": why,
        });
        Some(self.push(TimelineType::RefundFailed, at, meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TokenHash;
    use crate::money::Currency;
    use crate::order::{Owner, PaymentCapture, RefundFailure};

    fn inr(minor: i64) -> Money {
        Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000)
    }

    /// A paid order with a 40 000 refund the provider accepted as `rfnd_1`.
    fn refund_pending() -> Order {
        let mut o = crate::order::tests::sample_order(Owner::Guest {
            token_hash: TokenHash::of("x"),
        });
        o.record_payment(
            &PaymentCapture {
                provider_payment_id: "pay_1".into(),
                amount: inr(50_000),
            },
            at(1),
        )
        .unwrap();
        o.request_refund(
            NewRefund {
                refund_id: "rf_1".into(),
                amount: Some(40_000),
                reason: None,
                requested_by: "admin".into(),
                idempotency_key: Some("k".into()),
                request_hash: Some("h".into()),
            },
            at(2),
            at(62),
        )
        .unwrap();
        o.record_refund_sent(
            "rf_1",
            &ProviderRefund {
                provider_refund_id: "rfnd_1".into(),
                status: ProviderRefundStatus::Pending,
                amount: inr(40_000),
                charge_id: None,
            },
            at(3),
            at(603),
        )
        .unwrap();
        o
    }

    fn succeeded() -> RefundReport {
        RefundReport {
            payment_id: Some("pay_1".into()),
            refunds: vec![("rfnd_1".into(), inr(40_000))],
            charge: None,
            our_ids: vec![("rfnd_1".into(), "rf_1".into())],
        }
    }

    fn failed() -> RefundFailure {
        RefundFailure {
            payment_id: Some("pay_1".into()),
            provider_refund_id: "rfnd_1".into(),
            refund_id: Some("rf_1".into()),
            reason: "card closed".into(),
        }
    }

    /// Found by the refund property (`crates/memory/tests/payment_properties.rs`): a refund
    /// the provider failed after it succeeded, whose success webhook was delivered after the
    /// failure, was counted as refunded with nobody asked to look — while the other delivery
    /// order held the order for a person.
    #[test]
    fn a_refund_failed_after_it_succeeded_holds_the_order_whichever_report_comes_first() {
        let mut failure_first = refund_pending();
        failure_first
            .record_refund_failure(&failed(), at(4))
            .unwrap();
        assert!(!failure_first.requires_review(), "nothing counted yet");
        failure_first.record_refunds(&succeeded(), at(5)).unwrap();

        let mut success_first = refund_pending();
        success_first.record_refunds(&succeeded(), at(4)).unwrap();
        success_first
            .record_refund_failure(&failed(), at(5))
            .unwrap();

        for o in [&failure_first, &success_first] {
            assert_eq!(o.refunded().minor(), 40_000);
            assert_eq!(
                o.refund_request("rf_1").unwrap().status,
                RefundState::Failed
            );
            assert_eq!(o.review_reason(), Some(ReviewReason::RefundFailed));
            let holds = o
                .timeline()
                .iter()
                .filter(|e| e.kind == TimelineType::ReviewRequired)
                .count();
            assert_eq!(holds, 1);
        }
        assert_eq!(
            failure_first.record_refunds(&succeeded(), at(6)),
            Err(TransitionError::AlreadyApplied),
            "held once"
        );
    }

    /// Found by the refund property: Stripe reported the charge's total only (no refund
    /// list), then failed the refund inside it. The total stays counted (the ledger keeps the
    /// largest total reported), so the order must be held — it was not, as nothing named the
    /// refund by its id.
    #[test]
    fn a_refund_failed_inside_a_reported_charge_total_holds_the_order() {
        let mut o = refund_pending();
        o.record_refunds(
            &RefundReport {
                payment_id: Some("pay_1".into()),
                refunds: Vec::new(),
                charge: Some(crate::order::ChargeTotal {
                    charge_id: "ch_1".into(),
                    total: Some(inr(40_000)),
                }),
                our_ids: Vec::new(),
            },
            at(4),
        )
        .unwrap();
        assert_eq!(o.refunded().minor(), 40_000);
        o.record_refund_failure(&failed(), at(5)).unwrap();
        assert_eq!(
            o.refund_request("rf_1").unwrap().status,
            RefundState::Failed
        );
        assert_eq!(o.review_reason(), Some(ReviewReason::RefundFailed));
    }

    /// Found by the refund property: the same, the other way round — the failure recorded
    /// first, then a charge total Stripe reported before the refund failed.
    #[test]
    fn a_charge_total_that_may_hold_a_failed_refund_holds_the_order() {
        let mut o = refund_pending();
        o.record_refund_failure(&failed(), at(4)).unwrap();
        assert!(!o.requires_review(), "nothing counted yet");
        o.record_refunds(
            &RefundReport {
                payment_id: Some("pay_1".into()),
                refunds: Vec::new(),
                charge: Some(crate::order::ChargeTotal {
                    charge_id: "ch_1".into(),
                    total: Some(inr(40_000)),
                }),
                our_ids: Vec::new(),
            },
            at(5),
        )
        .unwrap();
        assert_eq!(o.refunded().minor(), 40_000);
        assert_eq!(o.review_reason(), Some(ReviewReason::RefundFailed));
    }
}
