use super::simulate::*;
use super::*;
use crate::money::Currency;

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

const OID: &str = "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0";

fn oid() -> Option<OrderId> {
    Some(OrderId::parse(OID).unwrap())
}

#[test]
fn the_stripe_vector_is_an_ignored_type_not_an_error() {
    let body = include_bytes!("../../tests/fixtures/vectors/stripe_invoiceitem_created_event.json");
    let e = stripe::normalise(body).unwrap();
    assert_eq!(e.event_id, "evt_123");
    assert_eq!(e.event_type, "invoiceitem.created");
    assert!(matches!(e.action, PaymentAction::Ignored { .. }));
}

#[test]
fn the_razorpay_vector_is_a_recorded_authorisation_linked_by_its_order() {
    let body =
        include_bytes!("../../tests/fixtures/vectors/razorpay_payment_authorized_webhook.json");
    let e = razorpay::normalise(body, Some("evt_rzp_1")).unwrap();
    assert_eq!(e.event_type, "payment.authorized");
    assert_eq!(e.event_id, "evt_rzp_1");
    assert_eq!(
        e.action,
        PaymentAction::Pending {
            payment_id: Some("pay_6koWN7bvxujzxM".into())
        }
    );
    assert_eq!(e.link.order_id, None, "notes carry no orderId of ours");
    assert_eq!(
        e.link.refs,
        vec!["order_100000000order", "pay_6koWN7bvxujzxM"]
    );
}

#[test]
fn a_paid_checkout_session_succeeds_with_the_payment_intent_and_total() {
    let body = stripe_session_paid(
        "evt_1",
        "checkout.session.completed",
        "cs_test_1",
        "pi_1",
        Some(OID),
        inr(69_800),
        1,
    );
    let e = stripe::normalise(body.as_bytes()).unwrap();
    assert_eq!(
        e.action,
        PaymentAction::Succeeded {
            payment_id: "pi_1".into(),
            amount: inr(69_800)
        }
    );
    assert_eq!(e.link.order_id, oid());
    assert_eq!(e.link.refs, vec!["cs_test_1", "pi_1"]);
}

#[test]
fn the_order_is_found_through_client_reference_id_when_metadata_is_missing() {
    let body = r#"{"id":"evt_2","type":"checkout.session.completed","data":{"object":{"id":"cs_2","payment_status":"paid","amount_total":100,"currency":"inr","client_reference_id":"ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0","metadata":{},"payment_intent":{"id":"pi_2","object":"payment_intent"}}}}"#;
    let e = stripe::normalise(body.as_bytes()).unwrap();
    assert_eq!(e.link.order_id, oid());
    assert_eq!(
        e.action,
        PaymentAction::Succeeded {
            payment_id: "pi_2".into(),
            amount: inr(100)
        }
    );
}

#[test]
fn an_unpaid_completed_session_is_pending_and_an_expired_one_failed() {
    let body = r#"{"id":"evt_3","type":"checkout.session.completed","data":{"object":{"id":"cs_3","payment_status":"unpaid","amount_total":100,"currency":"inr","metadata":{"orderId":"ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"},"payment_intent":"pi_3"}}}"#;
    let e = stripe::normalise(body.as_bytes()).unwrap();
    assert_eq!(
        e.action,
        PaymentAction::Pending {
            payment_id: Some("pi_3".into())
        }
    );
    let body = body.replace("checkout.session.completed", "checkout.session.expired");
    assert!(matches!(
        stripe::normalise(body.as_bytes()).unwrap().action,
        PaymentAction::Failed { .. }
    ));
    let body = body.replace(
        "checkout.session.expired",
        "checkout.session.async_payment_failed",
    );
    assert!(matches!(
        stripe::normalise(body.as_bytes()).unwrap().action,
        PaymentAction::Failed {
            payment_id: Some(_),
            ..
        }
    ));
}

