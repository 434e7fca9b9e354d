//! A verified provider event, applied to its order at most once (`docs/decisions.md`, "Payment
//! webhooks"; the order states in `docs/openapi.yaml`).
//!
//! The event record (the dedupe key) and the order's transition are written in one conditional
//! commit, so a redelivered or concurrently delivered event changes nothing twice; a version
//! conflict (another event for the same order got there first) is resolved here by reading
//! again, never answered as an error. When an order becomes ready for fulfilment, an outbox
//! entry is written in the same commit and the job sent after it; if the send fails the caller
//! answers 5xx, the provider retries, and the retry (a duplicate) sends the job.

use std::time::Duration;

use serde_json::json;

use crate::ids::OrderId;
use crate::order::{
    LatePaymentPolicy, Order, OrderStatus, PaymentCapture, TimelineEntry, TransitionError,
    late_refund_id,
};
use crate::ports::{
    CommitOutcome, EventCommit, EventOutcome, EventRecord, OrderStore, OutboxEntry, StoreError,
    Topic,
};
use crate::time::Timestamp;
use crate::webhook::{PaymentAction, PaymentEvent};

use super::outbox::{OUTBOX_LEASE, OutboxError, OutboxPorts, resume_outbox, send_job};
use super::refund::REFUND_SEND_LEASE;
use super::retry::{MAX_ATTEMPTS, Retry};

/// How long event records are kept by default: beyond Stripe's 30-day window for listing
/// events, so a backfill always finds what it applied (`EVENT_RETENTION_DAYS`).
pub const EVENT_RETENTION: Duration = Duration::from_secs(35 * 24 * 60 * 60);

/// What became of a delivery. Every variant is answered 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Applied {
        order_id: OrderId,
        /// A refund this event made owed (a late payment's, recorded `requested` with its send
        /// lease held by this caller): send it now (`refund::send_recorded`); if that fails the
        /// sweep sends it.
        refund_to_send: Option<String>,
    },
    /// This event was processed before.
    Duplicate,
    NoChange {
        order_id: OrderId,
        reason: String,
    },
    Ignored,
    Unmatched,
}

fn record(
    event: &PaymentEvent,
    payload: &[u8],
    order_id: Option<&OrderId>,
    outcome: EventOutcome,
    detail: &str,
    now: Timestamp,
    delivery: Delivery,
) -> EventRecord {
    EventRecord {
        provider: event.provider,
        event_id: event.event_id.clone(),
        event_type: event.event_type.clone(),
        received_at: now,
        order_id: order_id.cloned(),
        outcome,
        detail: detail.to_owned(),
        payload: String::from_utf8_lossy(payload).into_owned(),
        expires_at: now.plus(delivery.event_retention),
        source: delivery.source,
    }
}

/// Applies `action` to `order`. `restock` says whether the stock for a cancelled order could be
/// taken again (the store confirms it in the same commit).
pub fn apply_action(
    order: &mut Order,
    action: &PaymentAction,
    restock: bool,
    at: Timestamp,
) -> Result<Vec<TimelineEntry>, TransitionError> {
    match action {
        PaymentAction::Succeeded { payment_id, amount } => {
            let capture = PaymentCapture {
                provider_payment_id: payment_id.clone(),
                amount: *amount,
            };
            if order.status() == OrderStatus::Cancelled {
                order.record_payment_after_cancel(&capture, restock, at)
            } else {
                order.record_payment(&capture, at)
            }
        }
        PaymentAction::Failed { payment_id, reason } => order
            .record_payment_failure(payment_id.as_deref(), reason, at)
            .map(|e| vec![e]),
        PaymentAction::Refunded(report) => order.record_refunds(report, at),
        PaymentAction::Unreadable { reason } => order.hold_unreadable(reason, at).map(|e| vec![e]),
        PaymentAction::RefundFailed(failure) => order.record_refund_failure(failure, at),
        PaymentAction::Dispute(report) => order.record_dispute(report, at),
        PaymentAction::Pending { .. } | PaymentAction::Ignored { .. } => {
            Err(TransitionError::AlreadyApplied)
        }
    }
}

/// Payment ids the order should be findable by after this event.
fn learned_refs(action: &PaymentAction) -> Vec<String> {
    match action {
        PaymentAction::Succeeded { payment_id, .. } => vec![payment_id.clone()],
        PaymentAction::Failed { payment_id, .. } | PaymentAction::Pending { payment_id } => {
            payment_id.iter().cloned().collect()
        }
        _ => Vec::new(),
    }
}

