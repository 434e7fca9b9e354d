//! `POST /orders/{orderId}/cancel` (`docs/decisions.md`, "Cancellation"): the order's owner, a
//! guest with its `X-Order-Token`, or an admin cancels it; anyone else is told it does not
//! exist. An unpaid order's checkout is closed first (as the sweep does), so it can no longer
//! take money; a paid order that has not shipped is cancelled and refunded in full through
//! [`super::refund`], in the same write that gives its stock back.

use crate::ids::OrderId;
use crate::order::{CancelRefusal, Order, Viewer};
use crate::ports::{CheckoutClosed, ProviderError, ShipmentCancel, StoreError};
use crate::validation::{ValidationErrors, bounded_text};

use super::Services;
use super::outbox::publish_entries;
use super::refund::{MAX_REASON_CHARS, REFUND_SEND_LEASE, RefundError, send_recorded};
use super::retry::{Contended, MAX_ATTEMPTS, Retry};

/// The JSON body of `POST /orders/{orderId}/cancel`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[serde(default)]
    pub reason: Option<String>,
}

impl CancelBody {
    /// The reason, checked; a default when none is given.
    pub fn reason(&self) -> Result<String, ValidationErrors> {
        match &self.reason {
            None => Ok("cancelled on request".into()),
            Some(r) => {
                bounded_text(r, MAX_REASON_CHARS).map_err(|m| ValidationErrors::single("reason", m))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] CancelRefusal),
    /// The checkout was paid a moment ago: the payment is on its way, the order is not
    /// cancelled (cancel again once it is paid, to have it refunded).
    #[error("the order's checkout has just been paid")]
    PaymentInProgress,
    /// The checkout could not be closed: cancelling now would let it take money.
    #[error("payment provider unavailable: {0}")]
    ProviderUnavailable(String),
    /// The carrier could not be asked to cancel the shipment: nothing changed.
    #[error("carrier unavailable: {0}")]
    CarrierUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the order kept changing")]
    Contention,
}

impl From<Contended> for CancelError {
    fn from(_: Contended) -> Self {
        Self::Contention
    }
}

/// The order after the request, and whether this request cancelled it.
#[derive(Debug, Clone)]
pub struct CancelAnswer {
    pub order: Order,
    pub cancelled_now: bool,
}

/// Cancels the order `viewer` may see. `by` names who asked (a user id, `guest`, an admin).
pub async fn cancel_order(
    services: &Services,
    viewer: &Viewer,
    by: &str,
    raw_id: &str,
    reason: &str,
) -> Result<CancelAnswer, CancelError> {
    let id = OrderId::parse(raw_id).map_err(|_| CancelError::NotFound)?;
    let mut retry = Retry::new(MAX_ATTEMPTS);
    let mut checkout_closed = false;
    let mut shipment_cancelled = false;
    let (order, refund_id) = loop {
        let now = services.clock.now();
        let order = services
            .store
            .get_order(&id)
            .await?
            .filter(|o| o.visible_to(viewer))
            .ok_or(CancelError::NotFound)?;
        let unpaid = order.payment().captured.is_none();
        if unpaid && !checkout_closed && order.status().is_unpaid() && !order.requires_review() {
            close_checkout(services, &order).await?;
            checkout_closed = true;
        }
        let refund_id = format!("rf_{}", services.ids.ulid(now));
        let lease = now.plus(REFUND_SEND_LEASE);
        if !shipment_cancelled && order.shipment().is_some() {
            // Every other reason to refuse first: a shipment is cancelled at the carrier only
            // for an order that will then be cancelled.
            let mut probe = order.clone();
            if probe
                .cancel_on_request(reason, by, &refund_id, now, lease, true)?
                .is_some()
            {
                cancel_shipment(services, &order).await?;
                shipment_cancelled = true;
            }
        }
        let mut next = order.clone();
        let Some(done) =
            next.cancel_on_request(reason, by, &refund_id, now, lease, shipment_cancelled)?
        else {
            return Ok(CancelAnswer {
                order,
                cancelled_now: false,
            });
        };
        if services
            .store
            .release_order_stock(&next, order.version())
            .await?
        {
            tracing::info!(order_id = %id, by, refund = done.refund.is_some(), "order cancelled on request, stock released");
            publish_entries(services.publisher.as_ref(), &next, &done.entries).await;
            break (next, done.refund.map(|r| r.refund_id));
        }
        retry.lost_race()?;
    };
    let Some(refund_id) = refund_id else {
        return Ok(CancelAnswer {
            order,
            cancelled_now: true,
        });
    };
    // The cancellation stands whatever the provider says: a refund it cannot take now is kept
    // `requested` for the sweep; one it refuses is recorded failed and alerted.
    let order = match send_recorded(services, &id, &refund_id).await {
        Ok(o) => o,
        Err(RefundError::ProviderUnavailable { order, .. })
        | Err(RefundError::ProviderRejected { order, .. }) => *order,
        Err(RefundError::Store(e)) => return Err(e.into()),
        Err(e) => {
            tracing::warn!(order_id = %id, refund_id, error = %e, "cancellation's refund not recorded; the sweep sends it");
            order
        }
    };
    Ok(CancelAnswer {
        order,
        cancelled_now: true,
    })
}

/// Cancels the order's shipment at the carrier: refused once it has been picked up.
async fn cancel_shipment(services: &Services, order: &Order) -> Result<(), CancelError> {
    let Some(shipment) = order.shipment() else {
        return Ok(());
    };
    match services.carrier.cancel_shipment(shipment).await {
        Ok(ShipmentCancel::Cancelled) => {
            tracing::info!(order_id = %order.id(), awb = %shipment.awb, "shipment cancelled at the carrier");
            Ok(())
        }
        Ok(ShipmentCancel::TooLate) => Err(CancelRefusal::AlreadyShipped.into()),
        Err(e) => Err(CancelError::CarrierUnavailable(e.to_string())),
    }
}

/// Closes an unpaid order's checkout so it can take no more money.
async fn close_checkout(services: &Services, order: &Order) -> Result<(), CancelError> {
    let Some(provider) = services.providers.get(order.payment().provider) else {
        return Ok(());
    };
    match provider.close_checkout(order.payment()).await {
        Ok(CheckoutClosed::Expired | CheckoutClosed::NotApplicable) => Ok(()),
        Ok(CheckoutClosed::AlreadyPaid) => Err(CancelError::PaymentInProgress),
        Err(ProviderError::Unavailable(m)) => Err(CancelError::ProviderUnavailable(m)),
        Err(ProviderError::Rejected { message, .. }) => {
            Err(CancelError::ProviderUnavailable(message))
        }
    }
}
