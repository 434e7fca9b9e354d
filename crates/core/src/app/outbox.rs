//! What the use cases that change an order and owe effects for it share — the webhook, the
//! operator's review release and the sweep: the ports they act through, sending an owed
//! fulfilment job from the outbox, best-effort publishing, and their error.
//!
//! A fulfilment job is owed through an outbox entry written in the same commit as the change
//! that made the order ready; whoever holds the entry's lease sends the job. If the send fails
//! the lease is given back, so a retry (the provider's, or the sweep's) sends it. The entry is
//! cleared by the worker that receives the job (in its first write), not by the sender: that
//! takes a request off every webhook's path, and from then on the queue owns the retries.
//!
//! The ports carry the change's [`Trace`] (the request and provider event it came from): the
//! outbox entry records it, and the jobs sent and messages published through the ports carry
//! it, so the logs of the worker that receives the job name the webhook delivery that paid.

use std::time::Duration;

use crate::ids::OrderId;
use crate::ports::{
    Clock, EventPublisher, FulfilmentJob, JobQueue, Message, OrderStore, QueueError, StoreError,
    Topic, Trace,
};
use crate::time::Timestamp;

use super::RefusedTransition;
use super::retry::Contended;

/// How long a sender holds an outbox entry before someone else may send its job.
pub const OUTBOX_LEASE: Duration = Duration::from_secs(30);

/// The ports an order change acts through: the store it commits to (outbox entry included),
/// the queue owed jobs go to, the topics it announces on, and the clock — and where the change
/// came from, which the jobs and messages sent through them carry.
#[derive(Clone)]
pub struct OutboxPorts<'a> {
    pub store: &'a dyn OrderStore,
    pub queue: &'a dyn JobQueue,
    pub publisher: &'a dyn EventPublisher,
    pub clock: &'a dyn Clock,
    /// The request and provider event the change came from (empty when unknown: the sweep's
    /// own work, an operator's tool).
    pub trace: Trace,
}

impl OutboxPorts<'_> {
    /// The same ports, for a change that came from `trace`.
    pub fn traced(self, trace: Trace) -> Self {
        Self { trace, ..self }
    }

    /// [`publish`], carrying this change's trace.
    pub async fn publish(&self, topic: Topic, event_type: &str, body: serde_json::Value) {
        publish_traced(self.publisher, &self.trace, topic, event_type, body).await;
    }

    /// [`publish_entries`], carrying this change's trace.
    pub async fn publish_entries(
        &self,
        order: &crate::order::Order,
        entries: &[crate::order::TimelineEntry],
    ) {
        publish_entries_traced(self.publisher, &self.trace, order, entries).await;
    }
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

/// Sends the job for an outbox entry this caller holds, carrying the ports' trace; the entry
/// stays, leased, until the worker that receives the job clears it. On failure the lease is
/// given back so the provider's retry can send it.
pub(crate) async fn send_job(
    ports: &OutboxPorts<'_>,
    order_id: &OrderId,
    now: Timestamp,
) -> Result<(), OutboxError> {
    let job = FulfilmentJob {
        order_id: order_id.clone(),
        trace: ports.trace.clone(),
    };
    match ports.queue.send(&job).await {
        Ok(()) => {
            tracing::info!(
                order_id = %order_id,
                request_id = job.trace.request_id.as_deref(),
                event_id = job.trace.event_id.as_deref(),
                "fulfilment job queued"
            );
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
/// the provider retry an event that will then dedupe; it is logged for the operator. The
/// message carries no trace: work that knows where it came from publishes through
/// [`OutboxPorts::publish`].
pub async fn publish(
    publisher: &dyn EventPublisher,
    topic: Topic,
    event_type: &str,
    body: serde_json::Value,
) {
    publish_traced(publisher, &Trace::default(), topic, event_type, body).await;
}

async fn publish_traced(
    publisher: &dyn EventPublisher,
    trace: &Trace,
    topic: Topic,
    event_type: &str,
    body: serde_json::Value,
) {
    let message = Message {
        event_type: event_type.to_owned(),
        body,
        trace: trace.clone(),
    };
    if let Err(e) = publisher.publish(topic, &message).await {
        tracing::warn!(error = %e, event_type, "event not published");
    }
}

/// Publishes what an order's new timeline entries say: each as `order.<type>` on the order
/// events topic, and — for money a person must act on (a dispute opened or lost, a refund
/// failed) — an ops alert. Best effort, after the write, like every publish; untraced, like
/// [`publish`] ([`OutboxPorts::publish_entries`] carries a trace).
pub async fn publish_entries(
    publisher: &dyn EventPublisher,
    order: &crate::order::Order,
    entries: &[crate::order::TimelineEntry],
) {
    publish_entries_traced(publisher, &Trace::default(), order, entries).await;
}

async fn publish_entries_traced(
    publisher: &dyn EventPublisher,
    trace: &Trace,
    order: &crate::order::Order,
    entries: &[crate::order::TimelineEntry],
) {
    for e in entries {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        publish_traced(
            publisher,
            trace,
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
            publish_traced(publisher, trace, Topic::OpsAlerts, event_type, body).await;
        }
    }
}
