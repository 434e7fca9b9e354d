//! A carrier's tracking update, applied to the order it is about (`docs/decisions.md`,
//! "Shipment tracking"). The update is found its order by AWB (the reference written with the
//! shipment), or by the channel order id this service sent when that order's shipment has the
//! same AWB. The order keeps every update, so a redelivery changes nothing; the write is
//! conditioned on the order's version, and a lost race is decided again on a fresh read.
//!
//! What the change owes is written with it: a returned parcel's stock (given back in the same
//! write), a customer message (an outbox entry: the worker sends it, at most once), a refund
//! (recorded `requested`; the caller sends it, or the sweep). After the write: `order.delivered`
//! / `order.returned` and an entry per state on the order-events topic, and an ops alert for a
//! parcel in trouble — best effort, like every publish.

use serde_json::json;

use crate::ids::OrderId;
use crate::order::{Order, TransitionError, rto_refund_id};
use crate::ports::{OutboxEntry, StoreError, Topic, UnmatchedTracking};
use crate::tracking::{ShipmentState, TrackingUpdate};

use super::outbox::{OUTBOX_LEASE, OutboxError, OutboxPorts, resume_outbox, send_job};
use super::refund::REFUND_SEND_LEASE;
use super::retry::{MAX_ATTEMPTS, Retry};

/// What became of a tracking delivery. Every variant is answered 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    Applied {
        order_id: OrderId,
        entered: Option<ShipmentState>,
        /// A returned parcel's refund, recorded `requested` with its send lease held by this
        /// caller: send it now (`refund::send_recorded`); if that fails the sweep sends it.
        refund_to_send: Option<String>,
    },
    /// Seen before, or about a shipment this order does not have.
    NoChange { order_id: OrderId, reason: String },
    /// No order has this AWB: recorded, and alerted on its first update.
    Unmatched,
}

/// How tracking is applied: `RTO_REFUND_POLICY`, and how long an unmatched update is kept.
#[derive(Debug, Clone, Copy)]
pub struct TrackingPolicy {
    pub rto_refund: crate::order::RtoRefundPolicy,
    pub retention: std::time::Duration,
}

async fn resolve(ports: &OutboxPorts<'_>, u: &TrackingUpdate) -> Result<Option<Order>, StoreError> {
    if let Some(id) = ports.store.find_order_by_awb(&u.awb).await?
        && let Some(order) = ports.store.get_order(&id).await?
    {
        return Ok(Some(order));
    }
    // Shipments recorded before AWB references existed: the channel order id is ours.
    let Some(id) = u
        .channel_order_id
        .as_deref()
        .and_then(|r| OrderId::parse(r).ok())
    else {
        return Ok(None);
    };
    Ok(ports
        .store
        .get_order(&id)
        .await?
        .filter(|o| o.shipment().is_some_and(|s| s.awb == u.awb)))
}

