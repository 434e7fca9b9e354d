use super::*;
use crate::customer::{CountryCode, Email};
use crate::money::Currency;

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

#[test]
fn refunds_accumulate_once_per_id_and_never_exceed_the_capture() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    let e = o
        .record_refund("rfnd_1", inr(20_000), at(2))
        .unwrap()
        .remove(0);
    assert_eq!(e.kind, TimelineType::RefundPartial);
    assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
    assert_eq!(
        o.record_refund("rfnd_1", inr(20_000), at(3)),
        Err(TransitionError::AlreadyApplied)
    );
    let e = o
        .record_refund("rfnd_2", inr(90_000), at(4))
        .unwrap()
        .remove(0);
    assert_eq!(e.kind, TimelineType::RefundFull);
    assert_eq!(o.status(), OrderStatus::Refunded);
    assert_eq!(o.refunded(), inr(50_000));
    assert_eq!(
        o.record_refund("rfnd_3", inr(1), at(5)),
        Err(TransitionError::AlreadyApplied)
    );
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
    assert_eq!(
        o.record_refund("rfnd_0", inr(10_000), at(0)).unwrap(),
        vec![]
    );
    assert_eq!(o.status(), OrderStatus::PendingPayment);
    assert_eq!(o.refunded(), inr(0));
    assert_eq!(
        o.record_refund("rfnd_0", inr(10_000), at(1)),
        Err(TransitionError::AlreadyApplied)
    );
    let entries = o.record_payment(&capture("pay_1", 50_000), at(2)).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![TimelineType::PaymentSucceeded, TimelineType::RefundPartial]
    );
    assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
    assert_eq!(o.refunded(), inr(10_000));
}

#[test]
fn cumulative_refund_totals_apply_only_their_increase() {
    let mut o = user_order();
    o.record_payment(&capture("pay_1", 50_000), at(1)).unwrap();
    o.record_refund_total("ch_1", inr(20_000), at(2)).unwrap();
    assert_eq!(
        o.record_refund_total("ch_1", inr(20_000), at(3)),
        Err(TransitionError::AlreadyApplied)
    );
    assert_eq!(
        o.record_refund_total("ch_1", inr(10_000), at(3)),
        Err(TransitionError::AlreadyApplied)
    );
    o.record_refund_total("ch_1", inr(50_000), at(4)).unwrap();
    assert_eq!(o.refunded(), inr(50_000));
    assert_eq!(o.status(), OrderStatus::Refunded);
}
