use super::*;
use crate::customer::{CountryCode, Email};
use crate::money::Currency;
use crate::webhook::{ChargeTotal, RefundReport};

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000)
}

pub(crate) fn sample_order(owner: Owner) -> Order {
    let sku = Sku::parse("CHAI-250G").unwrap();
    let line = OrderLine {
        sku,
        name: "Masala chai".into(),
        quantity: Quantity::new(2).unwrap(),
        unit_price: inr(25_000),
        line_total: inr(50_000),
    };
    Order::open(
        OrderDraft {
            id: OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap(),
            number: OrderNumber::parse("ORD-20270115-ABCDEFGH").unwrap(),
            owner,
            customer: Customer {
                email: Email::parse("asha@example.in").unwrap(),
                name: "Asha".into(),
                phone: None,
            },
            shipping_address: ShippingAddress {
                name: "Asha".into(),
                line1: "1 MG Road".into(),
                line2: None,
                city: "Bengaluru".into(),
                state: "KA".into(),
                postal_code: "560001".into(),
                country: CountryCode::parse("IN").unwrap(),
            },
            lines: vec![line],
            total: inr(50_000),
            payment: PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: "order_X".into(),
                provider_payment_id: None,
                checkout_url: None,
                key_id: Some("rzp_test_x".into()),
                captured: None,
            },
            expires_at: at(1800),
        },
        at(0),
    )
}

fn user_order() -> Order {
    sample_order(Owner::User {
        user_id: UserId::parse("user-1").unwrap(),
    })
}

fn capture(id: &str, minor: i64) -> PaymentCapture {
    PaymentCapture {
        provider_payment_id: id.into(),
        amount: inr(minor),
    }
}

fn kinds(o: &Order) -> Vec<TimelineType> {
    o.timeline().iter().map(|e| e.kind).collect()
}

#[test]
fn a_new_order_awaits_payment_with_one_created_entry() {
    let o = user_order();
    assert_eq!(o.status(), OrderStatus::PendingPayment);
    assert_eq!(kinds(&o), vec![TimelineType::OrderCreated]);
    assert_eq!(o.version(), 1);
    assert_eq!(o.refunded(), inr(0));
}

#[test]
fn the_exact_amount_pays_the_order_and_the_same_payment_again_changes_nothing() {
    let mut o = user_order();
    let entries = o.record_payment(&capture("pay_1", 50_000), at(5)).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(o.status(), OrderStatus::Paid);
    assert!(!o.requires_review());
    assert!(o.ready_for_fulfilment());
    assert_eq!(o.version(), 2);
    let before = o.clone();
    assert_eq!(
        o.record_payment(&capture("pay_1", 50_000), at(6)),
        Err(TransitionError::AlreadyApplied)
    );
    assert_eq!(o, before);
}

#[test]
fn a_different_amount_pays_but_holds_the_order_for_review() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 49_999), at(5)).unwrap();
    assert_eq!(o.status(), OrderStatus::Paid);
    assert!(o.requires_review());
    assert_eq!(o.review_reason(), Some(ReviewReason::AmountMismatch));
    assert!(!o.ready_for_fulfilment());
    assert_eq!(o.mark_fulfilled(at(6)), Err(TransitionError::UnderReview));
    o.clear_review("admin-1", at(7)).unwrap();
    assert!(o.ready_for_fulfilment());
    assert_eq!(
        o.clear_review("admin-1", at(8)),
        Err(TransitionError::AlreadyApplied)
    );
}

#[test]
fn a_different_currency_is_a_currency_mismatch() {
    let mut o = user_order();
    let usd = Money::new(50_000, Currency::parse("USD").unwrap()).unwrap();
    o.record_payment(
        &PaymentCapture {
            provider_payment_id: "pay_1".into(),
            amount: usd,
        },
        at(5),
    )
    .unwrap();
    assert_eq!(o.review_reason(), Some(ReviewReason::CurrencyMismatch));
}

#[test]
fn a_failure_then_a_success_still_pays() {
    let mut o = user_order();
    o.record_payment_failure(Some("pay_1"), "card_declined", at(1))
        .unwrap();
    assert_eq!(o.status(), OrderStatus::PaymentFailed);
    assert_eq!(
        o.record_payment_failure(Some("pay_1"), "card_declined", at(2)),
        Err(TransitionError::AlreadyApplied)
    );
    o.record_payment(&capture("pay_2", 50_000), at(3)).unwrap();
    assert_eq!(o.status(), OrderStatus::Paid);
}

