//! Ops alerts for money events a person must act on: a dispute opened (evidence is due) or
//! lost, and a refund that failed (the customer may not have their money back).

use serde_json::{Value, json};

use crate::order::{Order, TimelineEntry, TimelineType};

/// The alert a timeline entry calls for, as `(event type, body)`, if any.
pub fn money_alert(order: &Order, entry: &TimelineEntry) -> Option<(&'static str, Value)> {
    let (event_type, severity, title) = match entry.kind {
        TimelineType::DisputeOpened => (
            "ops.dispute_opened",
            "high",
            "Chargeback opened: answer with evidence before the due date",
        ),
        TimelineType::DisputeLost => (
            "ops.dispute_lost",
            "high",
            "Chargeback lost: the disputed amount is gone",
        ),
        TimelineType::RefundFailed => (
            "ops.refund_failed",
            "high",
            "Refund failed: the customer has not been paid back",
        ),
        _ => return None,
    };
    Some((
        event_type,
        json!({
            "category": "payment",
            "severity": severity,
            "title": title,
            "orderId": order.id(),
            "orderNumber": order.number(),
            "provider": order.payment().provider.as_str(),
            "detail": entry.meta,
            "evidenceDueBy": entry.meta.get("evidenceDueBy"),
            "at": entry.at,
        }),
    ))
}
