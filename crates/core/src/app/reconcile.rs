//! Reconciliation with the providers (`docs/decisions.md`, "Reconciliation"): every order learns
//! it was paid from a webhook, and webhooks get lost. Before the sweep cancels an unpaid order,
//! and for every order still unpaid `RECONCILE_AFTER_MINUTES` after it was opened, the provider
//! is asked what became of its checkout ([`PaymentProvider::find_payments`]). A capture found
//! there is applied through the webhook's own at-most-once path, as an event with its own id
//! (`reconcile:<paymentId>`), so a real webhook arriving later changes nothing; a payment the
//! provider reports is never cancelled away.
//!
//! Refunds started here are reconciled the same way ([`reconcile_refund`]): a refund still
//! `pending` `RECONCILE_AFTER_MINUTES` after the provider accepted it is fetched
//! ([`PaymentProvider::get_refund`]); one the provider reports final is settled through the
//! webhook's path, as an event with its own id (`reconcile:<providerRefundId>:<status>`), so
//! its real webhook arriving later changes nothing and the money counts once; one still pending
//! is asked about again `RECONCILE_AFTER_MINUTES` later.
//!
//! [`PaymentProvider::find_payments`]: crate::ports::PaymentProvider::find_payments
//! [`PaymentProvider::get_refund`]: crate::ports::PaymentProvider::get_refund

use serde_json::json;

use crate::order::{ChargeTotal, Order, RefundFailure, RefundReport, TransitionError};
use crate::ports::{
    FoundPayment, FoundPaymentStatus, ProviderError, ProviderRefund, ProviderRefundStatus,
    StoreError, Topic,
};
use crate::webhook::{OrderLink, PaymentAction, PaymentEvent};

use super::outbox::{OutboxError, publish};
use super::retry::{MAX_ATTEMPTS, Retry};
use super::webhook::{EventSource, Handled, handle_event_with};
use super::{RefusedTransition, Services};

/// What the provider said about an unpaid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// Nothing paid (or only failed attempts): the order may be cancelled when it expires.
    NothingPaid,
    /// A capture the order did not know of was applied: a webhook was missed.
    Corrected { payment_id: String },
    /// A capture is there and the order already has it (a webhook or an earlier run applied it).
    AlreadyKnown,
    /// A payment is still settling at the provider: the order must not be cancelled now.
    Pending,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The provider could not say: the order must not be cancelled on this run.
    #[error("could not ask the provider: {0}")]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Asks the order's provider about its checkout and applies a capture found there.
pub async fn reconcile_unpaid(
    services: &Services,
    order: &Order,
) -> Result<Reconciled, ReconcileError> {
    let payment = order.payment();
    let Some(provider) = services.providers.get(payment.provider) else {
        return Err(ProviderError::Unavailable(format!(
            "{} is not configured in this deployment",
            payment.provider.as_str()
        ))
        .into());
    };
    let found = provider.find_payments(payment).await?;
    let Some(capture) = found
        .iter()
        .find(|p| p.status == FoundPaymentStatus::Captured)
    else {
        return Ok(
            if found
                .iter()
                .any(|p| p.status == FoundPaymentStatus::Pending)
            {
                Reconciled::Pending
            } else {
                Reconciled::NothingPaid
            },
        );
    };
    let event = found_event(order, capture);
    let payload = json!({
        "source": "reconciliation",
        "paymentId": capture.payment_id,
        "amount": capture.amount.minor(),
        "currency": capture.amount.currency(),
    })
    .to_string();
    let delivery = services.delivery(EventSource::Reconciliation);
    let handled = handle_event_with(
        &services.outbox_ports(),
        delivery,
        &event,
        payload.as_bytes(),
    )
    .await?;
    if !matches!(handled, Handled::Applied { .. }) {
        return Ok(Reconciled::AlreadyKnown);
    }
    tracing::warn!(order_id = %order.id(), payment_id = %capture.payment_id, provider = payment.provider.as_str(), "webhook missed: payment found by reconciliation");
    publish(
        services.publisher.as_ref(),
        Topic::OpsAlerts,
        "ops.webhook_missed",
        json!({
            "category": "payment",
            "severity": "medium",
            "title": "A payment's webhook never arrived; reconciliation found and applied it",
            "provider": payment.provider.as_str(),
            "orderId": order.id(),
            "paymentId": capture.payment_id,
            "amount": capture.amount.minor(),
            "at": services.clock.now(),
        }),
    )
    .await;
    Ok(Reconciled::Corrected {
        payment_id: capture.payment_id.clone(),
    })
}