#[test]
fn a_failure_after_payment_never_unpays() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    let before = o.clone();
    assert!(matches!(
        o.record_payment_failure(Some("pay_0"), "late", at(2)),
        Err(TransitionError::NotAllowed {
            from: OrderStatus::Paid,
            ..
        })
    ));
    assert_eq!(o, before);
}

#[test]
fn a_second_payment_on_a_paid_order_is_flagged_once() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    o.record_payment(&capture("pay_2", 50_000), at(2)).unwrap();
    assert_eq!(o.review_reason(), Some(ReviewReason::DuplicatePayment));
    assert_eq!(
        o.record_payment(&capture("pay_2", 50_000), at(3)),
        Err(TransitionError::AlreadyApplied)
    );
    assert_eq!(o.payment().provider_payment_id.as_deref(), Some("pay_1"));
}

#[test]
fn only_unpaid_orders_can_be_cancelled() {
    let mut o = user_order();
    o.cancel("stale", at(1)).unwrap();
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert_eq!(
        o.cancel("stale", at(2)),
        Err(TransitionError::AlreadyApplied)
    );

    let mut paid = user_order();
    paid.record_payment(&capture("pay_1", 50_000), at(1))
        .unwrap();
    assert!(matches!(
        paid.cancel("stale", at(2)),
        Err(TransitionError::NotAllowed { .. })
    ));
}

#[test]
fn a_payment_after_cancel_reinstates_when_restocked_and_is_reviewed_otherwise() {
    let mut a = user_order();
    a.cancel("stale", at(1)).unwrap();
    assert!(matches!(
        a.record_payment(&capture("pay_1", 50_000), at(2)),
        Err(TransitionError::NotAllowed { .. })
    ));
    a.record_payment_after_cancel(&capture("pay_1", 50_000), true, at(2))
        .unwrap();
    assert_eq!(a.status(), OrderStatus::Paid);
    assert!(!a.requires_review());
    assert!(kinds(&a).contains(&TimelineType::Reinstated));

    let mut b = user_order();
    b.cancel("stale", at(1)).unwrap();
    b.record_payment_after_cancel(&capture("pay_1", 50_000), false, at(2))
        .unwrap();
    assert_eq!(b.status(), OrderStatus::Paid);
    assert_eq!(b.review_reason(), Some(ReviewReason::PaidAfterCancel));
}

fn refund_of(payment: Option<&str>, refunds: &[(&str, i64)]) -> RefundReport {
    RefundReport {
        payment_id: payment.map(str::to_owned),
        refunds: refunds
            .iter()
            .map(|(id, minor)| ((*id).to_owned(), inr(*minor)))
            .collect(),
        charge: None,
        our_ids: Vec::new(),
    }
}

fn charge_refunded(
    payment: &str,
    charge: &str,
    total: i64,
    refunds: &[(&str, i64)],
) -> RefundReport {
    RefundReport {
        charge: Some(ChargeTotal {
            charge_id: charge.into(),
            total: Some(inr(total)),
        }),
        our_ids: Vec::new(),
        ..refund_of(Some(payment), refunds)
    }
}

#[test]
fn refunds_accumulate_once_per_id_and_never_exceed_the_capture() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    let e = o
        .record_refunds(&refund_of(Some("pay_1"), &[("rfnd_1", 20_000)]), at(2))
        .unwrap()
        .remove(0);
    assert_eq!(e.kind, TimelineType::RefundPartial);
    assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
    assert_eq!(
        o.record_refunds(&refund_of(Some("pay_1"), &[("rfnd_1", 20_000)]), at(3)),
        Err(TransitionError::AlreadyApplied)
    );
    let e = o
        .record_refunds(&refund_of(Some("pay_1"), &[("rfnd_2", 90_000)]), at(4))
        .unwrap()
        .remove(0);
    assert_eq!(e.kind, TimelineType::RefundFull);
    assert_eq!(e.meta["refundedAmount"], 50_000);
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(o.refunded(), inr(50_000));
    let entries = o
        .record_refunds(&refund_of(Some("pay_1"), &[("rfnd_3", 1)]), at(5))
        .unwrap();
    assert!(entries.is_empty(), "recorded, but nothing more to count");
    assert_eq!(o.refunded(), inr(50_000));
}

#[test]
fn a_refund_of_nothing_changes_nothing() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    o.mark_fulfilled(at(2)).unwrap();
    let before = o.clone();
    assert_eq!(
        o.record_refunds(&refund_of(Some("pay_1"), &[("rfnd_0", 0)]), at(3)),
        Err(TransitionError::AlreadyApplied)
    );
    assert_eq!(
        o.record_refunds(&charge_refunded("pay_1", "ch_1", 0, &[]), at(3)),
        Err(TransitionError::AlreadyApplied)
    );
    assert_eq!(o, before);
    assert_eq!(o.status(), OrderStatus::Fulfilled);
}

