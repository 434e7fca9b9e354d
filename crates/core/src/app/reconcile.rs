//! Reconciliation with the providers (`docs/decisions.md`, "Reconciliation"): every order learns
//! it was paid from a webhook, and webhooks get lost. Before the sweep cancels an unpaid order,
//! and for every order still unpaid `RECONCILE_AFTER_MINUTES` after it was opened, the provider
//! is asked what became of its checkout ([`PaymentProvider::find_payments`]). A capture found
//! there is applied through the webhook's own at-most-once path, as an event with its own id
//! (`reconcile:<paymentId>`), so a real webhook arriving later changes nothing; a payment the
//! provider reports is never cancelled away.
//!
//! [`PaymentProvider::find_payments`]: crate::ports::PaymentProvider::find_payments

use serde_json::json;

use crate::order::Order;
use crate::ports::{FoundPayment, FoundPaymentStatus, ProviderError, Topic};
use crate::webhook::{OrderLink, PaymentAction, PaymentEvent};

use super::Services;
use super::outbox::{OutboxError, publish};
use super::webhook::{Delivery, EventSource, Handled, handle_event_with};

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
    let delivery = Delivery {
        late_payment: services.policy.late_payment,
        event_retention: services.policy.event_retention,
        source: EventSource::Reconciliation,
    };
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
