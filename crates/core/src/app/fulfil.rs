//! The post-payment work for one order (a fulfilment job): invoice, shipment, fulfilled,
//! notifications — in that order, each recorded on the order with a version-conditioned write,
//! so a redelivered or concurrently delivered job never repeats a step.
//!
//! One worker at a time: the job first takes a fulfilment lease on the order; another copy that
//! finds the lease held answers [`FulfilError::Busy`] and is retried later by the queue, by which
//! time the work is done. The order is read again before every step, so an order put under
//! review or fully refunded after its job was queued is left alone.
//!
//! What cannot be made exactly-once — calls to systems outside the table — is ordered so that a
//! retry errs on the safe side: `order.fulfilled` goes to SNS at least once (it is sent before it
//! is recorded), the customer message at most once (it is recorded before it is sent).

use std::time::Duration;

use serde_json::json;

use crate::ids::OrderId;
use crate::invoice::{Seller, invoice_key, invoice_number, render_html};
use crate::order::{InvoiceInfo, Order, OrderStatus, TransitionError};
use crate::ports::{
    Carrier, CarrierError, Clock, EventPublisher, InvoiceOutcome, InvoiceStorage, Message,
    Notifier, OrderStore, StorageError, StoreError, Topic,
};

/// How long one worker may hold an order: longer than the slowest carrier call.
pub const FULFILMENT_LEASE: Duration = Duration::from_secs(120);
const MAX_ATTEMPTS: usize = 10;

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
}

impl FulfilError {
    /// The failure category of an ops alert, as the seeds' failure tickets use them.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Carrier(_) => "delivery",
            Self::Store(_) | Self::Contention | Self::Busy => "database",
            Self::Storage(_) | Self::Publish(_) => "api",
            Self::NoSuchOrder(_) => "payment",
        }
    }
}

pub async fn fulfil(deps: &FulfilDeps<'_>, order_id: &OrderId) -> Result<Fulfilment, FulfilError> {
    let result = run(deps, order_id).await;
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

async fn run(deps: &FulfilDeps<'_>, order_id: &OrderId) -> Result<Fulfilment, FulfilError> {
    // The invoice counter comes with the first read (one request); it is only a hint, which
    // `issue_invoice` checks, and is read again after a clash.
    let (first, counter) = deps.store.get_order_and_invoice_counter(order_id).await?;
    let mut order = first.ok_or_else(|| FulfilError::NoSuchOrder(order_id.clone()))?;
    let mut last_invoice = Some(counter);
    let mut claimed = false;
    for _ in 0..MAX_ATTEMPTS {
        let now = deps.clock.now();
        if order.notified_at().is_some() {
            return Ok(Fulfilment::Done);
        }
        if order.status() != OrderStatus::Fulfilled && !order.ready_for_fulfilment() {
            let why = if order.requires_review() {
                "held for review".to_owned()
            } else {
                format!("order is {}", order.status().as_str())
            };
            tracing::info!(order_id = %order_id, reason = %why, "fulfilment skipped");
            return Ok(Fulfilment::Skipped(why));
        }
        let mut next = order.clone();
        if !claimed {
            match next.claim_fulfilment(now, now.plus(FULFILMENT_LEASE)) {
                Err(TransitionError::Busy) => return Err(FulfilError::Busy),
                Err(e) => return Err(StoreError::Corrupt(e.to_string()).into()),
                Ok(()) => {}
            }
            if save(deps.store, &next, &order).await? {
                claimed = true;
                order = next;
            } else {
                order = read(deps.store, order_id).await?;
            }
            continue;
        }

        if order.invoice().is_none() {
            let n = match last_invoice.take() {
                Some(n) => n,
                None => deps.store.last_invoice_number().await?,
            } + 1;
            let number = invoice_number(n);
            let key = invoice_key(&order);
            let html = render_html(&order, &number, now, deps.seller);
            deps.invoices
                .put(&key, html.into_bytes(), "text/html; charset=utf-8")
                .await?;
            next.record_invoice(
                InvoiceInfo {
                    number: number.clone(),
                    key,
                    issued_at: now,
                },
                now,
            )
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            match deps.store.issue_invoice(&next, order.version(), n).await? {
                InvoiceOutcome::Issued => {
                    tracing::info!(order_id = %order_id, invoice = %number, "invoice issued");
                    order = next;
                }
                // Another invoice took the number: read the counter again.
                InvoiceOutcome::NumberTaken => {}
                InvoiceOutcome::VersionConflict => order = read(deps.store, order_id).await?,
            }
            continue;
        }

        if order.shipment().is_none() {
            let shipment = deps.carrier.create_shipment(&order).await?;
            next.record_shipment(shipment, now)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // Shipped means fulfilled: one write for both.
            next.mark_fulfilled(now)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            order = if save(deps.store, &next, &order).await? {
                next
            } else {
                read(deps.store, order_id).await?
            };
            continue;
        }

        if order.status() != OrderStatus::Fulfilled {
            next.mark_fulfilled(now)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            order = if save(deps.store, &next, &order).await? {
                next
            } else {
                read(deps.store, order_id).await?
            };
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
                },
            )
            .await
            .map_err(|e| FulfilError::Publish(e.to_string()))?;
        // Then the customer, at most once: the message is recorded before it is sent, so a
        // retried or redelivered job never sends it twice. It is best effort — a failed send is
        // logged, not worth redoing the job for.
        next.record_notified(now)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if !save(deps.store, &next, &order).await? {
            order = read(deps.store, order_id).await?;
            continue;
        }
        if let Err(e) = deps.notifier.order_fulfilled(&next).await {
            tracing::warn!(order_id = %order_id, error = %e, "customer notification failed");
        }
        return Ok(Fulfilment::Done);
    }
    Err(FulfilError::Contention)
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