#[test]
fn a_refund_of_a_duplicate_payment_is_recorded_apart_and_never_counted_against_the_order() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    o.record_payment(&capture("pay_2", 50_000), at(2)).unwrap();
    assert_eq!(o.review_reason(), Some(ReviewReason::DuplicatePayment));
    let entries = o
        .record_refunds(&refund_of(Some("pay_2"), &[("rfnd_2", 50_000)]), at(3))
        .unwrap();
    assert_eq!(kinds_of(&entries), vec![TimelineType::RefundOtherPayment]);
    assert_eq!(entries[0].meta["providerPaymentId"], "pay_2");
    assert_eq!(entries[0].meta["review"], "duplicate_payment");
    assert_eq!(
        o.status(),
        OrderStatus::Paid,
        "its own payment is untouched"
    );
    assert_eq!(o.refunded(), inr(0));
    assert_eq!(o.other_payment_refunds().count(), 1);
    assert_eq!(o.refunds().count(), 0);
}

#[test]
fn a_refunded_failed_attempt_that_lands_before_the_retry_does_not_refund_the_retry() {
    let mut o = user_order();
    o.record_payment_failure(Some("pay_0"), "declined", at(1))
        .unwrap();
    // Razorpay auto-refunds the failed attempt before the buyer's retry is reported.
    assert_eq!(
        o.record_refunds(&refund_of(Some("pay_0"), &[("rfnd_0", 50_000)]), at(2))
            .unwrap(),
        vec![],
        "held until a capture says which payment the order keeps"
    );
    let entries = o.record_payment(&capture("pay_1", 50_000), at(3)).unwrap();
    assert_eq!(
        kinds_of(&entries),
        vec![
            TimelineType::PaymentSucceeded,
            TimelineType::RefundOtherPayment
        ]
    );
    assert_eq!(o.status(), OrderStatus::Paid);
    assert!(o.ready_for_fulfilment());
    assert_eq!(o.refunded(), inr(0));
}

#[test]
fn a_stripe_charge_converges_to_its_own_total_whichever_shapes_arrive_in_whatever_order() {
    // ch_1 was refunded 100 (re_1), then 200 more (re_2). The events: the cumulative shape at
    // 100 and at 300, and the itemised shape at 100 and at 300.
    let reports = [
        charge_refunded("pi_1", "ch_1", 100, &[]),
        charge_refunded("pi_1", "ch_1", 100, &[("re_1", 100)]),
        charge_refunded("pi_1", "ch_1", 300, &[]),
        charge_refunded("pi_1", "ch_1", 300, &[("re_1", 100), ("re_2", 200)]),
    ];
    let orders: [&[usize]; 6] = [
        &[0, 3],
        &[3, 0],
        &[0, 1, 2, 3],
        &[3, 2, 1, 0],
        &[2, 1, 0, 3, 3, 0],
        &[1, 2],
    ];
    for order in orders {
        let mut o = user_order();
        o.record_payment(&capture("pi_1", 50_000), at(1)).unwrap();
        for (i, r) in order.iter().enumerate() {
            let _ = o.record_refunds(&reports[*r], at(2 + i as i64));
        }
        assert_eq!(o.refunded(), inr(300), "delivered {order:?}");
        assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
        let refunded_in_timeline: i64 = o
            .timeline()
            .iter()
            .filter(|e| e.kind == TimelineType::RefundPartial)
            .map(|e| e.meta["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(
            refunded_in_timeline, 300,
            "each unit reported once: {order:?}"
        );
    }
}

#[test]
fn a_paid_order_is_fulfilled_once() {
    let mut o = user_order();
    assert!(o.mark_fulfilled(at(0)).is_err());
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    o.mark_fulfilled(at(2)).unwrap();
    assert_eq!(o.status(), OrderStatus::Fulfilled);
    assert_eq!(
        o.mark_fulfilled(at(3)),
        Err(TransitionError::AlreadyApplied)
    );
}

/// Found by the fault sweep: a refund settled between `fulfilled` and the customer message
/// made the order `partially_refunded`, which read as "ready" again — the refund queued a job
/// and the retried job marked the order fulfilled a second time.
#[test]
fn a_refund_after_fulfilment_neither_makes_the_order_ready_again_nor_fulfils_it_twice() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    o.mark_fulfilled(at(2)).unwrap();
    o.record_refunds(&refund_of(Some("pay_1"), &[("re_1", 1_000)]), at(3))
        .unwrap();
    assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
    assert!(
        !o.ready_for_fulfilment(),
        "nothing left to do but tell the customer"
    );
    assert!(o.is_fulfilled());
    assert_eq!(
        o.mark_fulfilled(at(4)),
        Err(TransitionError::AlreadyApplied)
    );
    o.record_notified(at(5)).unwrap();
    assert_eq!(
        kinds(&o)
            .iter()
            .filter(|k| **k == TimelineType::Fulfilled)
            .count(),
        1
    );
}

