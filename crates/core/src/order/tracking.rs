//! The carrier's tracking of an order's shipment (`docs/decisions.md`, "Shipment tracking"):
//! every update is kept (deduplicated on its status id and time), the shipment's state only
//! moves forward ([`ShipmentState::rank`]), and entering a state does what it means — the order
//! becomes `delivered`, the customer is owed a message, a returned parcel's stock comes back
//! and its money is refunded or held for a person (`RTO_REFUND_POLICY`).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::requests::NewRefund;
use super::{
    Order, OrderStatus, RefundRequest, ReviewReason, TimelineEntry, TimelineType, TransitionError,
};
use crate::time::Timestamp;
use crate::tracking::{ShipmentState, TrackingUpdate, shiprocket_state};

/// The most tracking updates an order keeps; beyond it only updates that move the state are
/// kept (the oldest is dropped), so a chatty carrier cannot grow an order without bound.
pub const MAX_TRACKING_EVENTS: usize = 100;

/// One tracking update as the order shows it (`shipment.events[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentEvent {
    /// The state it means, or `unmapped` for a status id this service does not act on.
    pub status: String,
    /// The carrier's status id and words, as sent.
    pub status_id: u32,
    pub label: String,
    /// When the carrier recorded it.
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
}

/// The latest status the carrier reported, mapped or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarrierStatus {
    pub id: u32,
    pub label: String,
    pub at: Timestamp,
}

/// The update that set the shipment's state: the highest (rank, time, status id) seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateMark {
    pub state: ShipmentState,
    pub at: Timestamp,
    pub status_id: u32,
}

impl StateMark {
    fn key(&self) -> (u8, Timestamp, u32) {
        (self.state.rank(), self.at, self.status_id)
    }
}

/// What the carrier's tracking said of the order's shipment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracking {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub courier: Option<String>,
    /// Expected delivery, as the carrier wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateMark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status: Option<CarrierStatus>,
    /// Every update kept, oldest first (then by status id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ShipmentEvent>,
    /// Customer messages owed (recorded here before the worker sends them, so each is sent at
    /// most once) and those already taken for sending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices_owed: Vec<ShipmentState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices_sent: Vec<ShipmentState>,
    /// The parcel came back and its stock was given back (once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restocked: bool,
}

impl Tracking {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What becomes of a prepaid order's money when its parcel comes back (`RTO_REFUND_POLICY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RtoRefundPolicy {
    /// Refunded in full at once, through the provider.
    Refund,
    /// Kept and held for a person (`returned_to_origin`): the default, because a parcel may
    /// come back for reasons the customer should not be refunded for (refused on delivery).
    #[default]
    Review,
}

impl RtoRefundPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "refund" => Some(Self::Refund),
            "review" => Some(Self::Review),
            _ => None,
        }
    }
}

/// The refund a returned parcel's order gets under [`RtoRefundPolicy::Refund`]: one per order,
/// so every delivery of the return names the same refund.
pub fn rto_refund_id(order_id: &crate::ids::OrderId) -> String {
    format!("rf_rto_{order_id}")
}

/// What one tracking update did.
#[derive(Debug, Clone, Default)]
pub struct TrackingChange {
    pub entries: Vec<TimelineEntry>,
    /// The state the shipment entered, if it moved.
    pub entered: Option<ShipmentState>,
    /// The parcel is back: give the order's stock back in the same write.
    pub restock: bool,
    /// The refund of a returned parcel, recorded `requested` for the caller to send.
    pub refund: Option<RefundRequest>,
    /// A customer message is owed: the worker sends it (a job in the same write).
    pub notice_owed: bool,
}

