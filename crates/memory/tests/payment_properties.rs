//! Property: whatever the order, duplication and concurrency of a payment's events — success,
//! its sibling (`order.paid` + `payment.captured`), a second payment (a duplicate), failure,
//! refunds of the kept payment, of the duplicate and of the failed attempt, a sweep cancelling
//! the order, someone else buying the released stock — the final order equals a simple
//! reference model, stock is conserved, and at most one fulfilment job exists. A second
//! property does the same for a Stripe charge reported in both `charge.refunded` shapes.

use std::sync::Arc;
use std::time::Duration;

use oms_core::app::outbox::OutboxPorts;
use oms_core::app::webhook::handle_event;
use oms_core::customer::{CountryCode, Customer, Email, ShippingAddress};
use oms_core::order::OrderDraft;
use oms_core::ports::{Clock, CreateOutcome, OrderStore};
use oms_core::webhook::{razorpay, simulate, stripe};
use oms_core::{
    Currency, Money, Order, OrderId, OrderLine, OrderNumber, OrderStatus, Owner, PaymentInfo,
    Product, ProviderKind, Quantity, ReviewReason, Sku, TimelineType, Timestamp, UserId,
};
use oms_memory::{InMemoryPublisher, InMemoryQueue, InMemoryStore, ManualClock};
use proptest::prelude::*;

const PRICE: i64 = 50_000;
const ORDER: &str = "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0";
const RZP_ORDER: &str = "order_prop";

fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
}

fn order(id: &str, qty: u32, at: Timestamp) -> Order {
    let sku = Sku::parse("A").unwrap();
    let total = inr(PRICE * i64::from(qty));
    Order::open(
        OrderDraft {
            id: OrderId::parse(id).unwrap(),
            number: OrderNumber::parse("ORD-1").unwrap(),
            owner: Owner::User {
                user_id: UserId::parse("u").unwrap(),
            },
            customer: Customer {
                email: Email::parse("a@example.com").unwrap(),
                name: "A".into(),
                phone: None,
            },
            shipping_address: ShippingAddress {
                name: "A".into(),
                line1: "1".into(),
                line2: None,
                city: "C".into(),
                state: "S".into(),
                postal_code: "560001".into(),
                country: CountryCode::parse("IN").unwrap(),
            },
            lines: vec![OrderLine {
                sku,
                name: "A".into(),
                quantity: Quantity::new(u64::from(qty)).unwrap(),
                unit_price: inr(PRICE),
                line_total: total,
            }],
            total,
            payment: PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: if id == ORDER {
                    RZP_ORDER.into()
                } else {
                    format!("order_{id}")
                },
                provider_payment_id: None,
                checkout_url: None,
                key_id: None,
                captured: None,
            },
            expires_at: at,
        },
        at,
    )
}

/// The steps a scenario is made of. The sweep's two parts (cancel, then a rival buys what is
/// left) are separate writes, so a payment may land between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `payment.captured` for pay_1.
    Captured,
    /// `order.paid` for the same payment: a sibling event.
    OrderPaid,
    /// `payment.failed` for an earlier attempt.
    Failed,
    /// `refund.processed` rfnd_1 of 10 000.
    RefundSmall,
    /// `refund.processed` rfnd_2 of more than was paid (clamped).
    RefundHuge,
    /// `payment.captured` for pay_9: the buyer paid a second time.
    CapturedOther,
    /// `refund.processed` rfnd_9: the whole of pay_9 returned.
    RefundOther,
    /// `refund.processed` rfnd_0: Razorpay returns the failed attempt pay_0.
    RefundFailedAttempt,
    /// The stale-order sweep cancels the order if it is unpaid, then another buyer takes all
    /// stock left.
    Sweep,
}

const STEPS: [Step; 9] = [
    Step::Captured,
    Step::OrderPaid,
    Step::Failed,
    Step::RefundSmall,
    Step::RefundHuge,
    Step::CapturedOther,
    Step::RefundOther,
    Step::RefundFailedAttempt,
    Step::Sweep,
];

struct World {
    store: Arc<InMemoryStore>,
    queue: Arc<InMemoryQueue>,
    publisher: Arc<InMemoryPublisher>,
    clock: Arc<ManualClock>,
    paid_amount: i64,
}