#[test]
fn only_the_owner_an_admin_or_the_token_holder_can_see_an_order() {
    let uid = UserId::parse("user-1").unwrap();
    let o = user_order();
    assert!(o.visible_to(&Viewer {
        user: Some(uid),
        ..Viewer::default()
    }));
    assert!(!o.visible_to(&Viewer {
        user: Some(UserId::parse("user-2").unwrap()),
        ..Viewer::default()
    }));
    assert!(!o.visible_to(&Viewer::default()));
    assert!(o.visible_to(&Viewer {
        admin: true,
        ..Viewer::default()
    }));

    let token = crate::ids::AccessToken::new("otk_abc".into());
    let g = sample_order(Owner::Guest {
        token_hash: token.hash(),
    });
    assert!(g.visible_to(&Viewer {
        order_token: Some("otk_abc".into()),
        ..Viewer::default()
    }));
    assert!(!g.visible_to(&Viewer {
        order_token: Some("otk_abd".into()),
        ..Viewer::default()
    }));
    assert!(!g.visible_to(&Viewer::default()));
}

#[test]
fn an_order_survives_a_serde_round_trip() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    let json = serde_json::to_string(&o).unwrap();
    let back: Order = serde_json::from_str(&json).unwrap();
    assert_eq!(back, o);
}

#[test]
fn a_refund_before_its_capture_is_held_then_applied_with_it() {
    let mut o = user_order();
    let report = refund_of(Some("pay_1"), &[("rfnd_0", 10_000)]);
    assert_eq!(o.record_refunds(&report, at(0)).unwrap(), vec![]);
    assert_eq!(o.status(), OrderStatus::PendingPayment);
    assert_eq!(o.refunded(), inr(0));
    assert_eq!(
        o.record_refunds(&report, at(1)),
        Err(TransitionError::AlreadyApplied)
    );
    let entries = o.record_payment(&capture("pay_1", 50_000), at(2)).unwrap();
    assert_eq!(
        kinds_of(&entries),
        vec![TimelineType::PaymentSucceeded, TimelineType::RefundPartial]
    );
    assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
    assert_eq!(o.refunded(), inr(10_000));
}

#[test]
fn an_unpaid_order_held_for_an_unreadable_event_is_not_swept() {
    let mut o = user_order();
    assert!(o.awaits_payment());
    o.hold_unreadable("payment without a readable amount", at(1))
        .unwrap();
    assert_eq!(
        o.review_reason(),
        Some(ReviewReason::UnreadablePaymentEvent)
    );
    assert!(!o.awaits_payment(), "out of the sweep's index");
    assert_eq!(o.cancel("stale", at(2)), Err(TransitionError::UnderReview));
    o.clear_review("admin", at(3)).unwrap();
    assert!(
        o.awaits_payment(),
        "a person decided: back in the sweep's hands"
    );
}

fn kinds_of(entries: &[TimelineEntry]) -> Vec<TimelineType> {
    entries.iter().map(|e| e.kind).collect()
}

mod refunds_started_here {
    use super::*;
    use crate::ports::{ProviderRefund, ProviderRefundStatus};

    fn paid() -> Order {
        let mut o = user_order();
        o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
        o
    }

    fn ask(o: &mut Order, id: &str, amount: Option<i64>) -> Result<RefundRequest, RefundRefusal> {
        o.request_refund(
            NewRefund {
                refund_id: id.into(),
                amount,
                reason: None,
                requested_by: "admin-1".into(),
                idempotency_key: Some(format!("key-{id}")),
                request_hash: None,
            },
            at(10),
            at(70),
        )
        .map(|(r, _)| r)
    }

    fn answer(id: &str, status: ProviderRefundStatus, minor: i64) -> ProviderRefund {
        ProviderRefund {
            provider_refund_id: id.into(),
            status,
            amount: inr(minor),
            charge_id: None,
        }
    }