/// The order an event is about, read once (the read is reused for the first decision).
async fn resolve_order(
    store: &dyn OrderStore,
    event: &PaymentEvent,
) -> Result<Option<Order>, StoreError> {
    if let Some(id) = &event.link.order_id
        && let Some(order) = store.get_order(id).await?
    {
        return Ok(Some(order));
    }
    for r in &event.link.refs {
        if let Some(id) = store.find_order_by_ref(event.provider, r).await? {
            return store.get_order(&id).await;
        }
    }
    Ok(None)
}

pub use crate::ports::EventSource;

/// How one event is applied: the configured `LATE_PAYMENT_POLICY`, how long its record is
/// kept, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub late_payment: LatePaymentPolicy,
    pub event_retention: Duration,
    pub source: EventSource,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            late_payment: LatePaymentPolicy::default(),
            event_retention: EVENT_RETENTION,
            source: EventSource::Webhook,
        }
    }
}

/// Applies a verified event to the order it is about, at most once, and sends the fulfilment job
/// it makes owed; a late payment for a cancelled order is refunded ([`LatePaymentPolicy`]'s
/// default).
pub async fn handle_event(
    ports: &OutboxPorts<'_>,
    event: &PaymentEvent,
    payload: &[u8],
) -> Result<Handled, OutboxError> {
    handle_event_with(ports, Delivery::default(), event, payload).await
}

/// A payment for a cancelled order that will not be reinstated, to be refunded under `policy`:
/// the customer or an admin cancelled it, or its stock is gone (`restock` false after the store
/// said so).
fn late_refund(
    order: &Order,
    action: &PaymentAction,
    restock: bool,
    policy: LatePaymentPolicy,
) -> Option<PaymentCapture> {
    let PaymentAction::Succeeded { payment_id, amount } = action else {
        return None;
    };
    let not_reinstated =
        order.cancelled_on_request() || !restock || order.payment().captured.is_some();
    (order.status() == OrderStatus::Cancelled
        && policy == LatePaymentPolicy::Refund
        && not_reinstated)
        .then(|| PaymentCapture {
            provider_payment_id: payment_id.clone(),
            amount: *amount,
        })
}

