//! What the use cases that change an order and owe effects for it share — the webhook, the
//! operator's review release and the sweep: the ports they act through, sending an owed
//! fulfilment job from the outbox, best-effort publishing, and their error.
//!
//! A fulfilment job is owed through an outbox entry written in the same commit as the change
//! that made the order ready; whoever holds the entry's lease sends the job. If the send fails
//! the lease is given back, so a retry (the provider's, or the sweep's) sends it. The entry is
//! cleared by the worker that receives the job (in its first write), not by the sender: that
//! takes a request off every webhook's path, and from then on the queue owns the retries.

use std::time::Duration;

use crate::ids::OrderId;
use crate::ports::{
    Clock, EventPublisher, FulfilmentJob, JobQueue, Message, OrderStore, QueueError, StoreError,
    Topic,
};
use crate::time::Timestamp;

use super::RefusedTransition;
use super::retry::Contended;

/// How long a sender holds an outbox entry before someone else may send its job.
pub const OUTBOX_LEASE: Duration = Duration::from_secs(30);

/// The ports an order change acts through: the store it commits to (outbox entry included),
/// the queue owed jobs go to, the topics it announces on, and the clock.
pub struct OutboxPorts<'a> {
    pub store: &'a dyn OrderStore,
    pub queue: &'a dyn JobQueue,
    pub publisher: &'a dyn EventPublisher,
    pub clock: &'a dyn Clock,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state is committed but the fulfilment job could not be queued: answer 5xx so the
    /// provider retries (the retry, or the sweep, sends it).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Other writers kept winning the race for the order ([`super::retry::MAX_ATTEMPTS`]).
    #[error("the order kept changing; try again")]
    Contention,
    /// A bug: the order refused what its use case decided. Nothing was written.
    #[error(transparent)]
    Refused(#[from] RefusedTransition),
}

impl From<Contended> for OutboxError {
    fn from(_: Contended) -> Self {
        Self::Contention
    }
}

/// Sends the job for an outbox entry this caller holds; the entry stays, leased, until the
/// worker that receives the job clears it. On failure the lease is given back so the
/// provider's retry can send it.
pub(crate) async fn send_job(
    ports: &OutboxPorts<'_>,
    order_id: &OrderId,
    now: Timestamp,
) -> Result<(), OutboxError> {
    match ports
        .queue
        .send(&FulfilmentJob {
            order_id: order_id.clone(),
        })
        .await
    {
        Ok(()) => {
            tracing::info!(order_id = %order_id, "fulfilment job queued");
            Ok(())
        }
        Err(e) => {
            if let Err(release) = ports.store.release_outbox(order_id, now).await {
                tracing::warn!(order_id = %order_id, error = %release, "could not release the outbox lease");
            }
            Err(e.into())
        }
    }
}

/// Sends an owed fulfilment job if nobody else holds its lease; `true` when this call sent it.
pub async fn resume_outbox(
    ports: &OutboxPorts<'_>,
    order_id: &OrderId,
) -> Result<bool, OutboxError> {
    let now = ports.clock.now();
    if ports
        .store
        .claim_outbox(order_id, now, now.plus(OUTBOX_LEASE))
        .await?
    {
        send_job(ports, order_id, now).await?;
        return Ok(true);
    }
    Ok(false)
}

/// Publishing is best effort: the state is already committed and a failure here must not make
/// the provider retry an event that will then dedupe; it is logged for the operator.
pub async fn publish(
    publisher: &dyn EventPublisher,
    topic: Topic,
    event_type: &str,
    body: serde_json::Value,
) {
    let message = Message {
        event_type: event_type.to_owned(),
        body,
    };
    if let Err(e) = publisher.publish(topic, &message).await {
        tracing::warn!(error = %e, event_type, "event not published");
    }
}

/// Publishes what an order's new timeline entries say: each as `order.<type>` on the order
/// events topic, and — for money a person must act on (a dispute opened or lost, a refund
/// failed) — an ops alert. Best effort, after the write, like every publish.
pub async fn publish_entries(
    publisher: &dyn EventPublisher,
    order: &crate::order::Order,
    entries: &[crate::order::TimelineEntry],
) {
    for e in entries {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        publish(
            publisher,
            Topic::OrderEvents,
            &format!("order.{kind}"),
            serde_json::json!({
                "orderId": order.id(),
                "orderNumber": order.number(),
                "status": order.status().as_str(),
                "entry": e,
            }),
        )
        .await;
    }
    for e in entries {
        if let Some((event_type, body)) = super::alerts::money_alert(order, e) {
            publish(publisher, Topic::OpsAlerts, event_type, body).await;
        }
    }
}
