//! The post-payment work for one order (a fulfilment job): invoice, shipment, fulfilled,
//! notifications — in that order, each recorded on the order with a version-conditioned write,
//! so a redelivered or concurrently delivered job never repeats a step.
//!
//! One worker at a time: the job's first write takes a fulfilment lease on the order — together
//! with the invoice number and the clearing of the outbox entry that owed the job, one
//! transaction — and another copy that finds the lease held answers [`FulfilError::Busy`] and
//! is retried later by the queue, by which time the work is done. The invoice document is
//! stored from the invoice as recorded, before the carrier is called. A lost race reads the
//! order again, so an order put under review or fully refunded after its job was queued is left
//! alone.
//!
//! What cannot be made exactly-once — calls to systems outside the table — is ordered so that a
//! retry errs on the safe side: `order.fulfilled` goes to SNS at least once (it is sent before it
//! is recorded), the customer message at most once (it is recorded before it is sent).

use std::time::Duration;

use serde_json::json;

use crate::ids::OrderId;
use crate::invoice::{Seller, invoice_key, invoice_number, render_html};
use crate::order::{InvoiceInfo, Order, TransitionError};
use crate::ports::{
    Carrier, CarrierError, Clock, EventPublisher, FulfilmentJob, InvoiceOutcome, InvoiceStorage,
    Message, Notifier, OrderStore, OutboxEntry, StorageError, StoreError, Topic, Trace,
};

use super::RefusedTransition;
use super::retry::{Contended, MAX_ATTEMPTS, Retry};

/// How long one worker may hold an order: longer than the slowest carrier call.
pub const FULFILMENT_LEASE: Duration = Duration::from_secs(120);

pub struct FulfilDeps<'a> {
    pub store: &'a dyn OrderStore,
    pub invoices: &'a dyn InvoiceStorage,
    /// The carrier for physical goods; digital-only orders use `no_shipping`.
    pub carrier: &'a dyn Carrier,
    pub publisher: &'a dyn EventPublisher,
    pub notifier: &'a dyn Notifier,
    pub clock: &'a dyn Clock,
    pub seller: &'a Seller,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfilment {
    /// Every step is done (by this job or an earlier copy).
    Done,
    /// Nothing to do now and nothing to retry: under review, fully refunded, never paid.
    Skipped(String),
}

#[derive(Debug, thiserror::Error)]
pub enum FulfilError {
    #[error("order {0} does not exist")]
    NoSuchOrder(OrderId),
    #[error("another worker holds the order")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Carrier(#[from] CarrierError),
    #[error("publishing order.fulfilled failed: {0}")]
    Publish(String),
    #[error("the order kept changing")]
    Contention,
    /// A bug: the order refused a step this job decided to take. Nothing was written.
    #[error(transparent)]
    Refused(#[from] RefusedTransition),
}

impl From<Contended> for FulfilError {
    fn from(_: Contended) -> Self {
        Self::Contention
    }
}

impl FulfilError {
    /// The failure category of an ops alert, as the seeds' failure tickets use them.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Carrier(_) => "delivery",
            // A refused step means the stored order and this job disagree: a state problem,
            // filed with the database ones.
            Self::Store(_) | Self::Contention | Self::Busy | Self::Refused(_) => "database",
            Self::Storage(_) | Self::Publish(_) => "api",
            Self::NoSuchOrder(_) => "payment",
        }
    }
}

/// The post-payment work for `order_id`, with nothing known of where the job came from.
pub async fn fulfil(deps: &FulfilDeps<'_>, order_id: &OrderId) -> Result<Fulfilment, FulfilError> {
    fulfil_job(deps, &FulfilmentJob::new(order_id.clone())).await
}

/// The post-payment work a job asks for; `order.fulfilled` carries the job's trace.
pub async fn fulfil_job(
    deps: &FulfilDeps<'_>,
    job: &FulfilmentJob,
) -> Result<Fulfilment, FulfilError> {
    let order_id = &job.order_id;
    let result = run(deps, order_id, &job.trace).await;
    if let Err(e) = &result
        && !matches!(e, FulfilError::Busy | FulfilError::NoSuchOrder(_))
    {
        // Let the retry start at once instead of waiting out the lease.
        if let Ok(Some(order)) = deps.store.get_order(order_id).await {
            let mut next = order.clone();
            next.release_fulfilment();
            if let Err(release) = deps.store.save_order(&next, order.version(), None).await {
                tracing::warn!(order_id = %order_id, error = %release, "could not release the fulfilment lease");
            }
        }
    }
    result
}