/// The event a found capture is applied as: its id is the dedupe key, so the same capture
/// found by two runs counts once.
fn found_event(order: &Order, capture: &FoundPayment) -> PaymentEvent {
    PaymentEvent {
        provider: order.payment().provider,
        event_id: format!("reconcile:{}", capture.payment_id),
        event_type: "reconciliation.payment_captured".into(),
        link: OrderLink {
            order_id: Some(order.id().clone()),
            refs: Vec::new(),
        },
        action: PaymentAction::Succeeded {
            payment_id: capture.payment_id.clone(),
            amount: capture.amount,
        },
    }
}

/// What the provider said about a `pending` refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundChecked {
    /// Not final yet: asked about again `RECONCILE_AFTER_MINUTES` from now.
    StillPending,
    /// Final at the provider and not yet here: settled now (its webhook was missed).
    Corrected(ProviderRefundStatus),
    /// Settled meanwhile (its webhook came while we asked): nothing to do.
    AlreadySettled,
}

/// Asks the provider where the `pending` refund `refund_id` of `order` (the provider's
/// `provider_refund_id`) stands, and settles it through the webhook's own at-most-once path
/// when the provider reports it final. A provider that cannot answer (`Err`) leaves it due:
/// nothing is written, the next sweep asks again. A provider that refuses the lookup (a 4xx)
/// is asked again later, like a refund still pending, so it does not hold up the others.
pub async fn reconcile_refund(
    services: &Services,
    order: &Order,
    refund_id: &str,
    provider_refund_id: &str,
) -> Result<RefundChecked, ReconcileError> {
    let payment = order.payment();
    let Some(provider) = services.providers.get(payment.provider) else {
        return Err(ProviderError::Unavailable(format!(
            "{} is not configured in this deployment",
            payment.provider.as_str()
        ))
        .into());
    };
    let payment_id = payment.provider_payment_id.clone().unwrap_or_default();
    let answer = match provider.get_refund(&payment_id, provider_refund_id).await {
        Ok(a) if a.provider_refund_id == provider_refund_id => a,
        Ok(a) => {
            return Err(ProviderError::Unavailable(format!(
                "asked for refund {provider_refund_id}, the provider answered with {}",
                a.provider_refund_id
            ))
            .into());
        }
        Err(ProviderError::Rejected { status, message }) => {
            tracing::warn!(order_id = %order.id(), refund_id, provider_refund_id, status, error = %message, "the provider refused the refund lookup; asked again later");
            return check_later(services, order, refund_id).await;
        }
        Err(e) => return Err(e.into()),
    };
    let event = match answer.status {
        ProviderRefundStatus::Pending => return check_later(services, order, refund_id).await,
        _ => refund_event(order, refund_id, &payment_id, &answer),
    };
    let payload = json!({
        "source": "reconciliation",
        "refundId": refund_id,
        "providerRefundId": answer.provider_refund_id,
        "status": answer.status,
        "amount": answer.amount.minor(),
        "currency": answer.amount.currency(),
    })
    .to_string();
    let delivery = services.delivery(EventSource::Reconciliation);
    let handled = handle_event_with(
        &services.outbox_ports(),
        delivery,
        &event,
        payload.as_bytes(),
    )
    .await?;
    if !matches!(handled, Handled::Applied { .. }) {
        return Ok(RefundChecked::AlreadySettled);
    }
    let status = match answer.status {
        ProviderRefundStatus::Succeeded => "succeeded",
        _ => "failed",
    };
    tracing::warn!(
        order_id = %order.id(),
        refund_id,
        provider_refund_id,
        provider = payment.provider.as_str(),
        status,
        amount = answer.amount.minor(),
        metric = "refund_reconciled",
        "webhook missed: refund settled by reconciliation"
    );
    publish(
        services.publisher.as_ref(),
        Topic::OpsAlerts,
        "ops.webhook_missed",
        json!({
            "category": "payment",
            "severity": "medium",
            "title": "A refund's webhook never arrived; reconciliation found it final and settled it",
            "provider": payment.provider.as_str(),
            "orderId": order.id(),
            "refundId": refund_id,
            "providerRefundId": provider_refund_id,
            "status": status,
            "amount": answer.amount.minor(),
            "at": services.clock.now(),
        }),
    )
    .await;
    Ok(RefundChecked::Corrected(answer.status))
}