    fn webhook(provider_id: &str, ours: &str, minor: i64) -> RefundReport {
        RefundReport {
            payment_id: Some("pay_1".into()),
            refunds: vec![(provider_id.into(), inr(minor))],
            charge: None,
            our_ids: vec![(provider_id.into(), ours.into())],
        }
    }

    #[test]
    fn a_request_holds_its_amount_until_it_settles_and_then_counts_once() {
        let mut o = paid();
        ask(&mut o, "rf_1", Some(20_000)).unwrap();
        assert_eq!(
            o.refundable(),
            Some(inr(30_000)),
            "in flight holds the balance"
        );
        assert_eq!(o.refunded(), inr(0), "a request alone counts nothing");
        assert_eq!(
            ask(&mut o, "rf_2", Some(30_001)),
            Err(RefundRefusal::ExceedsBalance {
                requested: 30_001,
                balance: inr(30_000)
            })
        );
        o.record_refund_sent(
            "rf_1",
            &answer("rfnd_1", ProviderRefundStatus::Pending, 20_000),
            at(11),
            at(611),
        )
        .unwrap();
        assert_eq!(
            o.refund_request("rf_1").unwrap().status,
            RefundState::Pending
        );
        o.record_refunds(&webhook("rfnd_1", "rf_1", 20_000), at(12))
            .unwrap();
        assert_eq!(
            o.refund_request("rf_1").unwrap().status,
            RefundState::Succeeded
        );
        assert_eq!(o.refunded(), inr(20_000));
        assert_eq!(o.refundable(), Some(inr(30_000)));
        assert_eq!(o.payment_status(), PaymentStatus::PartiallyRefunded);
        // The webhook again, and a late `pending` answer: nothing moves back or counts twice.
        assert_eq!(
            o.record_refunds(&webhook("rfnd_1", "rf_1", 20_000), at(13)),
            Err(TransitionError::AlreadyApplied)
        );
        assert_eq!(
            o.record_refund_sent(
                "rf_1",
                &answer("rfnd_1", ProviderRefundStatus::Pending, 20_000),
                at(14),
                at(614)
            ),
            Err(TransitionError::AlreadyApplied)
        );
        assert_eq!(o.refunded(), inr(20_000));
        assert_eq!(
            o.refund_request("rf_1").unwrap().status,
            RefundState::Succeeded
        );
    }

    #[test]
    fn a_webhook_before_the_answer_settles_the_request_and_the_answer_adds_nothing() {
        let mut o = paid();
        ask(&mut o, "rf_1", None).unwrap();
        o.record_refunds(&webhook("re_1", "rf_1", 50_000), at(11))
            .unwrap();
        assert_eq!(
            o.refund_request("rf_1").unwrap().status,
            RefundState::Succeeded
        );
        assert_eq!(o.status(), OrderStatus::Refunded);
        let before = o.refunded();
        let _ = o.record_refund_sent(
            "rf_1",
            &answer("re_1", ProviderRefundStatus::Succeeded, 50_000),
            at(12),
            at(612),
        );
        assert_eq!(o.refunded(), before);
        assert_eq!(o.refundable(), Some(inr(0)));
        assert_eq!(
            kinds(&o)
                .iter()
                .filter(|k| **k == TimelineType::RefundFull)
                .count(),
            1
        );
    }

    #[test]
    fn a_succeeded_answer_counts_at_once_and_a_rejection_or_failure_releases_the_amount() {
        let mut o = paid();
        ask(&mut o, "rf_1", Some(10_000)).unwrap();
        o.record_refund_sent(
            "rf_1",
            &answer("re_1", ProviderRefundStatus::Succeeded, 10_000),
            at(11),
            at(611),
        )
        .unwrap();
        assert_eq!(o.refunded(), inr(10_000));
        ask(&mut o, "rf_2", Some(40_000)).unwrap();
        o.record_refund_rejected("rf_2", "charge already refunded", at(12))
            .unwrap();
        assert_eq!(
            o.refund_request("rf_2").unwrap().status,
            RefundState::Failed
        );
        assert_eq!(o.refundable(), Some(inr(40_000)));
        ask(&mut o, "rf_3", Some(40_000)).unwrap();
        o.record_refund_sent(
            "rf_3",
            &answer("re_3", ProviderRefundStatus::Pending, 40_000),
            at(13),
            at(613),
        )
        .unwrap();
        o.record_refund_failure(
            &RefundFailure {
                payment_id: Some("pay_1".into()),
                provider_refund_id: "re_3".into(),
                refund_id: None,
                reason: "expired_or_canceled_card".into(),
            },
            at(14),
        )
        .unwrap();
        assert_eq!(
            o.refund_request("rf_3").unwrap().status,
            RefundState::Failed
        );
        assert_eq!(o.refundable(), Some(inr(40_000)));
        assert!(!o.requires_review(), "nothing had counted: nothing to hold");
    }