impl World {
    fn deps(&self) -> OutboxPorts<'_> {
        OutboxPorts {
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            publisher: self.publisher.as_ref(),
            clock: self.clock.as_ref(),
        }
    }

    async fn deliver(&self, step: Step) {
        let paid = inr(self.paid_amount);
        let (body, id) = match step {
            Step::Captured => (
                simulate::razorpay_payment_event(
                    "payment.captured",
                    "pay_1",
                    RZP_ORDER,
                    Some(ORDER),
                    paid,
                ),
                "e_cap",
            ),
            Step::OrderPaid => (
                simulate::razorpay_order_paid("pay_1", RZP_ORDER, Some(ORDER), paid),
                "e_paid",
            ),
            Step::Failed => (
                simulate::razorpay_payment_event("payment.failed", "pay_0", RZP_ORDER, None, paid),
                "e_fail",
            ),
            Step::RefundSmall => (
                simulate::razorpay_refund_processed(
                    "rfnd_1",
                    "pay_1",
                    RZP_ORDER,
                    Some(ORDER),
                    paid,
                    10_000,
                ),
                "e_r1",
            ),
            Step::RefundHuge => (
                simulate::razorpay_refund_processed(
                    "rfnd_2",
                    "pay_1",
                    RZP_ORDER,
                    Some(ORDER),
                    paid,
                    10_000_000,
                ),
                "e_r2",
            ),
            Step::CapturedOther => (
                simulate::razorpay_payment_event(
                    "payment.captured",
                    "pay_9",
                    RZP_ORDER,
                    Some(ORDER),
                    paid,
                ),
                "e_cap9",
            ),
            Step::RefundOther => (
                simulate::razorpay_refund_processed(
                    "rfnd_9",
                    "pay_9",
                    RZP_ORDER,
                    Some(ORDER),
                    paid,
                    paid.minor(),
                ),
                "e_r9",
            ),
            Step::RefundFailedAttempt => (
                simulate::razorpay_refund_processed(
                    "rfnd_0",
                    "pay_0",
                    RZP_ORDER,
                    Some(ORDER),
                    paid,
                    paid.minor(),
                ),
                "e_r0",
            ),
            Step::Sweep => return self.sweep().await,
        };
        let event = razorpay::normalise(body.as_bytes(), Some(id)).unwrap();
        handle_event(&self.deps(), &event, body.as_bytes())
            .await
            .unwrap();
    }

    /// What the cleanup sweep does to one stale order, then a competing buyer.
    async fn sweep(&self) {
        let id = OrderId::parse(ORDER).unwrap();
        loop {
            let current = self.store.get_order(&id).await.unwrap().unwrap();
            let mut next = current.clone();
            if next.cancel("stale", self.clock.now()).is_err() {
                break;
            }
            if self
                .store
                .cancel_order(&next, current.version())
                .await
                .unwrap()
            {
                break;
            }
        }
        let left = self
            .store
            .get_products(&[Sku::parse("A").unwrap()])
            .await
            .unwrap()[0]
            .available;
        if left > 0 {
            let rival = order("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ1", left, self.clock.now());
            assert_eq!(
                self.store
                    .create_order(&rival, None, self.clock.now())
                    .await
                    .unwrap(),
                CreateOutcome::Created
            );
        }
    }
}