#[test]
fn payment_intent_events_succeed_on_amount_received_and_fail_with_the_decline_code() {
    let e = stripe::normalise(
        stripe_intent_succeeded("evt_4", "pi_4", Some(OID), inr(500), 1).as_bytes(),
    )
    .unwrap();
    assert_eq!(
        e.action,
        PaymentAction::Succeeded {
            payment_id: "pi_4".into(),
            amount: inr(500)
        }
    );
    let e =
        stripe::normalise(stripe_intent_failed("evt_5", "pi_4", Some(OID), inr(500), 1).as_bytes())
            .unwrap();
    assert_eq!(
        e.action,
        PaymentAction::Failed {
            payment_id: Some("pi_4".into()),
            reason: "card_declined".into()
        }
    );
}

#[test]
fn a_charge_refund_is_itemised_when_listed_and_cumulative_otherwise() {
    let body = stripe_charge_refunded(
        "evt_6",
        "ch_1",
        "pi_1",
        inr(1_000),
        300,
        Some(&[("re_1", 300)]),
        1,
    );
    let e = stripe::normalise(body.as_bytes()).unwrap();
    assert_eq!(e.link.order_id, None);
    assert_eq!(
        e.link.refs,
        vec!["pi_1"],
        "found through the payment intent recorded when paid"
    );
    assert_eq!(
        e.action,
        PaymentAction::Refunded(RefundReport {
            payment_id: Some("pi_1".into()),
            refunds: vec![("re_1".into(), inr(300))],
            charge: Some(ChargeTotal {
                charge_id: "ch_1".into(),
                total: Some(inr(300)),
            }),
            our_ids: Vec::new(),
        })
    );
    let body = stripe_charge_refunded("evt_7", "ch_1", "pi_1", inr(1_000), 1_000, None, 1);
    assert_eq!(
        stripe::normalise(body.as_bytes()).unwrap().action,
        PaymentAction::Refunded(RefundReport {
            payment_id: Some("pi_1".into()),
            refunds: vec![],
            charge: Some(ChargeTotal {
                charge_id: "ch_1".into(),
                total: Some(inr(1_000)),
            }),
            our_ids: Vec::new(),
        })
    );
}

#[test]
fn razorpay_captured_and_order_paid_name_the_same_payment() {
    let a = razorpay::normalise(
        razorpay_payment_event("payment.captured", "pay_1", "order_1", Some(OID), inr(900))
            .as_bytes(),
        Some("e1"),
    )
    .unwrap();
    let b = razorpay::normalise(
        razorpay_order_paid("pay_1", "order_1", Some(OID), inr(900)).as_bytes(),
        Some("e2"),
    )
    .unwrap();
    let expected = PaymentAction::Succeeded {
        payment_id: "pay_1".into(),
        amount: inr(900),
    };
    assert_eq!(a.action, expected);
    assert_eq!(b.action, expected);
    assert_eq!(a.link.order_id, oid());
    assert_eq!(b.link.order_id, oid());
}