    #[test]
    fn a_refund_that_fails_after_it_counted_holds_the_order_instead_of_uncounting_it() {
        let mut o = paid();
        ask(&mut o, "rf_1", Some(10_000)).unwrap();
        o.record_refunds(&webhook("re_1", "rf_1", 10_000), at(11))
            .unwrap();
        let failure = RefundFailure {
            payment_id: None,
            provider_refund_id: "re_1".into(),
            refund_id: Some("rf_1".into()),
            reason: "refund_failed".into(),
        };
        o.record_refund_failure(&failure, at(12)).unwrap();
        assert_eq!(o.review_reason(), Some(ReviewReason::RefundFailed));
        assert_eq!(
            o.refunded(),
            inr(10_000),
            "left for a person, not silently undone"
        );
        assert_eq!(
            o.record_refund_failure(&failure, at(13)),
            Err(TransitionError::AlreadyApplied)
        );
    }

    #[test]
    fn nothing_is_refundable_before_a_capture_and_a_send_lease_is_held_once() {
        let mut o = user_order();
        assert_eq!(ask(&mut o, "rf_1", None), Err(RefundRefusal::NotRefundable));
        let mut o = paid();
        ask(&mut o, "rf_1", Some(1)).unwrap();
        assert_eq!(o.owes_refund_call(), Some(at(10)));
        assert_eq!(
            o.claim_refund_send("rf_1", at(20), at(80)),
            Err(TransitionError::Busy)
        );
        let claimed = o.claim_refund_send("rf_1", at(71), at(131)).unwrap();
        assert_eq!(claimed.attempts, 2);
        o.record_refund_sent(
            "rf_1",
            &answer("re_1", ProviderRefundStatus::Pending, 1),
            at(72),
            at(672),
        )
        .unwrap();
        assert_eq!(o.owes_refund_call(), None, "accepted: no call owed");
        assert_eq!(
            o.claim_refund_send("rf_1", at(200), at(260)),
            Err(TransitionError::AlreadyApplied)
        );
    }

    #[test]
    fn the_sweeps_refund_work_is_due_from_a_request_or_from_a_pending_refunds_check() {
        let mut o = paid();
        assert_eq!(o.refund_work_due(), None, "no refund, no work");
        ask(&mut o, "rf_1", Some(10_000)).unwrap();
        ask(&mut o, "rf_2", Some(10_000)).unwrap();
        assert_eq!(o.refund_work_due(), Some(at(10)), "a call owed since asked");
        o.record_refund_sent(
            "rf_1",
            &answer("re_1", ProviderRefundStatus::Pending, 10_000),
            at(11),
            at(611),
        )
        .unwrap();
        assert_eq!(o.refund_request("rf_1").unwrap().check_at, Some(at(611)));
        assert_eq!(o.refund_work_due(), Some(at(10)), "rf_2 still owes a call");
        o.record_refund_sent(
            "rf_2",
            &answer("re_2", ProviderRefundStatus::Pending, 10_000),
            at(12),
            at(612),
        )
        .unwrap();
        assert_eq!(o.owes_refund_call(), None);
        assert_eq!(o.refund_work_due(), Some(at(611)), "the earliest check");
        assert!(o.refund_checks_due(at(610)).is_empty(), "not due yet");
        assert_eq!(
            o.refund_checks_due(at(611)),
            vec![("rf_1".to_owned(), "re_1".to_owned())]
        );

        // Still pending at the provider: asked again later, nothing else moves.
        let before = o.clone();
        o.record_refund_still_pending("rf_1", at(1211)).unwrap();
        assert_eq!(o.version(), before.version() + 1);
        assert_eq!(o.timeline(), before.timeline(), "no timeline entry");
        assert_eq!(
            o.refund_request("rf_1").unwrap().status,
            RefundState::Pending
        );
        assert_eq!(o.refund_work_due(), Some(at(612)));

        // Settled (by its webhook or by reconciliation): no more work for it.
        o.record_refunds(&webhook("re_1", "rf_1", 10_000), at(700))
            .unwrap();
        o.record_refunds(&webhook("re_2", "rf_2", 10_000), at(701))
            .unwrap();
        assert_eq!(o.refund_work_due(), None);
        assert!(o.refund_checks_due(at(100_000)).is_empty());
        assert_eq!(
            o.record_refund_still_pending("rf_1", at(2000)),
            Err(TransitionError::AlreadyApplied),
            "a settled refund is not moved back"
        );
    }