fn scenario() -> impl Strategy<Value = (Vec<(Step, usize)>, Vec<bool>, bool, u32)> {
    (
        prop::collection::vec((0..STEPS.len(), 1..=3usize), 0..8)
            .prop_map(|v| {
                v.into_iter()
                    .map(|(i, n)| (STEPS[i], n))
                    .collect::<Vec<_>>()
            })
            .prop_shuffle(),
        prop::collection::vec(any::<bool>(), 24),
        any::<bool>(),
        0..3u32,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn the_final_order_matches_the_reference_model(
        (steps, breaks, mismatch, extra_stock) in scenario()
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let t0 = Timestamp::from_unix_millis(1_800_000_000_000);
            let world = World {
                store: Arc::new(InMemoryStore::new([Product { sku: Sku::parse("A").unwrap(), name: "A".into(), unit_price: inr(PRICE), available: 1 + extra_stock }])),
                queue: Arc::new(InMemoryQueue::default()),
                publisher: Arc::new(InMemoryPublisher::default()),
                clock: Arc::new(ManualClock::at(t0)),
                paid_amount: if mismatch { PRICE - 1 } else { PRICE },
            };
            let mine = order(ORDER, 1, t0);
            assert_eq!(world.store.create_order(&mine, None, t0).await.unwrap(), CreateOutcome::Created);

            // Expand duplicates, then cut the sequence into batches delivered concurrently.
            let deliveries: Vec<Step> = steps.iter().flat_map(|(s, n)| std::iter::repeat_n(*s, *n)).collect();
            let mut batches: Vec<Vec<Step>> = vec![Vec::new()];
            for (i, s) in deliveries.iter().enumerate() {
                if i > 0 && breaks[i % breaks.len()] {
                    batches.push(Vec::new());
                }
                batches.last_mut().unwrap().push(*s);
            }
            for batch in &batches {
                futures_util::future::join_all(batch.iter().map(|s| world.deliver(*s))).await;
                world.clock.advance(Duration::from_secs(1));
            }

            let o = world.store.get_order(&OrderId::parse(ORDER).unwrap()).await.unwrap().unwrap();
            let kinds: Vec<TimelineType> = o.timeline().iter().map(|e| e.kind).collect();
            let count = |k| kinds.iter().filter(|x| **x == k).count();
            let has = |s: Step| deliveries.contains(&s);
            let pay_1 = has(Step::Captured) || has(Step::OrderPaid);
            let succeeded = pay_1 || has(Step::CapturedOther);
            let cancelled_first = count(TimelineType::Cancelled) == 1;
            let jobs = world.queue.sent().len();
            let available = world.store.get_products(&[Sku::parse("A").unwrap()]).await.unwrap()[0].available;
            let rival_units = world.store.get_order(&OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ1").unwrap()).await.unwrap().map_or(0, |r| r.lines()[0].quantity.get());

            // The sweep can only have cancelled an order nobody had paid yet.
            let first = |s: &[Step]| batches.iter().position(|b| b.iter().any(|x| s.contains(x)));
            if let (Some(pay), Some(sweep)) = (first(&[Step::Captured, Step::OrderPaid, Step::CapturedOther]), first(&[Step::Sweep])) {
                if pay < sweep { prop_assert!(!cancelled_first, "cancelled a paid order"); }
                if sweep < pay { prop_assert!(cancelled_first, "the sweep did not cancel an unpaid order"); }
            }
            prop_assert!(count(TimelineType::Cancelled) <= 1);

            let mut holds_stock = true;
            if succeeded {
                prop_assert_eq!(count(TimelineType::PaymentSucceeded), 1, "one payment, counted once: {:?}", kinds);
                let restocked = cancelled_first && count(TimelineType::Reinstated) == 1;
                // Whichever capture was processed first is the payment the order keeps; the
                // other, if it came, is a duplicate held for review.
                let kept = o.payment().provider_payment_id.clone().unwrap();
                let both_paid = pay_1 && has(Step::CapturedOther);
                let review = if both_paid {
                    Some(ReviewReason::DuplicatePayment)
                } else if cancelled_first && !restocked {
                    Some(ReviewReason::PaidAfterCancel)
                } else if mismatch {
                    Some(ReviewReason::AmountMismatch)
                } else {
                    None
                };
                // Reinstated: the order took its stock back before the rival bought the rest.
                // Paid after cancel without stock: it holds none and waits for a person.
                holds_stock = !cancelled_first || restocked;
                prop_assert_eq!(o.review_reason(), review);
                prop_assert_eq!(o.requires_review(), review.is_some());
                let captured = world.paid_amount;
                let mut refunds = 0;
                let mut others = 0;
                for (step, payment, amount) in [
                    (Step::RefundSmall, "pay_1", 10_000),
                    (Step::RefundHuge, "pay_1", 10_000_000),
                    (Step::RefundOther, "pay_9", captured),
                    (Step::RefundFailedAttempt, "pay_0", captured),
                ] {
                    if has(step) {
                        if payment == kept { refunds += amount } else { others += 1 }
                    }
                }
                let refunded = refunds.min(captured);
                // Refunds of payments the order did not keep are recorded apart, never counted.
                prop_assert_eq!(o.other_payment_refunds().count(), others, "{:?}", kinds);
                prop_assert_eq!(o.refunded().minor(), refunded);
                let status = if refunded == 0 { OrderStatus::Paid } else if refunded == captured { OrderStatus::Refunded } else { OrderStatus::PartiallyRefunded };
                prop_assert_eq!(o.status(), status);
                // Fulfilment is queued once, when the order becomes ready: paid, not held for
                // review, not fully refunded. A full refund that lands before the capture is
                // processed means it never becomes ready; one that lands after finds the job
                // queued, and the worker checks the order again before doing anything.
                if both_paid {
                    // The first capture may have queued the job before the duplicate came; the
                    // worker checks the review flag before doing anything.
                } else if review.is_some() {
                    prop_assert_eq!(jobs, 0);
                } else if refunded < captured {
                    prop_assert_eq!(jobs, 1);
                }
            } else {
                prop_assert_eq!(count(TimelineType::PaymentSucceeded), 0);
                let status = if cancelled_first { OrderStatus::Cancelled } else if has(Step::Failed) { OrderStatus::PaymentFailed } else { OrderStatus::PendingPayment };
                prop_assert_eq!(o.status(), status);
                prop_assert_eq!(o.refunded().minor(), 0, "refunds wait for their capture");
                prop_assert_eq!(jobs, 0);
                if cancelled_first { holds_stock = false; }
            }
            prop_assert!(jobs <= 1);
            // Stock is conserved: what is left, plus what each order holds, is what there was.
            prop_assert_eq!(
                available + u32::from(holds_stock) + rival_units,
                1 + extra_stock,
                "available {}, holds {}, rival {}, timeline {:?}, status {:?}",
                available, holds_stock, rival_units, kinds, o.status()
            );
            Ok(())
        })?;
    }
}

