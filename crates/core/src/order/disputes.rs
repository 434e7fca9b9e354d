//! Chargebacks (`docs/decisions.md`, "Disputes"): one record per dispute id, moved by the
//! provider's dispute events in any order and any number of times. Won and lost are final; an
//! order disputed before it ships is held for review until the dispute is won (the hold is then
//! released) or a person clears it; a hold the order had for another reason is never released
//! by a dispute; a lost dispute's amount leaves the refundable balance.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    DisputeReport, DisputeStatus, Order, ReviewReason, TimelineEntry, TimelineType, TransitionError,
};
use crate::money::Money;
use crate::time::Timestamp;

/// A chargeback on one of the order's payments, as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dispute {
    pub dispute_id: String,
    pub status: DisputeStatus,
    pub amount: Money,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_due_by: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Order {
    /// The dispute the order view shows: an open one if any, else the latest.
    pub fn dispute(&self) -> Option<&Dispute> {
        self.disputes
            .iter()
            .find(|d| !d.status.is_closed())
            .or_else(|| self.disputes.iter().max_by_key(|d| d.updated_at))
    }

    pub fn disputes(&self) -> &[Dispute] {
        &self.disputes
    }

    /// A dispute not yet won or lost: the provider waits for evidence or is deciding.
    pub fn has_open_dispute(&self) -> bool {
        self.disputes.iter().any(|d| !d.status.is_closed())
    }

    /// What lost disputes took from the payment the order kept. A chargeback on another of its
    /// payments (a duplicate) took that payment's money, not this one's.
    pub(super) fn lost_to_disputes(&self) -> i64 {
        let kept = self.payment.provider_payment_id.as_deref();
        self.disputes
            .iter()
            .filter(|d| d.status == DisputeStatus::Lost)
            .filter(|d| d.payment_id.is_none() || d.payment_id.as_deref() == kept)
            .map(|d| d.amount.minor())
            .fold(0i64, i64::saturating_add)
    }

    /// A dispute event. The first report of a dispute opens it (`dispute_opened`, and a hold
    /// if nothing has shipped); a report that closes it adds `dispute_won` or `dispute_lost`
    /// (a win releases a hold the dispute put on); a closed dispute never reopens. A report
    /// that changes nothing is [`TransitionError::AlreadyApplied`].
    pub fn record_dispute(
        &mut self,
        report: &DisputeReport,
        at: Timestamp,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        let mut entries = Vec::new();
        let index = match self
            .disputes
            .iter()
            .position(|d| d.dispute_id == report.dispute_id)
        {
            Some(i) => {
                let d = &mut self.disputes[i];
                let same = d.status == report.status
                    && d.amount == report.amount
                    && d.evidence_due_by == report.evidence_due_by;
                if d.status.is_closed() || same {
                    return Err(TransitionError::AlreadyApplied);
                }
                d.amount = report.amount;
                d.evidence_due_by = report.evidence_due_by.or(d.evidence_due_by);
                d.updated_at = at;
                i
            }
            None => {
                self.disputes.push(Dispute {
                    dispute_id: report.dispute_id.clone(),
                    status: DisputeStatus::Open,
                    amount: report.amount,
                    reason: report.reason.clone(),
                    evidence_due_by: report.evidence_due_by,
                    payment_id: report.payment_id.clone(),
                    opened_at: at,
                    updated_at: at,
                });
                entries.push(self.push(TimelineType::DisputeOpened, at, self.dispute_meta(report)));
                // An order already held keeps its own reason (and its hold until a person
                // clears it); a win releases only a hold the dispute put on.
                if self.shipment.is_none()
                    && self.fulfilment_status() == super::FulfilmentStatus::Unfulfilled
                    && !self.requires_review
                {
                    entries.push(self.flag_review(
                        ReviewReason::Disputed,
                        at,
                        json!({ "disputeId": report.dispute_id }),
                    ));
                }
                self.disputes.len() - 1
            }
        };
        self.disputes[index].status = report.status;
        match report.status {
            DisputeStatus::Won => {
                entries.push(self.push(TimelineType::DisputeWon, at, self.dispute_meta(report)));
                // Released only when every dispute is won: a lost one keeps the hold for a
                // person, as it would alone.
                let all_won = self.disputes.iter().all(|d| d.status == DisputeStatus::Won);
                if self.review_reason == Some(ReviewReason::Disputed) && all_won {
                    self.requires_review = false;
                    self.review_reason = None;
                    entries.push(self.push(
                        TimelineType::ReviewCleared,
                        at,
                        json!({ "by": "dispute_won", "reason": ReviewReason::Disputed }),
                    ));
                }
            }
            DisputeStatus::Lost => {
                entries.push(self.push(TimelineType::DisputeLost, at, self.dispute_meta(report)));
            }
            DisputeStatus::Open | DisputeStatus::UnderReview => {}
        }
        self.bump();
        Ok(entries)
    }

    fn dispute_meta(&self, report: &DisputeReport) -> serde_json::Value {
        json!({
            "disputeId": report.dispute_id,
            "status": report.status,
            "amount": report.amount.minor(),
            "currency": report.amount.currency(),
            "reason": report.reason,
            "evidenceDueBy": report.evidence_due_by,
            "providerPaymentId": report.payment_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TokenHash;
    use crate::money::Currency;
    use crate::order::{Owner, PaymentCapture};

    fn inr(minor: i64) -> Money {
        Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000)
    }

    fn paid(amount: i64) -> Order {
        let mut o = crate::order::tests::sample_order(Owner::Guest {
            token_hash: TokenHash::of("x"),
        });
        o.record_payment(
            &PaymentCapture {
                provider_payment_id: "pay_1".into(),
                amount: inr(amount),
            },
            at(1),
        )
        .unwrap();
        o
    }

    fn report(id: &str, status: DisputeStatus) -> DisputeReport {
        report_on("pay_1", id, status)
    }

    fn report_on(payment: &str, id: &str, status: DisputeStatus) -> DisputeReport {
        DisputeReport {
            dispute_id: id.into(),
            payment_id: Some(payment.into()),
            status,
            amount: inr(10_000),
            reason: "fraudulent".into(),
            evidence_due_by: None,
        }
    }

    /// Found by the refund property (`crates/memory/tests/payment_properties.rs`): a short
    /// capture held the order; a dispute reported won straight away put its own hold over it
    /// and released it, so the order was free to ship with the short capture unexamined.
    #[test]
    fn a_won_dispute_never_releases_a_hold_it_did_not_put() {
        let mut o = paid(49_999);
        assert_eq!(o.review_reason(), Some(ReviewReason::AmountMismatch));
        o.record_dispute(&report("du_1", DisputeStatus::Open), at(2))
            .unwrap();
        o.record_dispute(&report("du_1", DisputeStatus::Won), at(3))
            .unwrap();
        assert!(o.requires_review());
        assert_eq!(o.review_reason(), Some(ReviewReason::AmountMismatch));

        let mut straight = paid(49_999);
        straight
            .record_dispute(&report("du_1", DisputeStatus::Won), at(2))
            .unwrap();
        assert!(straight.requires_review());
        assert_eq!(straight.review_reason(), Some(ReviewReason::AmountMismatch));
    }

    #[test]
    fn a_won_dispute_releases_its_own_hold_unless_another_was_lost() {
        let mut o = paid(50_000);
        o.record_dispute(&report("du_1", DisputeStatus::Open), at(2))
            .unwrap();
        assert_eq!(o.review_reason(), Some(ReviewReason::Disputed));
        o.record_dispute(&report("du_1", DisputeStatus::Won), at(3))
            .unwrap();
        assert!(!o.requires_review());

        let mut two = paid(50_000);
        two.record_dispute(&report("du_1", DisputeStatus::Lost), at(2))
            .unwrap();
        two.record_dispute(&report("du_2", DisputeStatus::Open), at(3))
            .unwrap();
        two.record_dispute(&report("du_2", DisputeStatus::Won), at(4))
            .unwrap();
        assert!(two.requires_review(), "the lost dispute still holds it");
        assert_eq!(two.review_reason(), Some(ReviewReason::Disputed));
    }

    /// Found by the refund property: a chargeback lost on the buyer's duplicate payment took
    /// its amount out of the kept payment's refundable balance too.
    #[test]
    fn a_dispute_lost_on_a_duplicate_payment_leaves_the_kept_payments_balance() {
        let mut o = paid(50_000);
        o.record_payment(
            &PaymentCapture {
                provider_payment_id: "pay_2".into(),
                amount: inr(50_000),
            },
            at(2),
        )
        .unwrap();
        o.record_dispute(&report_on("pay_2", "du_2", DisputeStatus::Lost), at(3))
            .unwrap();
        assert_eq!(o.refundable(), Some(inr(50_000)));
        o.record_dispute(&report_on("pay_1", "du_1", DisputeStatus::Lost), at(4))
            .unwrap();
        assert_eq!(o.refundable(), Some(inr(40_000)));
    }
}