async fn run(
    deps: &FulfilDeps<'_>,
    order_id: &OrderId,
    trace: &Trace,
) -> Result<Fulfilment, FulfilError> {
    // One request: the order, the invoice counter (only a hint, which `issue_invoice` checks,
    // read again after a clash) and the outbox entry that owed this job, which this job clears
    // — in its first write when it has one to make, on its own otherwise.
    let first = deps.store.read_for_fulfilment(order_id).await?;
    let mut order = first
        .order
        .ok_or_else(|| FulfilError::NoSuchOrder(order_id.clone()))?;
    let mut last_invoice = Some(first.last_invoice);
    let mut owed = first.outbox;
    let mut claimed = false;
    // The invoice document is stored, from the invoice as recorded, before the carrier is
    // called: once per run that may call it.
    let mut document_stored = false;
    let refused = |e| RefusedTransition::new(order_id, e);
    // Each pass takes the next step from the order as last read or written; a pass whose write
    // lost a race reports it to `retry`. The steps are finite, so only lost races can keep the
    // loop going.
    let mut retry = Retry::new(MAX_ATTEMPTS);
    loop {
        let now = deps.clock.now();
        if order.notified_at().is_some() {
            clear(deps.store, &mut owed).await?;
            return send_notices(deps, order, &mut retry).await;
        }
        if !order.is_fulfilled() && !order.ready_for_fulfilment() {
            let why = if order.requires_review() {
                "held for review".to_owned()
            } else {
                format!("order is {}", order.status().as_str())
            };
            clear(deps.store, &mut owed).await?;
            tracing::info!(order_id = %order_id, reason = %why, "fulfilment skipped");
            return Ok(Fulfilment::Skipped(why));
        }
        let mut next = order.clone();
        if !claimed {
            match next.claim_fulfilment(now, now.plus(FULFILMENT_LEASE)) {
                Err(TransitionError::Busy) => return Err(FulfilError::Busy),
                Err(e) => return Err(refused(e).into()),
                Ok(()) => {}
            }
            if order.invoice().is_none() {
                // The lease, the invoice number and the outbox entry's clearing: one write.
                let n = match last_invoice.take() {
                    Some(n) => n,
                    None => deps.store.last_invoice_number().await?,
                } + 1;
                next.record_invoice(
                    InvoiceInfo {
                        number: invoice_number(n),
                        key: invoice_key(&order),
                        issued_at: now,
                    },
                    now,
                )
                .map_err(refused)?;
                match deps
                    .store
                    .issue_invoice(&next, order.version(), n, owed.as_ref())
                    .await?
                {
                    InvoiceOutcome::Issued => {
                        tracing::info!(order_id = %order_id, invoice = %invoice_number(n), "invoice issued");
                        claimed = true;
                        owed = None;
                        order = next;
                    }
                    // Another invoice took the number: read the counter again.
                    InvoiceOutcome::NumberTaken => retry.lost_race()?,
                    // The order changed, and with it perhaps its outbox entry: read both again.
                    InvoiceOutcome::VersionConflict => {
                        let again = deps.store.read_for_fulfilment(order_id).await?;
                        order = again
                            .order
                            .ok_or_else(|| FulfilError::NoSuchOrder(order_id.clone()))?;
                        owed = again.outbox;
                        last_invoice = Some(again.last_invoice);
                        retry.lost_race()?;
                    }
                }
                continue;
            }
            if save(deps.store, &next, &order).await? {
                claimed = true;
                order = next;
                clear(deps.store, &mut owed).await?;
            } else {
                order = read(deps.store, order_id).await?;
                retry.lost_race()?;
            }
            continue;
        }

        if order.shipment().is_none() && !document_stored {
            // Claimed means invoiced: the claim issues the invoice when there is none.
            let invoice = order.invoice().cloned().ok_or_else(|| {
                refused(TransitionError::NotAllowed {
                    from: order.status(),
                    action: "ship (no invoice)",
                })
            })?;
            let html = render_html(&order, &invoice.number, invoice.issued_at, deps.seller);
            deps.invoices
                .put(&invoice.key, html.into_bytes(), "text/html; charset=utf-8")
                .await?;
            document_stored = true;
        }

        if order.shipment().is_none() {
            let shipment = deps.carrier.create_shipment(&order).await?;
            next.record_shipment(shipment, now).map_err(refused)?;
            // Shipped means fulfilled: one write for both, with the AWB's reference that the
            // carrier's tracking finds the order by.
            next.mark_fulfilled(now).map_err(refused)?;
            if deps
                .store
                .save_shipped_order(&next, order.version())
                .await?
            {
                order = next;
            } else {
                order = read(deps.store, order_id).await?;
                retry.lost_race()?;
            }
            continue;
        }

        if !order.is_fulfilled() {
            next.mark_fulfilled(now).map_err(refused)?;
            advance(deps.store, &mut order, next, &mut retry).await?;
            continue;
        }

        // Subscribers first, at least once: retried with the job if SNS is down, and sent again
        // if the job fails after this point (subscribers dedupe on the order id).
        deps.publisher
            .publish(
                Topic::OrderEvents,
                &Message {
                    event_type: "order.fulfilled".into(),
                    body: json!({
                        "orderId": order.id(),
                        "orderNumber": order.number(),
                        "invoice": order.invoice(),
                        "shipment": order.shipment(),
                        "at": now,
                    }),
                    trace: trace.clone(),
                },
            )
            .await
            .map_err(|e| FulfilError::Publish(e.to_string()))?;
        // Then the customer, at most once: the message is recorded before it is sent, so a
        // retried or redelivered job never sends it twice. It is best effort — a failed send is
        // logged, not worth redoing the job for.
        next.record_notified(now).map_err(refused)?;
        if !save(deps.store, &next, &order).await? {
            order = read(deps.store, order_id).await?;
            retry.lost_race()?;
            continue;
        }
        if let Err(e) = deps.notifier.order_fulfilled(&next).await {
            tracing::warn!(order_id = %order_id, error = %e, "customer notification failed");
        }
        return Ok(Fulfilment::Done);
    }
}