#[test]
fn empty_razorpay_notes_arrive_as_an_array_and_the_order_is_found_by_reference() {
    let body = razorpay_payment_event("payment.captured", "pay_2", "order_2", None, inr(900));
    assert!(body.contains(r#""notes":[]"#));
    let e = razorpay::normalise(body.as_bytes(), Some("e3")).unwrap();
    assert_eq!(e.link.order_id, None);
    assert_eq!(e.link.refs, vec!["order_2", "pay_2"]);
}

#[test]
fn razorpay_failures_and_refunds_normalise() {
    let e = razorpay::normalise(
        razorpay_payment_event("payment.failed", "pay_3", "order_3", Some(OID), inr(900))
            .as_bytes(),
        None,
    )
    .unwrap();
    assert_eq!(
        e.action,
        PaymentAction::Failed {
            payment_id: Some("pay_3".into()),
            reason: "payment_failed".into()
        }
    );
    assert!(
        e.event_id.starts_with("sha256:"),
        "no event id header: the body hash stands in"
    );
    let e = razorpay::normalise(
        razorpay_refund_processed("rfnd_1", "pay_3", "order_3", Some(OID), inr(900), 400)
            .as_bytes(),
        Some("e4"),
    )
    .unwrap();
    assert_eq!(
        e.action,
        PaymentAction::Refunded(RefundReport {
            payment_id: Some("pay_3".into()),
            refunds: vec![("rfnd_1".into(), inr(400))],
            charge: None,
            our_ids: Vec::new(),
        })
    );
    assert_eq!(e.link.order_id, oid());
}

#[test]
fn unknown_types_are_ignored_and_garbage_is_an_error_for_the_caller_to_record() {
    let e = razorpay::normalise(
        br#"{"event":"subscription.charged","payload":{}}"#,
        Some("e5"),
    )
    .unwrap();
    assert!(matches!(e.action, PaymentAction::Ignored { .. }));
    assert!(stripe::normalise(b"not json").is_err());
    assert!(stripe::normalise(br#"{"type":"x"}"#).is_err());
    assert!(razorpay::normalise(br#"{"payload":{}}"#, None).is_err());
}

#[test]
fn a_foreign_currency_is_kept_as_reported() {
    let usd = Money::new(500, Currency::parse("USD").unwrap()).unwrap();
    let body =
        stripe_intent_succeeded("evt_8", "pi_8", Some(OID), usd, 1).replace("\"usd\"", "\"thb\"");
    let e = stripe::normalise(body.as_bytes()).unwrap();
    match e.action {
        PaymentAction::Succeeded { amount, .. } => assert_eq!(amount.currency().as_str(), "THB"),
        other => panic!("{other:?}"),
    }
}

/// Found by a hostile run: a signed capture whose amount was a string, a float, negative or
/// out of bounds was ignored, and the sweep later gave the stock away while the provider held
/// the money. Such events stay linked to their order and are marked unreadable.
#[test]
fn a_capture_or_refund_with_an_unreadable_amount_is_unreadable_not_ignored() {
    let good = razorpay_payment_event(
        "payment.captured",
        "pay_1",
        "order_1",
        Some(OID),
        inr(34_900),
    );
    let paid = stripe_session_paid(
        "evt_1",
        "checkout.session.completed",
        "cs_1",
        "pi_1",
        Some(OID),
        inr(34_900),
        1,
    );
    let refund = stripe_charge_refunded("evt_2", "ch_1", "pi_1", inr(34_900), 100, None, 1);
    for bad in [r#""34900""#, "34900.0", "-34900", "99999999999999999999"] {
        let body = good.replace(r#""amount":34900"#, &format!(r#""amount":{bad}"#));
        assert_ne!(body, good, "the fixture carries the amount");
        let e = razorpay::normalise(body.as_bytes(), Some("e1")).unwrap();
        assert!(
            matches!(e.action, PaymentAction::Unreadable { .. }),
            "razorpay amount {bad}: {:?}",
            e.action
        );
        assert_eq!(e.link.order_id, oid(), "still names its order");

        let body = paid.replace(
            r#""amount_total":34900"#,
            &format!(r#""amount_total":{bad}"#),
        );
        assert_ne!(body, paid);
        let e = stripe::normalise(body.as_bytes()).unwrap();
        assert!(
            matches!(e.action, PaymentAction::Unreadable { .. }),
            "stripe amount {bad}"
        );
        assert_eq!(e.link.order_id, oid());

        let body = refund.replace(
            r#""amount_refunded":100"#,
            &format!(r#""amount_refunded":{bad}"#),
        );
        assert_ne!(body, refund);
        let e = stripe::normalise(body.as_bytes()).unwrap();
        assert!(
            matches!(e.action, PaymentAction::Unreadable { .. }),
            "stripe refund {bad}"
        );
        assert_eq!(e.link.refs, vec!["pi_1"]);
    }
}