    #[test]
    fn a_pending_refund_recorded_before_checks_existed_is_due_at_once() {
        let mut o = paid();
        ask(&mut o, "rf_1", Some(10_000)).unwrap();
        o.record_refund_sent(
            "rf_1",
            &answer("re_1", ProviderRefundStatus::Pending, 10_000),
            at(11),
            at(611),
        )
        .unwrap();
        // As stored before `checkAt` existed: the field absent.
        let mut json = serde_json::to_value(&o).unwrap();
        let requests = json["refundRequests"].as_array_mut().unwrap();
        requests[0].as_object_mut().unwrap().remove("checkAt");
        let old: Order = serde_json::from_value(json).unwrap();
        assert_eq!(old.refund_request("rf_1").unwrap().check_at, None);
        assert_eq!(
            old.refund_work_due(),
            Some(at(11)),
            "due from when it was sent"
        );
        assert_eq!(old.refund_checks_due(at(11)).len(), 1);
    }
}

mod disputes_and_cancellation {
    use super::*;

    fn dispute(status: DisputeStatus, minor: i64) -> DisputeReport {
        DisputeReport {
            dispute_id: "du_1".into(),
            payment_id: Some("pay_1".into()),
            status,
            amount: inr(minor),
            reason: "fraudulent".into(),
            evidence_due_by: Some(at(600)),
        }
    }

    fn paid() -> Order {
        let mut o = user_order();
        o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
        o
    }

    #[test]
    fn a_dispute_before_shipping_holds_the_order_until_it_is_won_and_closed_ones_stay_closed() {
        let mut o = paid();
        o.record_dispute(&dispute(DisputeStatus::Open, 50_000), at(2))
            .unwrap();
        assert_eq!(o.review_reason(), Some(ReviewReason::Disputed));
        assert!(!o.ready_for_fulfilment());
        assert_eq!(o.dispute().unwrap().status, DisputeStatus::Open);
        assert_eq!(
            o.record_dispute(&dispute(DisputeStatus::Open, 50_000), at(3)),
            Err(TransitionError::AlreadyApplied)
        );
        o.record_dispute(&dispute(DisputeStatus::Won, 50_000), at(4))
            .unwrap();
        assert!(!o.requires_review());
        assert!(o.ready_for_fulfilment());
        assert_eq!(
            o.record_dispute(&dispute(DisputeStatus::UnderReview, 50_000), at(5)),
            Err(TransitionError::AlreadyApplied)
        );
        assert_eq!(o.dispute().unwrap().status, DisputeStatus::Won);
    }

    #[test]
    fn a_dispute_on_an_order_already_held_keeps_its_hold_and_reason_when_won() {
        let mut o = user_order();
        o.record_payment(&capture("pay_1", 49_000), at(1)).unwrap();
        assert_eq!(o.review_reason(), Some(ReviewReason::AmountMismatch));
        o.record_dispute(&dispute(DisputeStatus::Open, 49_000), at(2))
            .unwrap();
        assert_eq!(o.review_reason(), Some(ReviewReason::AmountMismatch));
        o.record_dispute(&dispute(DisputeStatus::Won, 49_000), at(3))
            .unwrap();
        assert!(
            o.requires_review(),
            "the amount mismatch is still a person's to clear"
        );
        assert_eq!(o.review_reason(), Some(ReviewReason::AmountMismatch));
    }

    #[test]
    fn a_lost_dispute_first_opens_and_closes_it_and_leaves_the_balance() {
        let mut o = paid();
        let entries = o
            .record_dispute(&dispute(DisputeStatus::Lost, 20_000), at(2))
            .unwrap();
        assert_eq!(
            kinds_of(&entries),
            vec![
                TimelineType::DisputeOpened,
                TimelineType::ReviewRequired,
                TimelineType::DisputeLost
            ]
        );
        assert_eq!(o.refundable(), Some(inr(30_000)));
        assert!(
            o.requires_review(),
            "lost: a person decides about the goods"
        );
    }