/// [`handle_event`] under a configured `LATE_PAYMENT_POLICY`, from a given source. The job it
/// sends, the outbox entry it writes and the messages it publishes carry the ports' trace with
/// this event's id.
pub async fn handle_event_with(
    ports: &OutboxPorts<'_>,
    delivery: Delivery,
    event: &PaymentEvent,
    payload: &[u8],
) -> Result<Handled, OutboxError> {
    let traced = ports
        .clone()
        .traced(ports.trace.clone().with_event(&event.event_id));
    let ports = &traced;
    let policy = delivery.late_payment;
    let now = ports.clock.now();

    if let PaymentAction::Ignored { reason } = &event.action {
        let rec = record(
            event,
            payload,
            None,
            EventOutcome::Ignored,
            reason,
            now,
            delivery,
        );
        return Ok(match record_only(ports.store, &rec).await? {
            true => Handled::Ignored,
            false => Handled::Duplicate,
        });
    }

    let Some(first_read) = resolve_order(ports.store, event).await? else {
        let rec = record(
            event,
            payload,
            None,
            EventOutcome::Unmatched,
            "no order found",
            now,
            delivery,
        );
        if !record_only(ports.store, &rec).await? {
            return Ok(Handled::Duplicate);
        }
        tracing::warn!(provider = event.provider.as_str(), event_id = %event.event_id, "unmatched payment event");
        ports
            .publish(
                Topic::OpsAlerts,
                "ops.unmatched_payment_event",
                json!({
                    "category": "payment",
                    "severity": "high",
                    "title": "Signed payment event matches no order",
                    "provider": event.provider.as_str(),
                    "eventId": event.event_id,
                    "eventType": event.event_type,
                    "refs": event.link.refs,
                    "orderId": event.link.order_id,
                    "at": now,
                }),
            )
            .await;
        return Ok(Handled::Unmatched);
    };

    let order_id = first_read.id().clone();
    let mut fresh = Some(first_read);
    let mut restock = true;
    let mut retry = Retry::new(MAX_ATTEMPTS);
    loop {
        let order = match fresh.take() {
            Some(o) => o,
            None => ports
                .store
                .get_order(&order_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("order {order_id} vanished")))?,
        };
        let mut next = order.clone();
        let cancelled = order.status() == OrderStatus::Cancelled;
        // An order cancelled on request is never reinstated by a late payment.
        let reinstate = restock && !order.cancelled_on_request();
        let late = late_refund(&order, &event.action, reinstate, policy);
        let applied = match &late {
            Some(capture) => {
                next.record_late_payment_refund(capture, now, now.plus(REFUND_SEND_LEASE))
            }
            None => apply_action(&mut next, &event.action, reinstate, now),
        };
        let applied = match (applied, delivery.source) {
            (Ok(_), source) if source != EventSource::Webhook => {
                Ok(next.mark_source_since(order.timeline().len(), source.as_str()))
            }
            (other, _) => other,
        };
        let (rec, write) = match &applied {
            Ok(_) => (
                record(
                    event,
                    payload,
                    Some(&order_id),
                    EventOutcome::Applied,
                    "applied",
                    now,
                    delivery,
                ),
                Some((&next, order.version())),
            ),
            Err(e) => (
                record(
                    event,
                    payload,
                    Some(&order_id),
                    EventOutcome::NoChange,
                    &e.to_string(),
                    now,
                    delivery,
                ),
                None,
            ),
        };
        let became_ready =
            write.is_some() && next.ready_for_fulfilment() && !order.ready_for_fulfilment();
        let outbox = became_ready.then(|| OutboxEntry {
            order_id: order_id.clone(),
            created_at: now,
            lease_until: now.plus(OUTBOX_LEASE),
            trace: ports.trace.clone(),
        });
        let commit = EventCommit {
            record: &rec,
            order: write,
            // A cancelled order leaving `cancelled` with `restock` is a reinstatement: its stock
            // is taken again in this same commit, whatever status it lands in (a held refund
            // can make it partially refunded at once).
            reserve_stock: write.is_some()
                && cancelled
                && reinstate
                && next.status() != OrderStatus::Cancelled,
            payment_refs: if write.is_some() {
                learned_refs(&event.action)
            } else {
                Vec::new()
            },
            outbox: outbox.clone(),
        };
        match ports.store.commit_event(commit).await? {
            CommitOutcome::Committed => {}
            CommitOutcome::Duplicate(_) => {
                // The first delivery may have committed but failed to send its job.
                if order.ready_for_fulfilment() || next.ready_for_fulfilment() {
                    resume_outbox(ports, &order_id).await?;
                }
                return Ok(Handled::Duplicate);
            }
            CommitOutcome::VersionConflict => {
                retry.lost_race()?;
                continue;
            }
            CommitOutcome::InsufficientStock(_) => {
                restock = false;
                retry.lost_race()?;
                continue;
            }
        }
        return match applied {
            Ok(entries) => {
                tracing::info!(order_id = %order_id, event_type = %event.event_type, status = next.status().as_str(), "payment event applied");
                ports.publish_entries(&next, &entries).await;
                if let PaymentAction::Unreadable { reason } = &event.action {
                    tracing::warn!(order_id = %order_id, event_id = %event.event_id, "unreadable payment event; order held for review");
                    ports
                        .publish(
                        Topic::OpsAlerts,
                        "ops.unreadable_payment_event",
                        json!({
                            "category": "payment",
                            "severity": "high",
                            "title": "Signed payment event for an order could not be read; the order is held for review",
                            "provider": event.provider.as_str(),
                            "eventId": event.event_id,
                            "eventType": event.event_type,
                            "orderId": order_id,
                            "detail": reason,
                            "at": now,
                        }),
                    )
                    .await;
                }
                if outbox.is_some() {
                    send_job(ports, &order_id, now).await?;
                }
                let refund_to_send =
                    late.map(|c| late_refund_id(&c.provider_payment_id))
                        .filter(|id| {
                            next.refund_request(id)
                                .is_some_and(|r| r.status == crate::order::RefundState::Requested)
                        });
                Ok(Handled::Applied {
                    order_id,
                    refund_to_send,
                })
            }
            Err(e) => {
                // A sibling event may have made the order ready while its job is still owed.
                if order.ready_for_fulfilment() {
                    resume_outbox(ports, &order_id).await?;
                }
                Ok(Handled::NoChange {
                    order_id,
                    reason: e.to_string(),
                })
            }
        };
    }
}

