//! The scheduled sweep (`cleanup` Lambda, and an interval in the dev server):
//! 1. asks the provider about every unpaid order opened `RECONCILE_AFTER_MINUTES` ago or more
//!    and applies a capture its webhook never brought (`reconcile`); cancels those whose
//!    payment window has ended and that the provider holds nothing for — closing the
//!    provider's checkout first so it can no longer take money, and conditioned on the order
//!    being unchanged, so an order paid a moment ago is left alone — and gives their stock back;
//! 2. sends fulfilment jobs still owed (the queue failed after the payment was recorded),
//!    each carrying the trace its outbox entry recorded (the delivery that paid the order);
//! 3. calls the provider again for refunds still `requested` (it was down when they were
//!    asked for), with the same idempotency key; and asks it about refunds still `pending`
//!    `RECONCILE_AFTER_MINUTES` after it accepted them, settling those it reports final whose
//!    webhook never came (`reconcile::reconcile_refund`).
//!
//! Work per run is bounded; what is left waits for the next run.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::order::TransitionError;
use crate::ports::{CheckoutClosed, OrderStore, Topic};

use super::outbox::{OutboxError, publish, resume_outbox};
use super::reconcile::{ReconcileError, Reconciled, reconcile_unpaid};
use super::{RefusedTransition, Services};

/// Jobs younger than this are left to the webhook that is sending them.
pub const OUTBOX_GRACE: Duration = Duration::from_secs(60);

/// Refunds asked for more recently than this are left to the request that is sending them
/// (its send lease also protects them).
pub const REFUND_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub cancelled: u32,
    pub reenqueued: u32,
    /// Owed refund calls made (answered by the provider, whatever the answer).
    #[serde(rename = "refundsSent")]
    pub refunds_sent: u32,
    /// Payments found at the provider whose webhook never came, now applied.
    pub reconciled: u32,
    /// `pending` refunds the provider was asked about (and answered for, whatever it said).
    #[serde(rename = "refundsChecked")]
    pub refunds_checked: u32,
    /// Of those, refunds final at the provider whose webhook never came, now settled.
    #[serde(rename = "refundsReconciled")]
    pub refunds_reconciled: u32,
}

pub async fn sweep(services: &Services, limit: u32) -> Result<SweepReport, OutboxError> {
    let ports = &services.outbox_ports();
    let now = ports.clock.now();
    let mut report = SweepReport::default();
    // Unpaid orders opened at least `reconcile_after` ago: those past their window to cancel,
    // all of them to reconcile (the index is by expiry, which is opening + the window).
    let policy = &services.policy;
    let horizon = now
        .plus(policy.payment_window)
        .minus(policy.reconcile_after)
        .max(now);
    for id in ports.store.stale_unpaid(horizon, limit).await? {
        match settle_unpaid(services, &id).await? {
            Settled::Cancelled => report.cancelled += 1,
            Settled::Reconciled => report.reconciled += 1,
            Settled::Left => {}
        }
    }
    for entry in ports
        .store
        .owed_outbox(now.minus(OUTBOX_GRACE), limit)
        .await?
    {
        // The job carries what the entry recorded: the delivery that paid the order, not
        // this run.
        let traced = ports.clone().traced(entry.trace.clone());
        if resume_outbox(&traced, &entry.order_id).await? {
            tracing::info!(order_id = %entry.order_id, sent_by = "sweep", "owed fulfilment job re-enqueued");
            report.reenqueued += 1;
        }
    }
    let refunds = super::refund::resend_owed(services, now.minus(REFUND_GRACE), limit).await?;
    report.refunds_sent = refunds.sent;
    report.refunds_checked = refunds.checked;
    report.refunds_reconciled = refunds.corrected;
    if report != SweepReport::default() || refunds.failed > 0 || refunds.check_failed > 0 {
        tracing::info!(
            cancelled = report.cancelled,
            reconciled = report.reconciled,
            reenqueued = report.reenqueued,
            refunds_sent = refunds.sent,
            refunds_failed = refunds.failed,
            refunds_checked = refunds.checked,
            refunds_reconciled = refunds.corrected,
            refund_checks_failed = refunds.check_failed,
            "sweep done"
        );
    }
    Ok(report)
}

/// What the sweep did with one unpaid order it listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Past its window, nothing paid at the provider: cancelled, its stock given back.
    Cancelled,
    /// The provider holds a capture its webhook never brought: applied (the order is paid).
    Reconciled,
    /// Left as it is for now: not expired yet, held for a person, changed meanwhile, a
    /// payment still settling, or the provider could not be asked.
    Left,
}

/// One unpaid order the sweep listed: the provider is asked what became of its checkout — a
/// capture found there is applied, never cancelled away — and, if its payment window has ended
/// and nothing was paid, it is cancelled once (its checkout closed first, so it can no longer
/// take money), conditioned on the order being unchanged, and its stock given back.
pub async fn settle_unpaid(
    services: &Services,
    id: &crate::ids::OrderId,
) -> Result<Settled, OutboxError> {
    let ports = &services.outbox_ports();
    let store: &dyn OrderStore = ports.store;
    let Some(order) = store.get_order(id).await? else {
        return Ok(Settled::Left);
    };
    let now = ports.clock.now();
    // Held for a person since it was listed (an unreadable capture, say): the provider may
    // hold money for it, so it is not the sweep's to cancel — and not an error of the run.
    if !order.awaits_payment() {
        return Ok(Settled::Left);
    }
    let expired = order.expires_at() <= now;
    if expired && let Some(provider) = services.providers.get(order.payment().provider) {
        match provider.close_checkout(order.payment()).await {
            Ok(CheckoutClosed::AlreadyPaid) => {
                tracing::info!(order_id = %id, "checkout was paid; asking the provider for the payment");
            }
            Ok(CheckoutClosed::Expired | CheckoutClosed::NotApplicable) => {}
            Err(e) => {
                // Cancelling while the checkout can still take money would invite a payment
                // for a cancelled order; try again at the next sweep.
                tracing::warn!(order_id = %id, error = %e, "could not close the checkout; order left for the next sweep");
                return Ok(Settled::Left);
            }
        }
    }
    match reconcile_unpaid(services, &order).await {
        Ok(Reconciled::Corrected { .. }) => return Ok(Settled::Reconciled),
        Ok(Reconciled::NothingPaid) if expired => {}
        Ok(_) => return Ok(Settled::Left),
        Err(ReconcileError::Outbox(e)) => return Err(e),
        Err(ReconcileError::Provider(e)) => {
            // Not knowing is no reason to cancel: the provider may hold its money.
            tracing::warn!(order_id = %id, error = %e, "could not ask the provider; order left for the next sweep");
            return Ok(Settled::Left);
        }
    }
    let mut next = order.clone();
    match next.cancel("payment window elapsed", now) {
        Ok(_) => {}
        Err(TransitionError::AlreadyApplied) => return Ok(Settled::Left),
        Err(e) => return Err(RefusedTransition::new(id, e).into()),
    }
    if !store.release_order_stock(&next, order.version()).await? {
        // It changed (paid a moment ago?): leave it; a later sweep looks again if still unpaid.
        return Ok(Settled::Left);
    }
    tracing::info!(order_id = %id, "stale unpaid order cancelled, stock released");
    publish(
        ports.publisher,
        Topic::OrderEvents,
        "order.cancelled",
        json!({"orderId": id, "orderNumber": next.number(), "reason": "payment window elapsed", "at": now}),
    )
    .await;
    Ok(Settled::Cancelled)
}