fn timeline_type(s: ShipmentState) -> TimelineType {
    match s {
        ShipmentState::Cancelled => TimelineType::ShipmentCancelled,
        ShipmentState::InTransit => TimelineType::ShipmentInTransit,
        ShipmentState::OutForDelivery => TimelineType::ShipmentOutForDelivery,
        ShipmentState::Undelivered => TimelineType::ShipmentUndelivered,
        ShipmentState::Returning => TimelineType::ShipmentReturning,
        ShipmentState::Lost => TimelineType::ShipmentLost,
        ShipmentState::Damaged => TimelineType::ShipmentDamaged,
        ShipmentState::Returned => TimelineType::ShipmentReturned,
        ShipmentState::Delivered => TimelineType::ShipmentDelivered,
    }
}

impl Order {
    pub fn tracking(&self) -> &Tracking {
        &self.tracking
    }

    /// The shipment's state: the tracked one, or `cancelled` when the shipment was cancelled
    /// on request before any tracking.
    pub fn shipment_state(&self) -> Option<ShipmentState> {
        self.current_mark().map(|m| m.state)
    }

    fn current_mark(&self) -> Option<StateMark> {
        self.tracking.state.clone().or_else(|| {
            self.shipment
                .as_ref()
                .filter(|s| s.status == super::cancel::SHIPMENT_CANCELLED)
                .map(|_| StateMark {
                    state: ShipmentState::Cancelled,
                    at: Timestamp::from_unix_millis(0),
                    status_id: 0,
                })
        })
    }

    /// Records one tracking update of the order's shipment. The same update again (same
    /// status id and time) is [`TransitionError::AlreadyApplied`]; an update for another AWB,
    /// or for an order without a shipment, is refused. `refund_lease_until`: how long the
    /// caller holds the send of a returned parcel's refund.
    pub fn record_tracking(
        &mut self,
        u: &TrackingUpdate,
        policy: RtoRefundPolicy,
        now: Timestamp,
        refund_lease_until: Timestamp,
    ) -> Result<TrackingChange, TransitionError> {
        let refused = |action| TransitionError::NotAllowed {
            from: self.status,
            action,
        };
        let Some(shipment) = &self.shipment else {
            return Err(refused("track the shipment of (none was created)"));
        };
        if shipment.awb.is_empty() || shipment.awb != u.awb {
            return Err(refused("track another AWB on"));
        }
        let t = &self.tracking;
        if t.events
            .iter()
            .any(|e| e.status_id == u.status_id && e.at == u.at)
        {
            return Err(TransitionError::AlreadyApplied);
        }
        let mapped = shiprocket_state(u.status_id);
        let current = self.current_mark();
        let mark = mapped.map(|state| StateMark {
            state,
            at: u.at,
            status_id: u.status_id,
        });
        // Delivered and returned end their branches: a carrier that reports both is kept in
        // the events, but what the first did (the order delivered, or its stock given back
        // and its money settled) is not undone.
        let advances = mark.as_ref().is_some_and(|m| {
            current
                .as_ref()
                .is_none_or(|c| !c.state.is_final() && m.key() > c.key())
        });
        if t.events.len() >= MAX_TRACKING_EVENTS && !advances {
            return Err(TransitionError::AlreadyApplied);
        }

        let event = ShipmentEvent {
            status: mapped.map_or("unmapped", ShipmentState::as_str).to_owned(),
            status_id: u.status_id,
            label: u.label.clone(),
            at: u.at,
            location: u.location.clone(),
            activity: u.activity.clone(),
        };
        let t = &mut self.tracking;
        // Oldest first; the same moment in status id order, so any arrival order keeps one list.
        let at = t
            .events
            .partition_point(|e| (e.at, e.status_id) <= (u.at, u.status_id));
        t.events.insert(at, event);
        if t.events.len() > MAX_TRACKING_EVENTS {
            t.events.remove(0);
        }
        let latest = t.carrier_status.as_ref().is_none_or(|c| u.at >= c.at);
        if latest {
            t.carrier_status = Some(CarrierStatus {
                id: u.status_id,
                label: u.label.clone(),
                at: u.at,
            });
            t.courier = u.courier.clone().or(t.courier.take());
            t.etd = u.etd.clone().or(t.etd.take());
        }

        let mut change = TrackingChange::default();
        if let (true, Some(mark)) = (advances, mark) {
            let state = mark.state;
            self.tracking.state = Some(mark);
            if current.map(|c| c.state) != Some(state) {
                self.enter(state, u, now, refund_lease_until, policy, &mut change);
            }
        }
        self.updated_at = now.max(self.updated_at);
        self.bump();
        Ok(change)
    }