/// Writes a record-only commit; `false` when the event was recorded before.
async fn record_only(store: &dyn OrderStore, rec: &EventRecord) -> Result<bool, StoreError> {
    let outcome = store
        .commit_event(EventCommit {
            record: rec,
            order: None,
            reserve_stock: false,
            payment_refs: Vec::new(),
            outbox: None,
        })
        .await?;
    Ok(matches!(outcome, CommitOutcome::Committed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use crate::webhook::RefundReport;

    fn inr(minor: i64) -> Money {
        Money::new(minor, Currency::parse("INR").unwrap()).unwrap()
    }

    fn succeeded(id: &str, minor: i64) -> PaymentAction {
        PaymentAction::Succeeded {
            payment_id: id.into(),
            amount: inr(minor),
        }
    }

    fn failed(id: &str) -> PaymentAction {
        PaymentAction::Failed {
            payment_id: Some(id.into()),
            reason: "declined".into(),
        }
    }

    fn refund(id: &str, minor: i64) -> PaymentAction {
        PaymentAction::Refunded(RefundReport {
            payment_id: None,
            refunds: vec![(id.into(), inr(minor))],
            charge: None,
            our_ids: Vec::new(),
        })
    }

    /// The order in the sample is 50 000 paise. Each row: what happened before, the event,
    /// whether it changes the order, and the status and review reason after.
    #[test]
    fn each_event_moves_the_order_as_the_lifecycle_says() {
        use crate::order::ReviewReason::*;
        use OrderStatus::*;
        type Row = (
            &'static str,
            Vec<PaymentAction>,
            bool,
            PaymentAction,
            bool,
            OrderStatus,
            Option<crate::order::ReviewReason>,
        );
        let rows: Vec<Row> = vec![
            (
                "pending + exact success",
                vec![],
                false,
                succeeded("pay_1", 50_000),
                true,
                Paid,
                None,
            ),
            (
                "pending + short success",
                vec![],
                false,
                succeeded("pay_1", 40_000),
                true,
                Paid,
                Some(AmountMismatch),
            ),
            (
                "pending + failure",
                vec![],
                false,
                failed("pay_0"),
                true,
                PaymentFailed,
                None,
            ),
            (
                "failed + success",
                vec![failed("pay_0")],
                false,
                succeeded("pay_1", 50_000),
                true,
                Paid,
                None,
            ),
            (
                "paid + same success again",
                vec![succeeded("pay_1", 50_000)],
                false,
                succeeded("pay_1", 50_000),
                false,
                Paid,
                None,
            ),
            (
                "paid + late failure",
                vec![succeeded("pay_1", 50_000)],
                false,
                failed("pay_0"),
                false,
                Paid,
                None,
            ),
            (
                "paid + second payment",
                vec![succeeded("pay_1", 50_000)],
                false,
                succeeded("pay_2", 50_000),
                true,
                Paid,
                Some(DuplicatePayment),
            ),
            (
                "paid + partial refund",
                vec![succeeded("pay_1", 50_000)],
                false,
                refund("r1", 1),
                true,
                PartiallyRefunded,
                None,
            ),
            (
                "paid + full refund",
                vec![succeeded("pay_1", 50_000)],
                false,
                refund("r1", 50_000),
                true,
                Refunded,
                None,
            ),
            (
                "pending + refund (held)",
                vec![],
                false,
                refund("r1", 1),
                true,
                PendingPayment,
                None,
            ),
            (
                "cancelled + success with stock",
                vec![],
                true,
                succeeded("pay_1", 50_000),
                true,
                Paid,
                None,
            ),
            (
                "cancelled + failure",
                vec![],
                true,
                failed("pay_0"),
                false,
                Cancelled,
                None,
            ),
            (
                "pending + pending",
                vec![],
                false,
                PaymentAction::Pending { payment_id: None },
                false,
                PendingPayment,
                None,
            ),
        ];
        let t = Timestamp::from_unix_millis(1_000);
        for (name, before, cancel, action, changes, status, review) in rows {
            let mut o = crate::order::tests::sample_order(crate::order::Owner::Guest {
                token_hash: crate::ids::TokenHash::of("x"),
            });
            for a in &before {
                apply_action(&mut o, a, true, t).unwrap();
            }
            if cancel {
                o.cancel("stale", t).unwrap();
            }
            let snapshot = o.clone();
            let result = apply_action(&mut o, &action, true, t);
            assert_eq!(result.is_ok(), changes, "{name}: {result:?}");
            if !changes {
                assert_eq!(
                    o, snapshot,
                    "{name}: a refused event must leave the order untouched"
                );
            }
            assert_eq!(o.status(), status, "{name}");
            assert_eq!(o.review_reason(), review, "{name}");
        }
    }

    #[test]
    fn pending_and_ignored_actions_never_change_an_order() {
        let mut o = crate::order::tests::sample_order(crate::order::Owner::Guest {
            token_hash: crate::ids::TokenHash::of("x"),
        });
        let before = o.clone();
        let t = Timestamp::from_unix_millis(0);
        assert!(
            apply_action(
                &mut o,
                &PaymentAction::Pending { payment_id: None },
                true,
                t
            )
            .is_err()
        );
        assert!(
            apply_action(
                &mut o,
                &PaymentAction::Ignored { reason: "x".into() },
                true,
                t
            )
            .is_err()
        );
        assert_eq!(o, before);
        let inr = Currency::parse("INR").unwrap();
        let refunds = PaymentAction::Refunded(RefundReport {
            payment_id: None,
            refunds: vec![("r1".into(), Money::new(1, inr).unwrap())],
            charge: None,
            our_ids: Vec::new(),
        });
        apply_action(&mut o, &refunds, true, t).unwrap();
        assert_eq!(
            apply_action(&mut o, &refunds, true, t),
            Err(TransitionError::AlreadyApplied)
        );
    }
}