/// Found by the property above: a held refund made the reinstated order `partially_refunded`
/// at once, and the reinstatement then forgot to take its stock back — an oversell.
#[tokio::test]
async fn a_reinstatement_with_a_held_refund_still_takes_its_stock_back() {
    let t0 = Timestamp::from_unix_millis(1_800_000_000_000);
    let world = World {
        store: Arc::new(InMemoryStore::new([Product {
            sku: Sku::parse("A").unwrap(),
            name: "A".into(),
            unit_price: inr(PRICE),
            available: 1,
        }])),
        queue: Arc::new(InMemoryQueue::default()),
        publisher: Arc::new(InMemoryPublisher::default()),
        clock: Arc::new(ManualClock::at(t0)),
        paid_amount: PRICE,
    };
    world
        .store
        .create_order(&order(ORDER, 1, t0), None, t0)
        .await
        .unwrap();
    world.deliver(Step::RefundSmall).await;
    let id = OrderId::parse(ORDER).unwrap();
    let current = world.store.get_order(&id).await.unwrap().unwrap();
    let mut cancelled = current.clone();
    cancelled.cancel("stale", t0).unwrap();
    assert!(
        world
            .store
            .cancel_order(&cancelled, current.version())
            .await
            .unwrap()
    );
    world.deliver(Step::Captured).await;
    let o = world.store.get_order(&id).await.unwrap().unwrap();
    assert_eq!(o.status(), OrderStatus::PartiallyRefunded);
    let left = world
        .store
        .get_products(&[Sku::parse("A").unwrap()])
        .await
        .unwrap()[0]
        .available;
    assert_eq!(left, 0, "the reinstated order holds its unit again");
}

/// Stripe reports for the property below: pi_1 pays the session; pi_9 pays a second time;
/// pi_1's charge ch_1 was refunded 100 (re_1) then 200 more (re_2), and pi_9's charge ch_9 was
/// refunded whole (re_9). Each refund state is reported in both `charge.refunded` shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    Cumulative100,
    Listed100,
    Cumulative300,
    Listed300,
    OtherCumulative,
    OtherListed,
}

const REPORTS: [Report; 6] = [
    Report::Cumulative100,
    Report::Listed100,
    Report::Cumulative300,
    Report::Listed300,
    Report::OtherCumulative,
    Report::OtherListed,
];

/// A report's refund list, when it has one.
type Listed = Option<&'static [(&'static str, i64)]>;

impl Report {
    fn body(self, captured: Money, at: i64) -> String {
        let (id, charge, pi, total, listed): (&str, &str, &str, i64, Listed) = match self {
            Report::Cumulative100 => ("evt_c100", "ch_1", "pi_1", 100, None),
            Report::Listed100 => ("evt_l100", "ch_1", "pi_1", 100, Some(&[("re_1", 100)])),
            Report::Cumulative300 => ("evt_c300", "ch_1", "pi_1", 300, None),
            Report::Listed300 => (
                "evt_l300",
                "ch_1",
                "pi_1",
                300,
                Some(&[("re_1", 100), ("re_2", 200)]),
            ),
            Report::OtherCumulative => ("evt_c9", "ch_9", "pi_9", captured.minor(), None),
            Report::OtherListed => (
                "evt_l9",
                "ch_9",
                "pi_9",
                captured.minor(),
                Some(&[("re_9", PRICE)]),
            ),
        };
        simulate::stripe_charge_refunded(id, charge, pi, captured, total, listed, at)
    }