    fn enter(
        &mut self,
        state: ShipmentState,
        u: &TrackingUpdate,
        now: Timestamp,
        refund_lease_until: Timestamp,
        policy: RtoRefundPolicy,
        change: &mut TrackingChange,
    ) {
        change.entered = Some(state);
        if let Some(s) = self.shipment.as_mut() {
            s.status = state.as_str().to_owned();
        }
        let meta = json!({
            "awb": u.awb,
            "courier": u.courier,
            "statusId": u.status_id,
            "label": u.label,
            "location": u.location,
            "activity": u.activity,
            "scanAt": u.at,
            "source": "carrier",
        });
        // The scan's time, unless the carrier's clock is ahead of ours.
        let entry = self.push(timeline_type(state), u.at.min(now), meta);
        change.entries.push(entry);
        match state {
            ShipmentState::Delivered if self.status == OrderStatus::Fulfilled => {
                self.status = OrderStatus::Delivered;
            }
            ShipmentState::Returned
                if !self.tracking.restocked && self.status != OrderStatus::Cancelled =>
            {
                self.tracking.restocked = true;
                change.restock = true;
                self.settle_return(u, now, refund_lease_until, policy, change);
            }
            _ => {}
        }
        let t = &mut self.tracking;
        if state.notifies_customer()
            && !t.notices_owed.contains(&state)
            && !t.notices_sent.contains(&state)
        {
            t.notices_owed.push(state);
            change.notice_owed = true;
        }
    }

    /// A returned parcel's money: refunded under [`RtoRefundPolicy::Refund`] (when anything is
    /// left to refund and no dispute is open), otherwise held for a person.
    fn settle_return(
        &mut self,
        u: &TrackingUpdate,
        now: Timestamp,
        refund_lease_until: Timestamp,
        policy: RtoRefundPolicy,
        change: &mut TrackingChange,
    ) {
        if self.refundable().is_none_or(|b| b.minor() <= 0) {
            return;
        }
        if policy == RtoRefundPolicy::Refund {
            let new = NewRefund {
                refund_id: rto_refund_id(&self.id),
                amount: None,
                reason: Some("returned to origin".into()),
                requested_by: "rto".into(),
                idempotency_key: None,
                request_hash: None,
            };
            if let Ok((request, entry)) = self.request_refund(new, now, refund_lease_until) {
                change.entries.push(entry);
                change.refund = Some(request);
                return;
            }
        }
        let entry = self.flag_review(
            ReviewReason::ReturnedToOrigin,
            now,
            json!({ "awb": u.awb, "refundable": self.refundable().map(|m| m.minor()) }),
        );
        change.entries.push(entry);
    }

    /// The next customer message owed for the shipment, if any.
    pub fn owed_notice(&self) -> Option<ShipmentState> {
        self.tracking.notices_owed.first().copied()
    }