/// Moves a still-pending refund's check on by `RECONCILE_AFTER_MINUTES`, conditioned on the
/// order being unchanged (read again on a conflict).
async fn check_later(
    services: &Services,
    order: &Order,
    refund_id: &str,
) -> Result<RefundChecked, ReconcileError> {
    let id = order.id().clone();
    let store = services.store.as_ref();
    let mut retry = Retry::new(MAX_ATTEMPTS);
    loop {
        let current = store
            .get_order(&id)
            .await
            .map_err(OutboxError::from)?
            .ok_or_else(|| {
                OutboxError::Store(StoreError::Corrupt(format!("order {id} vanished")))
            })?;
        let now = services.clock.now();
        let mut next = current.clone();
        match next.record_refund_still_pending(refund_id, now.plus(services.policy.reconcile_after))
        {
            Ok(()) => {}
            Err(TransitionError::AlreadyApplied) => return Ok(RefundChecked::AlreadySettled),
            Err(e) => return Err(OutboxError::from(RefusedTransition::new(&id, e)).into()),
        }
        if store
            .save_order(&next, current.version(), None)
            .await
            .map_err(OutboxError::from)?
        {
            tracing::info!(order_id = %id, refund_id, "refund still pending at the provider; asked again later");
            return Ok(RefundChecked::StillPending);
        }
        retry.lost_race().map_err(OutboxError::from)?;
    }
}

/// The event a final refund found at the provider is applied as — the same action its webhook
/// carries, naming our refund id — with its own id, so two runs finding it count once.
fn refund_event(
    order: &Order,
    refund_id: &str,
    payment_id: &str,
    answer: &ProviderRefund,
) -> PaymentEvent {
    let prid = answer.provider_refund_id.clone();
    let (suffix, action) = match answer.status {
        ProviderRefundStatus::Failed => (
            "failed",
            PaymentAction::RefundFailed(RefundFailure {
                payment_id: Some(payment_id.to_owned()),
                provider_refund_id: prid.clone(),
                refund_id: Some(refund_id.to_owned()),
                reason: "the provider reports the refund failed (reconciliation)".into(),
            }),
        ),
        _ => (
            "succeeded",
            PaymentAction::Refunded(RefundReport {
                payment_id: Some(payment_id.to_owned()),
                refunds: vec![(prid.clone(), answer.amount)],
                charge: answer.charge_id.clone().map(|charge_id| ChargeTotal {
                    charge_id,
                    total: None,
                }),
                our_ids: vec![(prid.clone(), refund_id.to_owned())],
            }),
        ),
    };
    PaymentEvent {
        provider: order.payment().provider,
        event_id: format!("reconcile:{prid}:{suffix}"),
        event_type: format!("reconciliation.refund_{suffix}"),
        link: OrderLink {
            order_id: Some(order.id().clone()),
            refs: Vec::new(),
        },
        action,
    }
}
