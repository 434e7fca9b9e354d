//! The ops console: searches of orders and of provider events, every event recorded for an
//! order, a replay of a stored raw event through the same at-most-once path, and the
//! dead-letter routes: the fulfilment jobs that failed for good, seen and moved back to the queue
//! (`docs/operations.md`).
//!
//! A replay is applied as an event of its own (`replay:<eventId>`), so the original record
//! stays as it was: an event already applied changes nothing again (the order's own rules
//! dedupe its payment or refund), one recorded unmatched applies if its order can now be found,
//! and a replay repeated is a duplicate.

use crate::ids::OrderId;
use crate::order::{Order, ProviderKind};
use crate::ports::{DeadJob, EventRecord, MAX_DEAD_JOBS, OrderPage, QueueError, StoreError};
use crate::search::{self, EventPage, EventSearch, OrderSearch};
use crate::webhook::{razorpay, stripe};

use super::Services;
use super::outbox::OutboxError;
use super::refund::send_recorded;
use super::webhook::{EventSource, Handled, handle_event_with};

/// The most events the ops console lists for one order.
pub const MAX_ORDER_EVENTS: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no such resource")]
    NotFound,
    /// A stored event that is not a provider's body (one found by reconciliation) or no longer
    /// reads as one.
    #[error("this event cannot be replayed: {0}")]
    NotReplayable(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The dead-letter queue could not be read or written: retry shortly.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<StoreError> for OpsError {
    fn from(e: StoreError) -> Self {
        Self::Outbox(e.into())
    }
}

/// The order and the provider events recorded for it, newest first.
pub async fn order_events(
    services: &Services,
    raw_id: &str,
) -> Result<(Order, Vec<EventRecord>), OpsError> {
    let id = OrderId::parse(raw_id).map_err(|_| OpsError::NotFound)?;
    let order = services
        .store
        .get_order(&id)
        .await?
        .ok_or(OpsError::NotFound)?;
    let events = services.store.order_events(&id, MAX_ORDER_EVENTS).await?;
    Ok((order, events))
}

/// Orders matching `search`, newest first: the ops console's order search. `limit` defaults to
/// [`search::DEFAULT_PAGE`] and is capped at [`search::MAX_PAGE`].
pub async fn search_orders(
    services: &Services,
    search: &OrderSearch,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<OrderPage, OpsError> {
    let limit = limit
        .unwrap_or(search::DEFAULT_PAGE)
        .clamp(1, search::MAX_PAGE);
    Ok(services.store.search_orders(search, limit, cursor).await?)
}

/// The longest provider id the order search looks up (Stripe's and Razorpay's are far shorter).
pub const MAX_PAYMENT_REF: usize = 255;

/// Whether `s` can be a provider's id: 1 to [`MAX_PAYMENT_REF`] letters, digits and `_`.
pub fn is_payment_ref(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PAYMENT_REF
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The order a provider's id belongs to — a Stripe Checkout Session (`cs_…`) or PaymentIntent
/// (`pi_…`), a Razorpay order (`order_…`) or payment (`pay_…`) — for `provider`, or for each
/// provider when none is given (one consistent read each). `None` when no order names it, or
/// when the id cannot be one (empty, too long, or not letters, digits and `_`).
pub async fn find_order_by_payment_ref(
    services: &Services,
    provider: Option<ProviderKind>,
    reference: &str,
) -> Result<Option<Order>, OpsError> {
    if !is_payment_ref(reference) {
        return Ok(None);
    }
    let providers = match provider {
        Some(p) => vec![p],
        None => vec![ProviderKind::Stripe, ProviderKind::Razorpay],
    };
    for p in providers {
        if let Some(id) = services.store.find_order_by_ref(p, reference).await? {
            return Ok(services.store.get_order(&id).await?);
        }
    }
    Ok(None)
}

/// The order shipped under a carrier's tracking number (AWB), as a customer or the carrier
/// quotes it: one consistent read of its reference, then the order. `None` when no order has
/// it, or when it cannot be one.
pub async fn find_order_by_awb(services: &Services, awb: &str) -> Result<Option<Order>, OpsError> {
    if !crate::tracking::is_awb(awb) {
        return Ok(None);
    }
    match services.store.find_order_by_awb(awb).await? {
        Some(id) => Ok(services.store.get_order(&id).await?),
        None => Ok(None),
    }
}

/// Recorded provider events matching `search`, newest first (e.g. every unmatched one).
pub async fn search_events(
    services: &Services,
    search: &EventSearch,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<EventPage, OpsError> {
    let limit = limit
        .unwrap_or(search::DEFAULT_PAGE)
        .clamp(1, search::MAX_PAGE);
    Ok(services.store.search_events(search, limit, cursor).await?)
}

/// One recorded provider event, raw body included (for an investigation).
pub async fn event(
    services: &Services,
    raw_provider: &str,
    event_id: &str,
) -> Result<EventRecord, OpsError> {
    let provider = ProviderKind::parse(raw_provider).ok_or(OpsError::NotFound)?;
    services
        .store
        .get_event(provider, event_id)
        .await?
        .ok_or(OpsError::NotFound)
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// `applied`, `no_change`, `duplicate` (this replay was made before), `ignored`, `unmatched`.
    pub outcome: &'static str,
    pub order_id: Option<OrderId>,
}

/// Applies a stored event's raw body again, as `replay:<eventId>`.
pub async fn replay(
    services: &Services,
    raw_provider: &str,
    event_id: &str,
) -> Result<Replayed, OpsError> {
    let provider = ProviderKind::parse(raw_provider).ok_or(OpsError::NotFound)?;
    let stored = services
        .store
        .get_event(provider, event_id)
        .await?
        .ok_or(OpsError::NotFound)?;
    let body = stored.payload.as_bytes();
    let mut event = match provider {
        ProviderKind::Stripe => stripe::normalise(body),
        ProviderKind::Razorpay => razorpay::normalise(body, Some(event_id)),
    }
    .map_err(OpsError::NotReplayable)?;
    event.event_id = format!("replay:{event_id}");
    let delivery = services.delivery(EventSource::Replay);
    let handled = handle_event_with(&services.outbox_ports(), delivery, &event, body).await?;
    tracing::info!(
        provider = provider.as_str(),
        event_id,
        ?handled,
        "event replayed"
    );
    Ok(match handled {
        Handled::Applied {
            order_id,
            refund_to_send,
        } => {
            if let Some(refund_id) = refund_to_send
                && let Err(e) = send_recorded(services, &order_id, &refund_id).await
            {
                tracing::warn!(order_id = %order_id, refund_id, error = %e, "late payment's refund not sent yet; the sweep will");
            }
            Replayed {
                outcome: "applied",
                order_id: Some(order_id),
            }
        }
        Handled::NoChange { order_id, .. } => Replayed {
            outcome: "no_change",
            order_id: Some(order_id),
        },
        Handled::Duplicate => Replayed {
            outcome: "duplicate",
            order_id: stored.order_id,
        },
        Handled::Ignored => Replayed {
            outcome: "ignored",
            order_id: None,
        },
        Handled::Unmatched => Replayed {
            outcome: "unmatched",
            order_id: None,
        },
    })
}

/// The dead jobs listed or moved back per call when the caller names no limit.
pub const DEFAULT_DEAD_JOBS: u32 = MAX_DEAD_JOBS;

/// Up to `limit` (default and cap [`MAX_DEAD_JOBS`]) fulfilment jobs that failed for good.
pub async fn dead_jobs(services: &Services, limit: Option<u32>) -> Result<Vec<DeadJob>, OpsError> {
    let limit = limit.unwrap_or(DEFAULT_DEAD_JOBS).clamp(1, MAX_DEAD_JOBS);
    Ok(services.dead_jobs.list(limit).await?)
}

/// Moves up to `limit` (default and cap [`MAX_DEAD_JOBS`]) dead jobs back to the queue, where
/// the worker takes them again and skips every step already done; how many were moved.
pub async fn redrive_dead_jobs(services: &Services, limit: Option<u32>) -> Result<u32, OpsError> {
    let limit = limit.unwrap_or(DEFAULT_DEAD_JOBS).clamp(1, MAX_DEAD_JOBS);
    let moved = services.dead_jobs.redrive(limit).await?;
    tracing::info!(moved, limit, "dead fulfilment jobs moved back to the queue");
    Ok(moved)
}
