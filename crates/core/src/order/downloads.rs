//! Digital downloads (`GET /orders/{orderId}/downloads/{sku}`, `docs/decisions.md`, "Digital
//! downloads"): whether the order's buyer may have a link to a digital product's file now, and
//! the record of each link handed out.
//!
//! The checks, in order: the SKU must be on the order and sold digitally (else the order is
//! "not found" for it, as on reads); the payment must have been captured (else `NotPaid`); the
//! order must not be held for review (`UnderReview` — a person decides, whatever the money
//! says); the money must still be kept — not refunded in full, the order not cancelled
//! (`NotPaid`); and the SKU must have had fewer than [`MAX_GRANTS_PER_SKU`] links
//! (`LimitReached`). None of them names an order status other than `cancelled`, so a status
//! added later (`delivered`, …) changes nothing here.

use serde_json::json;

use super::{Order, OrderStatus, PaymentStatus, TimelineEntry, TimelineType};
use crate::ids::Sku;
use crate::time::Timestamp;

/// Links recorded for one SKU of one order at most: each is a timeline entry, so this bounds
/// how much a caller can grow the order.
pub const MAX_GRANTS_PER_SKU: usize = 10;

/// Why no link is handed out. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadRefusal {
    /// The SKU is not on the order, or is not sold digitally.
    #[error("no such download on this order")]
    NotFound,
    #[error(
        "the order has not been paid (or its payment was refunded in full or it was cancelled)"
    )]
    NotPaid,
    #[error("the order is held for review; downloads open once a person has cleared it")]
    UnderReview,
    #[error(
        "this product has been downloaded {MAX_GRANTS_PER_SKU} times for this order, the most allowed; contact support for more"
    )]
    LimitReached,
}

impl Order {
    /// Whether a link to `sku`'s file may be handed out now; `digital` says whether the SKU is
    /// sold digitally (`DIGITAL_SKUS`). Changes nothing.
    pub fn check_download(&self, sku: &Sku, digital: bool) -> Result<(), DownloadRefusal> {
        if !digital || !self.lines.iter().any(|l| &l.sku == sku) {
            return Err(DownloadRefusal::NotFound);
        }
        let status = self.payment_status();
        if status == PaymentStatus::Unpaid {
            return Err(DownloadRefusal::NotPaid);
        }
        if self.requires_review {
            return Err(DownloadRefusal::UnderReview);
        }
        let kept = matches!(
            status,
            PaymentStatus::Paid | PaymentStatus::PartiallyRefunded
        );
        if !kept || self.status == OrderStatus::Cancelled {
            return Err(DownloadRefusal::NotPaid);
        }
        if self.downloads_granted(sku) >= MAX_GRANTS_PER_SKU {
            return Err(DownloadRefusal::LimitReached);
        }
        Ok(())
    }

    /// Records a link to `sku`'s file handed to `by`, valid until `expires_at`, after the same
    /// checks as [`Order::check_download`].
    pub fn grant_download(
        &mut self,
        sku: &Sku,
        digital: bool,
        by: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<TimelineEntry, DownloadRefusal> {
        self.check_download(sku, digital)?;
        let meta = json!({ "sku": sku, "expiresAt": expires_at, "by": by });
        let entry = self.push(TimelineType::DownloadGranted, now, meta);
        self.bump();
        Ok(entry)
    }

    /// How many links to `sku`'s file have been handed out.
    pub fn downloads_granted(&self, sku: &Sku) -> usize {
        self.timeline
            .iter()
            .filter(|e| e.kind == TimelineType::DownloadGranted)
            .filter(|e| e.meta.get("sku").and_then(|v| v.as_str()) == Some(sku.as_str()))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::order::RefundReport;
    use crate::order::tests::sample_order;
    use crate::order::{Owner, PaymentCapture};

    const SKU: &str = "CHAI-250G";

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000)
    }

    fn sku() -> Sku {
        Sku::parse(SKU).unwrap()
    }

    fn order() -> Order {
        sample_order(Owner::User {
            user_id: UserId::parse("user-1").unwrap(),
        })
    }

    fn pay(o: &mut Order, minor: i64) {
        let total = o.total();
        let capture = PaymentCapture {
            provider_payment_id: "pay_1".into(),
            amount: crate::money::Money::new(minor, total.currency()).unwrap(),
        };
        o.record_payment(&capture, at(1)).unwrap();
    }