/// Applies one authenticated tracking update.
pub async fn handle_tracking(
    ports: &OutboxPorts<'_>,
    policy: TrackingPolicy,
    u: &TrackingUpdate,
    payload: &[u8],
) -> Result<Tracked, OutboxError> {
    let now = ports.clock.now();
    let Some(first) = resolve(ports, u).await? else {
        let record = UnmatchedTracking {
            awb: u.awb.clone(),
            status_id: u.status_id,
            order_ref: u.channel_order_id.clone(),
            received_at: now,
            payload: String::from_utf8_lossy(payload).into_owned(),
            expires_at: now.plus(policy.retention),
        };
        if ports.store.record_unmatched_tracking(&record).await? {
            tracing::warn!(awb = %u.awb, status_id = u.status_id, "tracking update for an unknown AWB");
            ports
                .publish(
                    Topic::OpsAlerts,
                    "ops.unmatched_tracking",
                    json!({
                        "category": "delivery",
                        "severity": "medium",
                        "title": "Carrier tracking for an AWB no order has",
                        "awb": u.awb,
                        "statusId": u.status_id,
                        "status": u.label,
                        "orderRef": u.channel_order_id,
                        "srOrderId": u.sr_order_id,
                        "at": now,
                    }),
                )
                .await;
        }
        return Ok(Tracked::Unmatched);
    };

    let order_id = first.id().clone();
    let mut fresh = Some(first);
    let mut retry = Retry::new(MAX_ATTEMPTS);
    loop {
        let order = match fresh.take() {
            Some(o) => o,
            None => ports
                .store
                .get_order(&order_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("order {order_id} vanished")))?,
        };
        let mut next = order.clone();
        let change =
            match next.record_tracking(u, policy.rto_refund, now, now.plus(REFUND_SEND_LEASE)) {
                Ok(c) => c,
                Err(e @ (TransitionError::AlreadyApplied | TransitionError::NotAllowed { .. })) => {
                    // The first delivery may have committed but failed to send its job.
                    if order.owed_notice().is_some() {
                        resume_outbox(ports, &order_id).await?;
                    }
                    return Ok(Tracked::NoChange {
                        order_id,
                        reason: e.to_string(),
                    });
                }
                Err(e) => return Err(super::RefusedTransition::new(&order_id, e).into()),
            };
        let outbox = change.notice_owed.then(|| OutboxEntry {
            order_id: order_id.clone(),
            created_at: now,
            lease_until: now.plus(OUTBOX_LEASE),
            trace: ports.trace.clone(),
        });
        let written = if change.restock {
            ports
                .store
                .release_order_stock(&next, order.version())
                .await?
        } else {
            ports
                .store
                .save_order(&next, order.version(), outbox.as_ref())
                .await?
        };
        if !written {
            retry.lost_race()?;
            continue;
        }
        if let Some(state) = change.entered {
            tracing::info!(order_id = %order_id, awb = %u.awb, state = state.as_str(), "shipment moved");
        }
        announce(ports, &next, &change.entries, change.entered, u).await;
        if outbox.is_some() {
            send_job(ports, &order_id, now).await?;
        }
        let refund_to_send = change
            .refund
            .as_ref()
            .map(|r| r.refund_id.clone())
            .filter(|id| *id == rto_refund_id(&order_id));
        return Ok(Tracked::Applied {
            order_id,
            entered: change.entered,
            refund_to_send,
        });
    }
}

/// The order-events and ops alerts a change calls for.
async fn announce(
    ports: &OutboxPorts<'_>,
    order: &Order,
    entries: &[crate::order::TimelineEntry],
    entered: Option<ShipmentState>,
    u: &TrackingUpdate,
) {
    ports.publish_entries(order, entries).await;
    let Some(state) = entered else {
        return;
    };
    let milestone = match state {
        ShipmentState::Delivered => Some("order.delivered"),
        ShipmentState::Returned => Some("order.returned"),
        _ => None,
    };
    if let Some(event_type) = milestone {
        ports
            .publish(
                Topic::OrderEvents,
                event_type,
                json!({
                    "orderId": order.id(),
                    "orderNumber": order.number(),
                    "status": order.status().as_str(),
                    "awb": u.awb,
                    "courier": u.courier,
                    "at": u.at,
                }),
            )
            .await;
    }
    if let Some(severity) = state.alert_severity() {
        let title = match state {
            ShipmentState::Undelivered => {
                "Delivery attempt failed (NDR): the carrier needs an answer"
            }
            ShipmentState::Returning => "Parcel is being returned to origin (RTO)",
            ShipmentState::Returned => {
                "Parcel is back at the seller: check the goods; stock was given back"
            }
            ShipmentState::Lost => {
                "Carrier reports the parcel lost: claim with the carrier, refund or reship"
            }
            ShipmentState::Damaged => {
                "Carrier reports the parcel damaged: claim with the carrier, refund or reship"
            }
            _ => "Carrier cancelled the shipment",
        };
        ports
            .publish(
                Topic::OpsAlerts,
                &format!("ops.shipment_{}", state.as_str()),
                json!({
                    "category": "delivery",
                    "severity": severity,
                    "title": title,
                    "orderId": order.id(),
                    "orderNumber": order.number(),
                    "awb": u.awb,
                    "courier": u.courier,
                    "statusId": u.status_id,
                    "status": u.label,
                    "location": u.location,
                    "requiresReview": order.requires_review(),
                    "at": u.at,
                }),
            )
            .await;
    }
}
