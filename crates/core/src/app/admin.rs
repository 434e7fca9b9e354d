//! Operator actions on orders.

use crate::ids::{OrderId, UserId};
use crate::order::{Order, TransitionError};
use crate::ports::{OutboxEntry, StoreError, Topic};

use super::RefusedTransition;
use super::outbox::{OUTBOX_LEASE, OutboxError, OutboxPorts, resume_outbox, send_job};
use super::retry::{Contended, MAX_ATTEMPTS, Retry};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::Outbox(e.into())
    }
}

impl From<Contended> for AdminError {
    fn from(e: Contended) -> Self {
        Self::Outbox(e.into())
    }
}

impl From<RefusedTransition> for AdminError {
    fn from(e: RefusedTransition) -> Self {
        Self::Outbox(e.into())
    }
}

/// Releases an order held for review (`review_cleared`); if it is paid, its fulfilment job is
/// queued. Clearing an order that is not held changes nothing and is not an error.
pub async fn clear_review(
    ports: &OutboxPorts<'_>,
    admin: &UserId,
    raw_id: &str,
) -> Result<Order, AdminError> {
    let id = OrderId::parse(raw_id).map_err(|_| AdminError::NotFound)?;
    let mut retry = Retry::new(MAX_ATTEMPTS);
    loop {
        let now = ports.clock.now();
        let order = ports
            .store
            .get_order(&id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let mut next = order.clone();
        match next.clear_review(admin.as_str(), now) {
            Err(TransitionError::AlreadyApplied) => {
                resume_outbox(ports, &id).await?;
                return Ok(order);
            }
            Err(e) => return Err(RefusedTransition::new(&id, e).into()),
            Ok(_) => {}
        }
        let outbox = next.ready_for_fulfilment().then(|| OutboxEntry {
            order_id: id.clone(),
            created_at: now,
            lease_until: now.plus(OUTBOX_LEASE),
            trace: ports.trace.clone(),
        });
        if !ports
            .store
            .save_order(&next, order.version(), outbox.as_ref())
            .await?
        {
            retry.lost_race()?;
            continue;
        }
        tracing::info!(order_id = %id, by = %admin, "review cleared");
        ports
            .publish(
                Topic::OrderEvents,
                "order.review_cleared",
                serde_json::json!({"orderId": id, "status": next.status().as_str(), "by": admin}),
            )
            .await;
        if outbox.is_some() {
            send_job(ports, &id, now).await?;
        }
        return Ok(next);
    }
}
