//! Refund-status and dispute events of both providers, built as their documentation shows them.

use serde_json::{Value, json};

use super::simulate::*;
use super::*;
use crate::money::Currency;
use crate::time::Timestamp;

const OID: &str = "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0";
const DUE: i64 = 1_700_864_000;

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

fn oid() -> Option<OrderId> {
    Some(OrderId::parse(OID).unwrap())
}

fn due() -> Option<Timestamp> {
    Some(Timestamp::from_unix_millis(DUE * 1000))
}

fn link(order_id: Option<OrderId>, refs: &[&str]) -> OrderLink {
    OrderLink {
        order_id,
        refs: refs.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn stripe_event(
    event_id: &str,
    event_type: &str,
    link: OrderLink,
    action: PaymentAction,
) -> PaymentEvent {
    PaymentEvent {
        provider: ProviderKind::Stripe,
        event_id: event_id.into(),
        event_type: event_type.into(),
        link,
        action,
    }
}

fn razorpay_event(
    event_id: &str,
    event_type: &str,
    link: OrderLink,
    action: PaymentAction,
) -> PaymentEvent {
    PaymentEvent {
        provider: ProviderKind::Razorpay,
        event_id: event_id.into(),
        event_type: event_type.into(),
        link,
        action,
    }
}

fn refund<'a>(
    id: &'a str,
    payment_id: &'a str,
    minor: i64,
    status: &'a str,
    ours: Option<&'a str>,
) -> RefundSpec<'a> {
    RefundSpec {
        id,
        payment_id,
        amount: inr(minor),
        status,
        our_id: ours,
    }
}

fn dispute<'a>(id: &'a str, payment_id: &'a str, status: &'a str) -> DisputeSpec<'a> {
    DisputeSpec {
        id,
        payment_id,
        amount: inr(34_900),
        status,
        reason: "fraudulent",
        due_by: Some(DUE),
    }
}

/// Edits a built body (fields the builders do not vary).
fn edited(body: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    edit(&mut v);
    v.to_string()
}

// --- Stripe refunds -------------------------------------------------------------------------

#[test]
fn each_stripe_refund_event_normalises_by_the_refund_status() {
    let succeeded = refund("re_1", "pi_1", 300, "succeeded", Some("rf_1"));
    let pending = refund("re_2", "pi_1", 300, "pending", Some("rf_2"));
    let failed = refund("re_3", "pi_1", 300, "failed", Some("rf_3"));
    let cases = [
        (
            "refund.created",
            pending,
            PaymentAction::Pending {
                payment_id: Some("pi_1".into()),
            },
        ),
        (
            "refund.updated",
            succeeded,
            PaymentAction::Refunded(RefundReport {
                payment_id: Some("pi_1".into()),
                refunds: vec![("re_1".into(), inr(300))],
                charge: Some(ChargeTotal {
                    charge_id: "ch_1".into(),
                    total: None,
                }),
                our_ids: vec![("re_1".into(), "rf_1".into())],
            }),
        ),
        (
            "refund.failed",
            failed,
            PaymentAction::RefundFailed(RefundFailure {
                payment_id: Some("pi_1".into()),
                provider_refund_id: "re_3".into(),
                refund_id: Some("rf_3".into()),
                reason: "expired_or_canceled_card".into(),
            }),
        ),
    ];
    for (kind, r, action) in cases {
        let body = stripe_refund_event("evt_r", kind, &r, "ch_1", Some(OID), 1);
        assert_eq!(
            stripe::normalise(body.as_bytes()).unwrap(),
            stripe_event("evt_r", kind, link(oid(), &["pi_1"]), action),
            "{kind}"
        );
    }
}