    /// Takes an owed message for sending (`customer_notified`): once recorded, it is never
    /// sent again.
    pub fn take_notice(
        &mut self,
        state: ShipmentState,
        channel: &str,
        now: Timestamp,
    ) -> Result<TimelineEntry, TransitionError> {
        let Some(i) = self.tracking.notices_owed.iter().position(|s| *s == state) else {
            return Err(TransitionError::AlreadyApplied);
        };
        self.tracking.notices_owed.remove(i);
        self.tracking.notices_sent.push(state);
        let entry = self.push(
            TimelineType::CustomerNotified,
            now,
            json!({ "message": state.as_str(), "channel": channel }),
        );
        self.bump();
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::money::{Currency, Money};
    use crate::order::tests::sample_order;
    use crate::order::{InvoiceInfo, Owner, PaymentCapture, ShipmentInfo};
    use crate::tracking::SHIPROCKET_STATUSES;

    const AWB: &str = "19041211125783";

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000)
    }

    fn shipped() -> Order {
        let mut o = sample_order(Owner::Guest {
            token_hash: crate::ids::TokenHash::of("t"),
        });
        let inr = Currency::parse("INR").unwrap();
        o.record_payment(
            &PaymentCapture {
                provider_payment_id: "pay_1".into(),
                amount: Money::new(50_000, inr).unwrap(),
            },
            at(1),
        )
        .unwrap();
        let invoice = InvoiceInfo {
            number: "INV-000001".into(),
            key: "k".into(),
            issued_at: at(2),
        };
        o.record_invoice(invoice, at(2)).unwrap();
        let shipment = ShipmentInfo {
            carrier: "shiprocket".into(),
            shipment_id: "5678".into(),
            awb: AWB.into(),
            status: "pickup_scheduled".into(),
        };
        o.record_shipment(shipment, at(3)).unwrap();
        o.mark_fulfilled(at(3)).unwrap();
        o
    }

    fn update(status_id: u32, s: i64) -> TrackingUpdate {
        TrackingUpdate {
            awb: AWB.into(),
            courier: Some("Delhivery".into()),
            status_id,
            label: format!("S{status_id}"),
            at: at(s),
            location: Some("Hub".into()),
            activity: None,
            etd: None,
            channel_order_id: None,
            sr_order_id: None,
            is_return: false,
        }
    }

    fn apply(o: &mut Order, u: &TrackingUpdate, policy: RtoRefundPolicy) -> Option<TrackingChange> {
        o.record_tracking(u, policy, at(10_000), at(10_060)).ok()
    }

    #[test]
    fn a_parcel_goes_out_and_is_delivered_once_and_the_customer_is_owed_two_messages() {
        let mut o = shipped();
        let c = apply(&mut o, &update(42, 10), RtoRefundPolicy::Review).unwrap();
        assert_eq!(c.entered, Some(ShipmentState::InTransit));
        assert!(!c.notice_owed);
        let c = apply(&mut o, &update(17, 20), RtoRefundPolicy::Review).unwrap();
        assert!(c.notice_owed);
        let c = apply(&mut o, &update(7, 30), RtoRefundPolicy::Review).unwrap();
        assert_eq!(c.entered, Some(ShipmentState::Delivered));
        assert_eq!(o.status(), OrderStatus::Delivered);
        assert_eq!(o.fulfilment_status().as_str(), "delivered");
        assert_eq!(o.shipment().unwrap().status, "delivered");
        assert_eq!(
            o.tracking().notices_owed,
            vec![ShipmentState::OutForDelivery, ShipmentState::Delivered]
        );
        // The same delivery again, and a late scan from before: nothing moves.
        let before = o.clone();
        assert!(apply(&mut o, &update(7, 30), RtoRefundPolicy::Review).is_none());
        assert_eq!(o, before);
        let c = apply(&mut o, &update(6, 15), RtoRefundPolicy::Review).unwrap();
        assert_eq!(
            c.entered, None,
            "a late in-transit scan is kept but moves nothing"
        );
        assert_eq!(o.shipment_state(), Some(ShipmentState::Delivered));
        assert_eq!(o.tracking().events.len(), 4);
        let kinds: Vec<_> = o.timeline().iter().map(|e| e.kind).collect();
        assert!(kinds.ends_with(&[
            TimelineType::ShipmentInTransit,
            TimelineType::ShipmentOutForDelivery,
            TimelineType::ShipmentDelivered
        ]));
        // Messages are taken once each.
        o.take_notice(ShipmentState::OutForDelivery, "whatsapp", at(40))
            .unwrap();
        assert_eq!(
            o.take_notice(ShipmentState::OutForDelivery, "whatsapp", at(41)),
            Err(TransitionError::AlreadyApplied)
        );
        let last = o.timeline().last().unwrap();
        assert_eq!(last.kind, TimelineType::CustomerNotified);
        assert_eq!(last.meta["message"], "out_for_delivery");
        assert_eq!(o.owed_notice(), Some(ShipmentState::Delivered));
    }

    #[test]
    fn a_failed_attempt_then_a_new_attempt_is_out_for_delivery_again_but_messaged_once() {
        let mut o = shipped();
        apply(&mut o, &update(17, 10), RtoRefundPolicy::Review).unwrap();
        let c = apply(&mut o, &update(21, 20), RtoRefundPolicy::Review).unwrap();
        assert_eq!(c.entered, Some(ShipmentState::Undelivered));
        let c = apply(&mut o, &update(17, 30), RtoRefundPolicy::Review).unwrap();
        assert_eq!(c.entered, Some(ShipmentState::OutForDelivery));
        assert!(!c.notice_owed, "the customer was told once already");
        assert_eq!(
            o.tracking().notices_owed,
            vec![ShipmentState::OutForDelivery]
        );
    }

    #[test]
    fn a_returned_parcel_gives_its_stock_back_once_and_its_money_per_policy() {
        for policy in [RtoRefundPolicy::Review, RtoRefundPolicy::Refund] {
            let mut o = shipped();
            apply(&mut o, &update(21, 10), policy).unwrap();
            let c = apply(&mut o, &update(9, 20), policy).unwrap();
            assert_eq!(c.entered, Some(ShipmentState::Returning));
            assert!(!c.restock);
            let c = apply(&mut o, &update(10, 30), policy).unwrap();
            assert!(c.restock, "{policy:?}");
            assert_eq!(o.fulfilment_status().as_str(), "returned");
            match policy {
                RtoRefundPolicy::Review => {
                    assert!(c.refund.is_none());
                    assert_eq!(o.review_reason(), Some(ReviewReason::ReturnedToOrigin));
                }
                RtoRefundPolicy::Refund => {
                    let r = c.refund.unwrap();
                    assert_eq!(r.refund_id, rto_refund_id(o.id()));
                    assert_eq!(r.amount.minor(), 50_000);
                    assert!(!o.requires_review());
                }
            }
            // Another RTO-delivered scan (a later time): kept, but no second restock or refund.
            let c = apply(&mut o, &update(10, 40), policy).unwrap();
            assert!(!c.restock && c.refund.is_none() && c.entered.is_none());
            assert_eq!(
                o.refund_requests().len(),
                usize::from(policy == RtoRefundPolicy::Refund)
            );
        }
    }

    #[test]
    fn updates_for_another_awb_or_an_order_without_a_shipment_are_refused_untouched() {
        let mut o = shipped();
        let mut other = update(7, 10);
        other.awb = "OTHER1".into();
        let before = o.clone();
        assert!(matches!(
            o.record_tracking(&other, RtoRefundPolicy::Review, at(1), at(2)),
            Err(TransitionError::NotAllowed { .. })
        ));
        assert_eq!(o, before);
        let mut unshipped = sample_order(Owner::Guest {
            token_hash: crate::ids::TokenHash::of("t"),
        });
        assert!(
            unshipped
                .record_tracking(&update(7, 10), RtoRefundPolicy::Review, at(1), at(2))
                .is_err()
        );
    }

    #[test]
    fn unknown_status_ids_are_shown_as_sent_and_move_nothing() {
        let mut o = shipped();
        let c = apply(&mut o, &update(99, 10), RtoRefundPolicy::Review).unwrap();
        assert_eq!(c.entered, None);
        let e = &o.tracking().events[0];
        assert_eq!(
            (e.status.as_str(), e.status_id, e.label.as_str()),
            ("unmapped", 99, "S99")
        );
        assert_eq!(o.tracking().carrier_status.as_ref().unwrap().id, 99);
        assert_eq!(o.shipment().unwrap().status, "pickup_scheduled");
    }

    #[test]
    fn a_chatty_carrier_cannot_grow_the_order_past_its_bound() {
        let mut o = shipped();
        for i in 0..(MAX_TRACKING_EVENTS as i64 + 20) {
            let _ = apply(&mut o, &update(99, i), RtoRefundPolicy::Review);
        }
        assert_eq!(o.tracking().events.len(), MAX_TRACKING_EVENTS);
        // A move still lands, dropping the oldest.
        let c = apply(&mut o, &update(7, 1_000), RtoRefundPolicy::Review).unwrap();
        assert_eq!(c.entered, Some(ShipmentState::Delivered));
        assert_eq!(o.tracking().events.len(), MAX_TRACKING_EVENTS);
    }

    fn any_update() -> impl Strategy<Value = TrackingUpdate> {
        let ids: Vec<u32> = SHIPROCKET_STATUSES
            .iter()
            .map(|(i, _)| *i)
            .chain([99, 20])
            .collect();
        (proptest::sample::select(ids), 0i64..6).prop_map(|(id, s)| update(id, s * 10))
    }

    #[test]
    fn a_carrier_reporting_both_delivered_and_returned_does_not_undo_the_first() {
        let mut o = shipped();
        apply(&mut o, &update(10, 10), RtoRefundPolicy::Refund).unwrap();
        let c = apply(&mut o, &update(7, 20), RtoRefundPolicy::Refund).unwrap();
        assert_eq!(c.entered, None);
        assert_eq!(o.shipment_state(), Some(ShipmentState::Returned));
        assert_eq!(o.status(), OrderStatus::Fulfilled);
        let mut o = shipped();
        apply(&mut o, &update(7, 10), RtoRefundPolicy::Refund).unwrap();
        let c = apply(&mut o, &update(10, 20), RtoRefundPolicy::Refund).unwrap();
        assert!(c.entered.is_none() && !c.restock && c.refund.is_none());
        assert_eq!(o.status(), OrderStatus::Delivered);
        assert_eq!(
            o.tracking().events.len(),
            2,
            "both kept for a person to see"
        );
    }

    proptest! {
        /// Whatever order the updates arrive in, and however often each is delivered, the
        /// shipment ends in the same state with the same updates kept, the stock comes back at
        /// most once, and the order's money is settled at most once. (A carrier reporting both
        /// ends — delivered and returned — is the one exception: the first seen stands, above.)
        #[test]
        fn any_order_and_any_repeats_end_in_the_same_state(
            updates in proptest::collection::vec(any_update(), 1..12)
                .prop_filter("not both ends", |u| {
                    !(u.iter().any(|x| x.status_id == 7) && u.iter().any(|x| x.status_id == 10))
                }),
            seed in any::<u64>(),
            policy in prop_oneof![Just(RtoRefundPolicy::Review), Just(RtoRefundPolicy::Refund)],
        ) {
            let run = |list: &[TrackingUpdate]| {
                let mut o = shipped();
                let mut restocks = 0;
                for u in list {
                    if let Some(c) = apply(&mut o, u, policy) {
                        restocks += usize::from(c.restock);
                    }
                }
                (o, restocks)
            };
            let (a, restocks_a) = run(&updates);
            let mut shuffled: Vec<TrackingUpdate> = updates.iter().chain(updates.iter()).cloned().collect();
            // A deterministic shuffle from the seed.
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let (b, restocks_b) = run(&shuffled);
            prop_assert_eq!(a.shipment_state(), b.shipment_state());
            prop_assert_eq!(&a.shipment().unwrap().status, &b.shipment().unwrap().status);
            prop_assert_eq!(a.status(), b.status());
            prop_assert_eq!(&a.tracking().events, &b.tracking().events);
            prop_assert!(restocks_a <= 1 && restocks_b <= 1);
            prop_assert_eq!(a.refund_requests().len(), b.refund_requests().len());
            prop_assert!(a.refund_requests().len() <= 1);
            // Delivered wins over everything; a parcel never returns once delivered.
            if updates.iter().any(|u| u.status_id == 7) {
                prop_assert_eq!(b.status(), OrderStatus::Delivered);
            }
        }
    }
}