    /// The charge's total this report states, and whose charge it is.
    fn total(self, captured: i64) -> (&'static str, i64) {
        match self {
            Report::Cumulative100 | Report::Listed100 => ("pi_1", 100),
            Report::Cumulative300 | Report::Listed300 => ("pi_1", 300),
            Report::OtherCumulative | Report::OtherListed => ("pi_9", captured),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Whatever shapes of `charge.refunded` arrive, repeated, concurrent and in any order, the
    /// kept payment's refunded amount is its charge's own latest total, each refunded unit is
    /// in the timeline once, and the duplicate payment's refund is never counted.
    #[test]
    fn a_stripe_charge_ledger_converges_to_the_providers_total(
        reports in prop::collection::vec((0..REPORTS.len(), 1..=2usize), 0..8).prop_shuffle(),
        breaks in prop::collection::vec(any::<bool>(), 16),
        duplicate in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let t0 = Timestamp::from_unix_millis(1_800_000_000_000);
            let world = World {
                store: Arc::new(InMemoryStore::new([Product { sku: Sku::parse("A").unwrap(), name: "A".into(), unit_price: inr(PRICE), available: 1 }])),
                queue: Arc::new(InMemoryQueue::default()),
                publisher: Arc::new(InMemoryPublisher::default()),
                clock: Arc::new(ManualClock::at(t0)),
                paid_amount: PRICE,
            };
            let mine = order(ORDER, 1, t0);
            assert_eq!(world.store.create_order(&mine, None, t0).await.unwrap(), CreateOutcome::Created);
            let at = t0.unix_seconds();
            let deliver = |body: String| {
                let world = &world;
                async move {
                    let event = stripe::normalise(body.as_bytes()).unwrap();
                    handle_event(&world.deps(), &event, body.as_bytes()).await.unwrap();
                }
            };
            // The captures come first (a refund's charge is found through its payment intent,
            // learned at capture); the duplicate races the session's own payment.
            let mut captures = vec![simulate::stripe_session_paid("evt_paid", "checkout.session.completed", "cs_1", "pi_1", Some(ORDER), inr(PRICE), at)];
            if duplicate {
                captures.push(simulate::stripe_intent_succeeded("evt_pi9", "pi_9", Some(ORDER), inr(PRICE), at));
            }
            futures_util::future::join_all(captures.into_iter().map(deliver)).await;

            let deliveries: Vec<Report> = reports.iter().flat_map(|(i, n)| std::iter::repeat_n(REPORTS[*i], *n)).collect();
            let mut batches: Vec<Vec<Report>> = vec![Vec::new()];
            for (i, r) in deliveries.iter().enumerate() {
                if i > 0 && breaks[i % breaks.len()] {
                    batches.push(Vec::new());
                }
                batches.last_mut().unwrap().push(*r);
            }
            for batch in &batches {
                futures_util::future::join_all(batch.iter().map(|r| deliver(r.body(inr(PRICE), at)))).await;
                world.clock.advance(Duration::from_secs(1));
            }

            let o = world.store.get_order(&OrderId::parse(ORDER).unwrap()).await.unwrap().unwrap();
            let kept = o.payment().provider_payment_id.clone().unwrap();
            // pi_9's refunds find the order only once pi_9 is known to it.
            let counted = |r: &Report| r.total(PRICE).0 == kept && (kept == "pi_1" || duplicate);
            let expected = deliveries.iter().filter(|r| counted(r)).map(|r| r.total(PRICE).1).max().unwrap_or(0).min(PRICE);
            prop_assert_eq!(o.refunded().minor(), expected, "kept {} after {:?}", kept, deliveries);
            let in_timeline: i64 = o.timeline().iter()
                .filter(|e| matches!(e.kind, TimelineType::RefundPartial | TimelineType::RefundFull))
                .map(|e| e.meta["amount"].as_i64().unwrap())
                .sum();
            prop_assert_eq!(in_timeline, expected, "each refunded unit reported once");
            let status = if expected == 0 { OrderStatus::Paid } else if expected == PRICE { OrderStatus::Refunded } else { OrderStatus::PartiallyRefunded };
            prop_assert_eq!(o.status(), status);
            prop_assert_eq!(o.requires_review(), duplicate);
            let others_delivered = duplicate && deliveries.iter().any(|r| r.total(PRICE).0 != kept);
            prop_assert_eq!(o.other_payment_refunds().next().is_some(), others_delivered);
            Ok(())
        })?;
    }
}
