//! Operator actions on orders.

use crate::ids::{OrderId, UserId};
use crate::order::{Order, TransitionError};
use crate::ports::{OutboxEntry, StoreError};

use super::webhook::{OUTBOX_LEASE, WebhookDeps, WebhookError, resume_outbox};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::Webhook(e.into())
    }
}

/// Releases an order held for review (`review_cleared`); if it is paid, its fulfilment job is
/// queued. Clearing an order that is not held changes nothing and is not an error.
pub async fn clear_review(
    deps: &WebhookDeps<'_>,
    admin: &UserId,
    raw_id: &str,
) -> Result<Order, AdminError> {
    let id = OrderId::parse(raw_id).map_err(|_| AdminError::NotFound)?;
    for _ in 0..8 {
        let now = deps.clock.now();
        let order = deps
            .store
            .get_order(&id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let mut next = order.clone();
        match next.clear_review(admin.as_str(), now) {
            Err(TransitionError::AlreadyApplied) => {
                resume_outbox(deps, &id).await?;
                return Ok(order);
            }
            Err(e) => return Err(StoreError::Corrupt(e.to_string()).into()),
            Ok(_) => {}
        }
        let outbox = next.ready_for_fulfilment().then(|| OutboxEntry {
            order_id: id.clone(),
            created_at: now,
            lease_until: now.plus(OUTBOX_LEASE),
        });
        if !deps
            .store
            .save_order(&next, order.version(), outbox.as_ref())
            .await?
        {
            continue;
        }
        tracing::info!(order_id = %id, by = %admin, "review cleared");
        super::webhook::publish(
            deps.publisher,
            crate::ports::Topic::OrderEvents,
            "order.review_cleared",
            serde_json::json!({"orderId": id, "status": next.status().as_str(), "by": admin}),
        )
        .await;
        if outbox.is_some() {
            super::webhook::send_job(deps, &id, now).await?;
        }
        return Ok(next);
    }
    Err(WebhookError::Contention.into())
}