/// The shipment's customer messages still owed (out for delivery, delivered), each recorded as
/// taken before it is sent, so a redelivered job never sends one twice. Best effort, like the
/// fulfilment message: a failed send is logged.
async fn send_notices(
    deps: &FulfilDeps<'_>,
    mut order: Order,
    retry: &mut Retry,
) -> Result<Fulfilment, FulfilError> {
    while let Some(state) = order.owed_notice() {
        let mut next = order.clone();
        next.take_notice(state, "whatsapp", deps.clock.now())
            .map_err(|e| RefusedTransition::new(order.id(), e))?;
        if !save(deps.store, &next, &order).await? {
            order = read(deps.store, order.id()).await?;
            retry.lost_race()?;
            continue;
        }
        if let Err(e) = deps.notifier.shipment_update(&next, state).await {
            tracing::warn!(order_id = %next.id(), state = state.as_str(), error = %e, "customer shipment message failed");
        } else {
            tracing::info!(order_id = %next.id(), state = state.as_str(), "customer told of the shipment");
        }
        order = next;
    }
    Ok(Fulfilment::Done)
}

/// Writes one step: `order` becomes the state written, or, when the write lost a race, the
/// state read again.
async fn advance(
    store: &dyn OrderStore,
    order: &mut Order,
    next: Order,
    retry: &mut Retry,
) -> Result<(), FulfilError> {
    if save(store, &next, order).await? {
        *order = next;
    } else {
        *order = read(store, next.id()).await?;
        retry.lost_race()?;
    }
    Ok(())
}

/// Clears the outbox entry that owed this job, if it has not been cleared yet.
async fn clear(store: &dyn OrderStore, owed: &mut Option<OutboxEntry>) -> Result<(), StoreError> {
    if let Some(entry) = owed.take() {
        store.clear_outbox(&entry).await?;
    }
    Ok(())
}

async fn read(store: &dyn OrderStore, id: &OrderId) -> Result<Order, FulfilError> {
    store
        .get_order(id)
        .await?
        .ok_or_else(|| FulfilError::NoSuchOrder(id.clone()))
}

async fn save(store: &dyn OrderStore, next: &Order, read: &Order) -> Result<bool, StoreError> {
    store.save_order(next, read.version(), None).await
}