    fn refund(o: &mut Order, id: &str, minor: i64) {
        let total = o.total();
        let report = RefundReport {
            payment_id: Some("pay_1".into()),
            refunds: vec![(
                id.into(),
                crate::money::Money::new(minor, total.currency()).unwrap(),
            )],
            charge: None,
            our_ids: Vec::new(),
        };
        o.record_refunds(&report, at(2)).unwrap();
    }

    #[test]
    fn an_unpaid_order_has_no_downloads_and_changes_nothing() {
        let mut o = order();
        let before = o.clone();
        assert_eq!(
            o.grant_download(&sku(), true, "user:user-1", at(3), at(300)),
            Err(DownloadRefusal::NotPaid)
        );
        assert_eq!(o, before);
    }

    #[test]
    fn a_sku_not_on_the_order_or_not_digital_is_not_found_even_when_paid() {
        let mut o = order();
        pay(&mut o, 50_000);
        assert_eq!(
            o.check_download(&Sku::parse("GIFT-CARD-1000").unwrap(), true),
            Err(DownloadRefusal::NotFound)
        );
        assert_eq!(
            o.check_download(&sku(), false),
            Err(DownloadRefusal::NotFound)
        );
        // Not found comes first: an unpaid order does not say whether it has the SKU.
        assert_eq!(
            order().check_download(&sku(), false),
            Err(DownloadRefusal::NotFound)
        );
    }

    #[test]
    fn a_paid_order_grants_a_link_recorded_once_on_its_timeline() {
        let mut o = order();
        pay(&mut o, 50_000);
        let version = o.version();
        let e = o
            .grant_download(&sku(), true, "user:user-1", at(3), at(303))
            .unwrap();
        assert_eq!(e.kind, TimelineType::DownloadGranted);
        assert_eq!(e.meta["sku"], SKU);
        assert_eq!(e.meta["by"], "user:user-1");
        assert_eq!(e.meta["expiresAt"], serde_json::to_value(at(303)).unwrap());
        assert_eq!(o.version(), version + 1);
        assert_eq!(o.downloads_granted(&sku()), 1);
        assert_eq!(
            serde_json::to_value(TimelineType::DownloadGranted).unwrap(),
            "download_granted"
        );
    }

    #[test]
    fn an_order_held_for_review_is_refused_until_the_review_is_cleared() {
        let mut o = order();
        pay(&mut o, 49_999);
        assert!(o.requires_review());
        assert_eq!(
            o.check_download(&sku(), true),
            Err(DownloadRefusal::UnderReview)
        );
        o.clear_review("admin-1", at(4)).unwrap();
        assert_eq!(o.check_download(&sku(), true), Ok(()));
    }

    #[test]
    fn a_partial_refund_keeps_the_download_and_a_full_one_ends_it() {
        let mut o = order();
        pay(&mut o, 50_000);
        refund(&mut o, "rfnd_1", 10_000);
        assert_eq!(o.check_download(&sku(), true), Ok(()));
        refund(&mut o, "rfnd_2", 40_000);
        assert_eq!(
            o.check_download(&sku(), true),
            Err(DownloadRefusal::NotPaid)
        );
    }

    #[test]
    fn a_cancelled_order_has_no_downloads_even_before_its_refund_lands() {
        let mut o = order();
        pay(&mut o, 50_000);
        o.cancel_on_request(
            "changed my mind",
            "user:user-1",
            "rf_1",
            at(5),
            at(60),
            false,
        )
        .unwrap();
        assert_eq!(o.payment_status(), PaymentStatus::Paid);
        assert_eq!(
            o.check_download(&sku(), true),
            Err(DownloadRefusal::NotPaid)
        );
    }

    #[test]
    fn at_most_ten_links_per_sku_are_recorded_and_the_eleventh_changes_nothing() {
        let mut o = order();
        pay(&mut o, 50_000);
        for i in 0..MAX_GRANTS_PER_SKU {
            o.grant_download(&sku(), true, "guest", at(10 + i as i64), at(400))
                .unwrap();
        }
        let before = o.clone();
        assert_eq!(
            o.grant_download(&sku(), true, "guest", at(30), at(400)),
            Err(DownloadRefusal::LimitReached)
        );
        assert_eq!(o, before);
        assert_eq!(o.downloads_granted(&sku()), MAX_GRANTS_PER_SKU);
    }
}