    #[test]
    fn cancelling_a_paid_unshipped_order_records_a_full_refund_and_it_stays_cancelled() {
        let mut o = paid();
        let done = o
            .cancel_on_request(
                "changed my mind",
                "user:user-1",
                "rf_c",
                at(5),
                at(65),
                false,
            )
            .unwrap()
            .unwrap();
        assert_eq!(o.status(), OrderStatus::Cancelled);
        let refund = done.refund.unwrap();
        assert_eq!(
            (refund.amount, refund.status),
            (inr(50_000), RefundState::Requested)
        );
        o.record_refunds(
            &RefundReport {
                payment_id: Some("pay_1".into()),
                refunds: vec![("re_c".into(), inr(50_000))],
                charge: None,
                our_ids: vec![("re_c".into(), "rf_c".into())],
            },
            at(6),
        )
        .unwrap();
        assert_eq!(
            o.status(),
            OrderStatus::Cancelled,
            "not overwritten by the refund"
        );
        assert_eq!(o.payment_status(), PaymentStatus::Refunded);
        assert!(
            o.cancel_on_request("again", "guest", "rf_x", at(7), at(67), false)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_shipped_order_is_cancelled_only_once_the_carrier_has_cancelled_its_shipment() {
        let mut o = paid();
        o.claim_fulfilment(at(2), at(200)).unwrap();
        o.record_invoice(
            InvoiceInfo {
                number: "INV-000001".into(),
                key: "k".into(),
                issued_at: at(3),
            },
            at(3),
        )
        .unwrap();
        o.record_shipment(
            ShipmentInfo {
                carrier: "shiprocket".into(),
                shipment_id: "1".into(),
                awb: "AWB1".into(),
                status: "pickup_scheduled".into(),
            },
            at(4),
        )
        .unwrap();
        o.mark_fulfilled(at(4)).unwrap();
        assert_eq!(
            o.clone()
                .cancel_on_request("x", "guest", "rf", at(5), at(65), true)
                .unwrap_err(),
            CancelRefusal::FulfilmentInProgress,
            "the worker still holds it"
        );
        o.record_notified(at(6)).unwrap();
        let before = o.clone();
        assert_eq!(
            o.cancel_on_request("x", "guest", "rf", at(7), at(67), false)
                .unwrap_err(),
            CancelRefusal::AlreadyShipped
        );
        assert_eq!(o, before);
        let done = o
            .cancel_on_request("x", "guest", "rf", at(7), at(67), true)
            .unwrap()
            .unwrap();
        assert_eq!(
            kinds_of(&done.entries),
            vec![
                TimelineType::ShipmentCancelled,
                TimelineType::Cancelled,
                TimelineType::RefundRequested
            ]
        );
        assert_eq!(o.fulfilment_status(), FulfilmentStatus::Cancelled);
        assert_eq!(o.shipment().unwrap().status, SHIPMENT_CANCELLED);
    }

    #[test]
    fn shipped_disputed_busy_and_held_orders_are_not_cancelled() {
        let mut o = paid();
        o.claim_fulfilment(at(2), at(100)).unwrap();
        let before = o.clone();
        assert_eq!(
            o.cancel_on_request("x", "guest", "rf", at(3), at(63), false)
                .unwrap_err(),
            CancelRefusal::FulfilmentInProgress
        );
        assert_eq!(o, before);
        let mut d = paid();
        d.record_dispute(&dispute(DisputeStatus::Open, 1), at(2))
            .unwrap();
        assert_eq!(
            d.cancel_on_request("x", "guest", "rf", at(3), at(63), false)
                .unwrap_err(),
            CancelRefusal::Disputed
        );
        let mut held = user_order();
        held.hold_unreadable("unreadable capture", at(2)).unwrap();
        assert_eq!(
            held.cancel_on_request("x", "guest", "rf", at(3), at(63), false)
                .unwrap_err(),
            CancelRefusal::UnderReview
        );
    }

    #[test]
    fn a_late_payment_is_recorded_and_refunded_in_full_and_a_second_one_is_held() {
        let mut o = user_order();
        o.cancel_on_request("x", "guest", "rf", at(2), at(62), false)
            .unwrap();
        assert!(o.cancelled_on_request());
        o.record_late_payment_refund(&capture("pay_9", 50_000), at(3), at(63))
            .unwrap();
        assert_eq!(o.status(), OrderStatus::Cancelled);
        let refund = o.refund_request(&late_refund_id("pay_9")).unwrap();
        assert_eq!(
            (refund.amount, refund.status),
            (inr(50_000), RefundState::Requested)
        );
        assert_eq!(
            o.record_late_payment_refund(&capture("pay_9", 50_000), at(4), at(64)),
            Err(TransitionError::AlreadyApplied)
        );
        o.record_late_payment_refund(&capture("pay_10", 50_000), at(5), at(65))
            .unwrap();
        assert_eq!(o.review_reason(), Some(ReviewReason::DuplicatePayment));
        assert_eq!(o.status(), OrderStatus::Cancelled);
    }
}
