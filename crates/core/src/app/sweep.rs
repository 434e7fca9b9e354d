//! The scheduled sweep (`cleanup` Lambda, and an interval in the dev server):
//! 1. cancels unpaid orders whose payment window has ended — closing the provider's checkout
//!    first so it can no longer take money, and conditioned on the order being unchanged, so an
//!    order paid a moment ago is left alone — and gives their stock back;
//! 2. sends fulfilment jobs still owed (the queue failed after the payment was recorded);
//! 3. calls the provider again for refunds still `requested` (it was down when they were
//!    asked for), with the same idempotency key.
//!
//! Work per run is bounded; what is left waits for the next run.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::order::TransitionError;
use crate::ports::{CheckoutClosed, OrderStore, PaymentProviders, Topic};

use super::outbox::{OutboxError, OutboxPorts, publish, resume_outbox};
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
}

pub async fn sweep(services: &Services, limit: u32) -> Result<SweepReport, OutboxError> {
    let ports = &services.outbox_ports();
    let providers = &services.providers;
    let now = ports.clock.now();
    let mut report = SweepReport::default();
    for id in ports.store.stale_unpaid(now, limit).await? {
        if cancel_if_stale(ports, providers, &id).await? {
            report.cancelled += 1;
        }
    }
    for entry in ports
        .store
        .owed_outbox(now.minus(OUTBOX_GRACE), limit)
        .await?
    {
        if resume_outbox(ports, &entry.order_id).await? {
            tracing::info!(order_id = %entry.order_id, "owed fulfilment job re-enqueued");
            report.reenqueued += 1;
        }
    }
    let refunds = super::refund::resend_owed(services, now.minus(REFUND_GRACE), limit).await?;
    report.refunds_sent = refunds.sent;
    if report != SweepReport::default() || refunds.failed > 0 {
        tracing::info!(
            cancelled = report.cancelled,
            reenqueued = report.reenqueued,
            refunds_sent = refunds.sent,
            refunds_failed = refunds.failed,
            "sweep done"
        );
    }
    Ok(report)
}

/// Cancels one order if it is stale — unpaid, not held for a person, past its payment window —
/// once: an order that changed since it was read is left for the next sweep, which looks again
/// if it is still unpaid. The sweep calls this for each order the store lists; `true` when it
/// cancelled.
pub async fn cancel_if_stale(
    ports: &OutboxPorts<'_>,
    providers: &PaymentProviders,
    id: &crate::ids::OrderId,
) -> Result<bool, OutboxError> {
    let store: &dyn OrderStore = ports.store;
    let Some(order) = store.get_order(id).await? else {
        return Ok(false);
    };
    let now = ports.clock.now();
    // Held for a person since it was listed (an unreadable capture, say): the provider may
    // hold money for it, so it is not the sweep's to cancel — and not an error of the run.
    if !order.awaits_payment() || order.expires_at() > now {
        return Ok(false);
    }
    if let Some(provider) = providers.get(order.payment().provider) {
        match provider.close_checkout(order.payment()).await {
            Ok(CheckoutClosed::AlreadyPaid) => {
                tracing::info!(order_id = %id, "checkout was paid meanwhile; not cancelling");
                return Ok(false);
            }
            Ok(CheckoutClosed::Expired | CheckoutClosed::NotApplicable) => {}
            Err(e) => {
                // Cancelling while the checkout can still take money would invite a payment
                // for a cancelled order; try again at the next sweep.
                tracing::warn!(order_id = %id, error = %e, "could not close the checkout; order left for the next sweep");
                return Ok(false);
            }
        }
    }
    let mut next = order.clone();
    match next.cancel("payment window elapsed", now) {
        Ok(_) => {}
        Err(TransitionError::AlreadyApplied) => return Ok(false),
        Err(e) => return Err(RefusedTransition::new(id, e).into()),
    }
    if !store.cancel_order(&next, order.version()).await? {
        // It changed (paid a moment ago?): leave it; a later sweep looks again if still unpaid.
        return Ok(false);
    }
    tracing::info!(order_id = %id, "stale unpaid order cancelled, stock released");
    publish(
        ports.publisher,
        Topic::OrderEvents,
        "order.cancelled",
        json!({"orderId": id, "orderNumber": next.number(), "reason": "payment window elapsed", "at": now}),
    )
    .await;
    Ok(true)
}