#[test]
fn a_refund_someone_else_started_is_found_by_its_payment_intent_and_names_no_id_of_ours() {
    let r = refund("re_9", "pi_1", 500, "succeeded", None);
    let body = stripe_refund_event("evt_r9", "refund.updated", &r, "ch_1", None, 1);
    assert!(body.contains(r#""metadata":{}"#));
    assert_eq!(
        stripe::normalise(body.as_bytes()).unwrap(),
        stripe_event(
            "evt_r9",
            "refund.updated",
            link(None, &["pi_1"]),
            PaymentAction::Refunded(RefundReport {
                payment_id: Some("pi_1".into()),
                refunds: vec![("re_9".into(), inr(500))],
                charge: Some(ChargeTotal {
                    charge_id: "ch_1".into(),
                    total: None,
                }),
                our_ids: vec![],
            })
        )
    );
}

#[test]
fn stripe_refund_statuses_map_to_refunded_pending_or_failed() {
    let refunded = |ours: &str| {
        PaymentAction::Refunded(RefundReport {
            payment_id: Some("pi_1".into()),
            refunds: vec![("re_1".into(), inr(300))],
            charge: Some(ChargeTotal {
                charge_id: "ch_1".into(),
                total: None,
            }),
            our_ids: vec![("re_1".into(), ours.into())],
        })
    };
    let failed = |reason: &str| {
        PaymentAction::RefundFailed(RefundFailure {
            payment_id: Some("pi_1".into()),
            provider_refund_id: "re_1".into(),
            refund_id: Some("rf_1".into()),
            reason: reason.into(),
        })
    };
    let pending = PaymentAction::Pending {
        payment_id: Some("pi_1".into()),
    };
    for (kind, status, expected) in [
        ("refund.created", "succeeded", refunded("rf_1")),
        ("refund.updated", "succeeded", refunded("rf_1")),
        ("refund.created", "pending", pending.clone()),
        ("refund.updated", "pending", pending.clone()),
        ("refund.updated", "requires_action", pending),
        (
            "refund.updated",
            "failed",
            failed("expired_or_canceled_card"),
        ),
        (
            "refund.failed",
            "failed",
            failed("expired_or_canceled_card"),
        ),
        // A cancelled refund carries no failure_reason: the status is the reason.
        ("refund.updated", "canceled", failed("canceled")),
        ("refund.failed", "canceled", failed("canceled")),
    ] {
        let r = refund("re_1", "pi_1", 300, status, Some("rf_1"));
        let body = stripe_refund_event("evt_1", kind, &r, "ch_1", Some(OID), 1);
        assert_eq!(
            stripe::normalise(body.as_bytes()).unwrap().action,
            expected,
            "{kind} {status}"
        );
    }
    // A status Stripe adds later moved no money we know of: recorded, not applied.
    let r = refund("re_1", "pi_1", 300, "reversed_somehow", Some("rf_1"));
    let body = stripe_refund_event("evt_1", "refund.updated", &r, "ch_1", Some(OID), 1);
    assert!(matches!(
        stripe::normalise(body.as_bytes()).unwrap().action,
        PaymentAction::Ignored { .. }
    ));
}

#[test]
fn a_succeeded_stripe_refund_with_an_unreadable_id_or_amount_is_unreadable_and_still_linked() {
    let r = refund("re_1", "pi_1", 34_900, "succeeded", Some("rf_1"));
    let good = stripe_refund_event("evt_1", "refund.updated", &r, "ch_1", Some(OID), 1);
    let mut bodies: Vec<String> = [
        r#""34900""#,
        "34900.0",
        "-34900",
        "99999999999999999999",
        "null",
    ]
    .iter()
    .map(|bad| good.replace(r#""amount":34900"#, &format!(r#""amount":{bad}"#)))
    .collect();
    bodies.push(edited(&good, |v| v["data"]["object"]["id"] = Value::Null));
    bodies.push(edited(&good, |v| {
        v["data"]["object"]["currency"] = json!("not a currency")
    }));
    for body in bodies {
        assert_ne!(body, good, "the fixture carries the field");
        let e = stripe::normalise(body.as_bytes()).unwrap();
        assert!(
            matches!(e.action, PaymentAction::Unreadable { .. }),
            "{body}: {:?}",
            e.action
        );
        assert_eq!(e.link, link(oid(), &["pi_1"]));
    }
    // A failed refund moved no money: its amount does not matter, but without an id it cannot
    // be told apart from any other, so a person looks.
    let failed = refund("re_1", "pi_1", 34_900, "failed", Some("rf_1"));
    let body = stripe_refund_event("evt_2", "refund.failed", &failed, "ch_1", Some(OID), 1);
    let body = edited(&body, |v| v["data"]["object"]["id"] = Value::Null);
    assert!(matches!(
        stripe::normalise(body.as_bytes()).unwrap().action,
        PaymentAction::Unreadable { .. }
    ));
}

#[test]
fn a_charge_refund_names_our_refund_ids_and_still_skips_failed_listings() {
    let body = stripe_charge_refunded_listing(
        "evt_c",
        "ch_1",
        inr(1_000),
        500,
        &[
            refund("re_1", "pi_1", 300, "succeeded", Some("rf_1")),
            // Started in the dashboard: no id of ours.
            refund("re_2", "pi_1", 200, "succeeded", None),
            refund("re_3", "pi_1", 100, "failed", Some("rf_3")),
            refund("re_4", "pi_1", 100, "canceled", Some("rf_4")),
        ],
        1,
    );
    assert_eq!(
        stripe::normalise(body.as_bytes()).unwrap(),
        stripe_event(
            "evt_c",
            "charge.refunded",
            link(None, &["pi_1"]),
            PaymentAction::Refunded(RefundReport {
                payment_id: Some("pi_1".into()),
                refunds: vec![("re_1".into(), inr(300)), ("re_2".into(), inr(200))],
                charge: Some(ChargeTotal {
                    charge_id: "ch_1".into(),
                    total: Some(inr(500)),
                }),
                our_ids: vec![("re_1".into(), "rf_1".into())],
            })
        )
    );
}

// --- Stripe disputes ------------------------------------------------------------------------

#[test]
fn each_stripe_dispute_event_reports_where_the_chargeback_stands() {
    for (kind, status, expected) in [
        (
            "charge.dispute.created",
            "needs_response",
            DisputeStatus::Open,
        ),
        (
            "charge.dispute.funds_withdrawn",
            "needs_response",
            DisputeStatus::Open,
        ),
        (
            "charge.dispute.updated",
            "under_review",
            DisputeStatus::UnderReview,
        ),
        ("charge.dispute.closed", "lost", DisputeStatus::Lost),
        ("charge.dispute.funds_reinstated", "won", DisputeStatus::Won),
    ] {
        let body = stripe_dispute_event("evt_d", kind, &dispute("du_1", "pi_1", status), "ch_1", 1);
        assert_eq!(
            stripe::normalise(body.as_bytes()).unwrap(),
            stripe_event(
                "evt_d",
                kind,
                link(None, &["pi_1", "ch_1"]),
                PaymentAction::Dispute(DisputeReport {
                    dispute_id: "du_1".into(),
                    payment_id: Some("pi_1".into()),
                    status: expected,
                    amount: inr(34_900),
                    reason: "fraudulent".into(),
                    evidence_due_by: due(),
                })
            ),
            "{kind}"
        );
    }
}

#[test]
fn stripe_dispute_statuses_map_to_open_under_review_won_or_lost() {
    for (status, expected) in [
        ("warning_needs_response", DisputeStatus::Open),
        ("needs_response", DisputeStatus::Open),
        ("warning_under_review", DisputeStatus::UnderReview),
        ("under_review", DisputeStatus::UnderReview),
        ("won", DisputeStatus::Won),
        ("warning_closed", DisputeStatus::Won),
        ("lost", DisputeStatus::Lost),
        // Closed by a refund the refund events count: never lost as well.
        ("charge_refunded", DisputeStatus::Won),
        ("prevented", DisputeStatus::Won),
        ("a_status_from_the_future", DisputeStatus::Open),
    ] {
        let body = stripe_dispute_event(
            "evt_d",
            "charge.dispute.updated",
            &dispute("du_1", "pi_1", status),
            "ch_1",
            1,
        );
        match stripe::normalise(body.as_bytes()).unwrap().action {
            PaymentAction::Dispute(d) => assert_eq!(d.status, expected, "{status}"),
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[test]
fn a_stripe_dispute_with_expanded_ids_and_no_deadline_still_reads() {
    let body = stripe_dispute_event(
        "evt_d",
        "charge.dispute.created",
        &DisputeSpec {
            due_by: None,
            ..dispute("du_1", "pi_1", "needs_response")
        },
        "ch_1",
        1,
    );
    let body = edited(&body, |v| {
        let o = &mut v["data"]["object"];
        o["payment_intent"] = json!({"id": "pi_1", "object": "payment_intent"});
        o["charge"] = json!({"id": "ch_1", "object": "charge"});
    });
    let e = stripe::normalise(body.as_bytes()).unwrap();
    assert_eq!(e.link, link(None, &["pi_1", "ch_1"]));
    match e.action {
        PaymentAction::Dispute(d) => {
            assert_eq!(d.payment_id.as_deref(), Some("pi_1"));
            assert_eq!(d.evidence_due_by, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stripe_dispute_without_a_readable_id_amount_or_currency_is_unreadable() {
    let good = stripe_dispute_event(
        "evt_d",
        "charge.dispute.created",
        &dispute("du_1", "pi_1", "needs_response"),
        "ch_1",
        1,
    );
    for field in ["id", "amount", "currency"] {
        for bad in [Value::Null, json!("x"), json!(-1)] {
            if field == "id" && bad == json!("x") {
                continue; // an odd but readable id
            }
            let body = edited(&good, |v| v["data"]["object"][field] = bad.clone());
            let e = stripe::normalise(body.as_bytes()).unwrap();
            assert!(
                matches!(e.action, PaymentAction::Unreadable { .. }),
                "{field} = {bad}: {:?}",
                e.action
            );
            assert_eq!(
                e.link,
                link(None, &["pi_1", "ch_1"]),
                "still names its payment"
            );
        }
    }
}

// --- Razorpay refunds -----------------------------------------------------------------------

#[test]
fn each_razorpay_refund_event_normalises_with_our_refund_id_from_notes() {
    let cases = [
        (
            "refund.created",
            "pending",
            PaymentAction::Pending {
                payment_id: Some("pay_1".into()),
            },
        ),
        (
            "refund.processed",
            "processed",
            PaymentAction::Refunded(RefundReport {
                payment_id: Some("pay_1".into()),
                refunds: vec![("rfnd_1".into(), inr(400))],
                charge: None,
                our_ids: vec![("rfnd_1".into(), "rf_1".into())],
            }),
        ),
        (
            "refund.failed",
            "failed",
            PaymentAction::RefundFailed(RefundFailure {
                payment_id: Some("pay_1".into()),
                provider_refund_id: "rfnd_1".into(),
                refund_id: Some("rf_1".into()),
                reason: "refund_failed".into(),
            }),
        ),
    ];
    for (kind, status, action) in cases {
        let r = refund("rfnd_1", "pay_1", 400, status, Some("rf_1"));
        let body = razorpay_refund_event(kind, &r, "order_1", Some(OID), inr(900));
        assert_eq!(
            razorpay::normalise(body.as_bytes(), Some("e1")).unwrap(),
            razorpay_event("e1", kind, link(oid(), &["order_1", "pay_1"]), action),
            "{kind}"
        );
    }
}

#[test]
fn refund_notes_sent_as_an_empty_array_name_no_refund_of_ours() {
    let body = razorpay_refund_processed("rfnd_1", "pay_1", "order_1", None, inr(900), 400);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["payload"]["refund"]["entity"]["notes"], json!([]));
    assert_eq!(
        razorpay::normalise(body.as_bytes(), Some("e2")).unwrap(),
        razorpay_event(
            "e2",
            "refund.processed",
            link(None, &["order_1", "pay_1"]),
            PaymentAction::Refunded(RefundReport {
                payment_id: Some("pay_1".into()),
                refunds: vec![("rfnd_1".into(), inr(400))],
                charge: None,
                our_ids: vec![],
            })
        )
    );
    let r = refund("rfnd_2", "pay_1", 400, "failed", None);
    let body = razorpay_refund_event("refund.failed", &r, "order_1", None, inr(900));
    assert_eq!(
        razorpay::normalise(body.as_bytes(), Some("e3"))
            .unwrap()
            .action,
        PaymentAction::RefundFailed(RefundFailure {
            payment_id: Some("pay_1".into()),
            provider_refund_id: "rfnd_2".into(),
            refund_id: None,
            reason: "refund_failed".into(),
        })
    );
}

#[test]
fn a_razorpay_refund_without_a_readable_id_is_unreadable() {
    for kind in ["refund.processed", "refund.failed"] {
        let r = refund("rfnd_1", "pay_1", 400, "failed", Some("rf_1"));
        let body = razorpay_refund_event(kind, &r, "order_1", Some(OID), inr(900));
        let body = edited(&body, |v| {
            v["payload"]["refund"]["entity"]["id"] = Value::Null
        });
        let e = razorpay::normalise(body.as_bytes(), Some("e4")).unwrap();
        assert!(
            matches!(e.action, PaymentAction::Unreadable { .. }),
            "{kind}: {:?}",
            e.action
        );
        assert_eq!(e.link.order_id, oid());
    }
}

// --- Razorpay disputes ----------------------------------------------------------------------

#[test]
fn each_razorpay_dispute_event_reports_where_the_chargeback_stands() {
    for (kind, status, expected) in [
        ("payment.dispute.created", "open", DisputeStatus::Open),
        (
            "payment.dispute.under_review",
            "under_review",
            DisputeStatus::UnderReview,
        ),
        (
            "payment.dispute.action_required",
            "open",
            DisputeStatus::Open,
        ),
        ("payment.dispute.won", "won", DisputeStatus::Won),
        ("payment.dispute.lost", "lost", DisputeStatus::Lost),
        ("payment.dispute.closed", "closed", DisputeStatus::Won),
    ] {
        let d = DisputeSpec {
            reason: "chargeback",
            ..dispute("disp_1", "pay_1", status)
        };
        let body = razorpay_dispute_event(kind, &d, "order_1", Some(OID), inr(34_900));
        assert_eq!(
            razorpay::normalise(body.as_bytes(), Some("e5")).unwrap(),
            razorpay_event(
                "e5",
                kind,
                link(oid(), &["order_1", "pay_1"]),
                PaymentAction::Dispute(DisputeReport {
                    dispute_id: "disp_1".into(),
                    payment_id: Some("pay_1".into()),
                    status: expected,
                    amount: inr(34_900),
                    reason: "chargeback".into(),
                    evidence_due_by: due(),
                })
            ),
            "{kind}"
        );
    }
}

#[test]
fn razorpay_dispute_status_comes_from_the_entity_then_the_event_name() {
    use DisputeStatus::*;
    // (event, entity status or none, amount_deducted, expected)
    let cases: &[(&str, Option<&str>, i64, DisputeStatus)] = &[
        ("created", Some("open"), 0, Open),
        ("under_review", Some("under_review"), 0, UnderReview),
        ("won", Some("won"), 0, Won),
        ("lost", Some("lost"), 34_900, Lost),
        // A later delivery of an earlier event still reports the entity as it now stands.
        ("created", Some("lost"), 34_900, Lost),
        ("under_review", Some("won"), 0, Won),
        // Closed: a fraud-phase dispute settled by an explanation or a refund; nothing deducted.
        ("closed", Some("closed"), 0, Won),
        ("closed", Some("closed"), 34_900, Lost),
        // The evidence was not enough: open again, whatever stage the entity still shows…
        ("action_required", Some("under_review"), 0, Open),
        ("action_required", Some("open"), 0, Open),
        // …but a decided dispute stays decided.
        ("action_required", Some("won"), 0, Won),
        // No status: the event's name says it.
        ("created", None, 0, Open),
        ("under_review", None, 0, UnderReview),
        ("action_required", None, 0, Open),
        ("won", None, 0, Won),
        ("lost", None, 34_900, Lost),
        ("closed", None, 0, Won),
        ("closed", None, 34_900, Lost),
        // An unknown status falls back to the event's name too.
        (
            "under_review",
            Some("a_status_from_the_future"),
            0,
            UnderReview,
        ),
        ("created", Some("a_status_from_the_future"), 0, Open),
    ];
    for (event, status, deducted, expected) in cases {
        let kind = format!("payment.dispute.{event}");
        let body = razorpay_dispute_event(
            &kind,
            &dispute("disp_1", "pay_1", status.unwrap_or("open")),
            "order_1",
            Some(OID),
            inr(34_900),
        );
        let body = edited(&body, |v| {
            let d = &mut v["payload"]["dispute"]["entity"];
            d["amount_deducted"] = json!(deducted);
            if status.is_none() {
                d.as_object_mut().unwrap().remove("status");
            }
        });
        match razorpay::normalise(body.as_bytes(), Some("e6"))
            .unwrap()
            .action
        {
            PaymentAction::Dispute(d) => {
                assert_eq!(
                    d.status, *expected,
                    "{kind} status {status:?} deducted {deducted}"
                )
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[test]
fn a_razorpay_dispute_without_a_readable_id_amount_or_currency_is_unreadable() {
    let good = razorpay_dispute_event(
        "payment.dispute.created",
        &dispute("disp_1", "pay_1", "open"),
        "order_1",
        Some(OID),
        inr(34_900),
    );
    for field in ["id", "amount", "currency"] {
        for bad in [Value::Null, json!(-1), json!("34900.0")] {
            if field == "id" && bad == json!("34900.0") {
                continue; // an odd but readable id
            }
            let body = edited(&good, |v| {
                v["payload"]["dispute"]["entity"][field] = bad.clone()
            });
            let e = razorpay::normalise(body.as_bytes(), Some("e7")).unwrap();
            assert!(
                matches!(e.action, PaymentAction::Unreadable { .. }),
                "{field} = {bad}: {:?}",
                e.action
            );
            assert_eq!(e.link.order_id, oid(), "still names its order");
        }
    }
    // Without the payment entity, the dispute's own payment id names the payment.
    let body = edited(&good, |v| {
        v["payload"].as_object_mut().unwrap().remove("payment");
    });
    let e = razorpay::normalise(body.as_bytes(), Some("e8")).unwrap();
    assert_eq!(e.link, link(None, &["pay_1"]));
    match e.action {
        PaymentAction::Dispute(d) => assert_eq!(d.payment_id.as_deref(), Some("pay_1")),
        other => panic!("{other:?}"),
    }
}
