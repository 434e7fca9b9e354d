//! Response bodies (camelCase JSON), built from domain values. Amounts are integers in the
//! currency's minor unit (paise for INR).

use oms_core::customer::{Customer, ShippingAddress};
use oms_core::order::{Dispute, RefundRequest};
use oms_core::{
    AccessToken, Currency, Order, OrderLine, Product, ProviderKind, StockRecord, TimelineEntry,
};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub unit_price: i64,
    pub currency: Currency,
    pub available: u32,
}

impl<'a> From<&'a Product> for ProductView<'a> {
    fn from(p: &'a Product) -> Self {
        Self {
            sku: p.sku.as_str(),
            name: &p.name,
            unit_price: p.unit_price.minor(),
            currency: p.unit_price.currency(),
            available: p.available,
        }
    }
}

/// One stock adjustment, as `POST` and `GET /admin/products/{sku}/stock` show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockRecordView<'a> {
    pub sku: &'a str,
    pub number: u64,
    pub at: String,
    pub by: &'a str,
    pub delta: i64,
    pub reason: &'a str,
    pub level: u32,
}

impl<'a> From<&'a StockRecord> for StockRecordView<'a> {
    fn from(r: &'a StockRecord) -> Self {
        Self {
            sku: r.sku.as_str(),
            number: r.number,
            at: r.at.to_string(),
            by: r.by.as_str(),
            delta: r.delta,
            reason: &r.reason,
            level: r.level,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineView<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub quantity: u32,
    pub unit_price: i64,
    pub line_total: i64,
}

impl<'a> From<&'a OrderLine> for LineView<'a> {
    fn from(l: &'a OrderLine) -> Self {
        Self {
            sku: l.sku.as_str(),
            name: &l.name,
            quantity: l.quantity.get(),
            unit_price: l.unit_price.minor(),
            line_total: l.line_total.minor(),
        }
    }
}

/// How the storefront starts paying: Razorpay's checkout widget or Stripe's hosted page.
#[derive(Serialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum CheckoutView<'a> {
    #[serde(rename_all = "camelCase")]
    Razorpay {
        provider_order_id: &'a str,
        key_id: Option<&'a str>,
    },
    #[serde(rename_all = "camelCase")]
    Stripe {
        session_id: &'a str,
        checkout_url: Option<&'a str>,
    },
}

/// The `201` body of `POST /orders`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedOrderView<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub status: &'static str,
    pub amount: i64,
    pub currency: Currency,
    pub items: Vec<LineView<'a>>,
    pub payment: CheckoutView<'a>,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<&'a str>,
}

impl<'a> CreatedOrderView<'a> {
    pub fn new(order: &'a Order, token: Option<&'a AccessToken>) -> Self {
        let p = order.payment();
        let payment = match p.provider {
            ProviderKind::Razorpay => CheckoutView::Razorpay {
                provider_order_id: &p.provider_order_id,
                key_id: p.key_id.as_deref(),
            },
            ProviderKind::Stripe => CheckoutView::Stripe {
                session_id: &p.provider_order_id,
                checkout_url: p.checkout_url.as_deref(),
            },
        };
        Self {
            order_id: order.id().as_str(),
            order_number: order.number().as_str(),
            status: order.status().as_str(),
            amount: order.total().minor(),
            currency: order.total().currency(),
            items: order.lines().iter().map(LineView::from).collect(),
            payment,
            expires_at: order.expires_at().to_string(),
            access_token: token.map(AccessToken::expose),
        }
    }

    /// The body stored for idempotent replays and sent to the client.
    pub fn render(order: &Order, token: Option<&AccessToken>) -> String {
        // A struct of strings and integers always serialises.
        serde_json::to_string(&CreatedOrderView::new(order, token)).unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView<'a> {
    pub provider: &'static str,
    pub provider_order_id: &'a str,
    pub provider_payment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<&'a str>,
}

/// One refund of the order: one this service asked for (`refundId` ours, with its `status`
/// and, once known, the provider's id), or one seen only at the provider (the dashboard:
/// `refundId` is the provider's, `status` `succeeded`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView<'a> {
    pub refund_id: &'a str,
    pub amount: i64,
    pub currency: Currency,
    pub status: &'static str,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_refund_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<&'a str>,
}

impl<'a> From<&'a oms_core::order::Refund> for RefundView<'a> {
    fn from(r: &'a oms_core::order::Refund) -> Self {
        Self {
            refund_id: &r.refund_id,
            amount: r.amount.minor(),
            currency: r.amount.currency(),
            status: "succeeded",
            at: r.at.to_string(),
            provider_refund_id: None,
            reason: None,
            requested_by: None,
            failure: None,
            payment_id: r.payment_id.as_deref(),
            charge_id: r.charge_id.as_deref(),
        }
    }
}

impl<'a> From<&'a RefundRequest> for RefundView<'a> {
    fn from(r: &'a RefundRequest) -> Self {
        Self {
            refund_id: &r.refund_id,
            amount: r.amount.minor(),
            currency: r.amount.currency(),
            status: r.status.as_str(),
            at: r.requested_at.to_string(),
            provider_refund_id: r.provider_refund_id.as_deref(),
            reason: r.reason.as_deref(),
            requested_by: Some(&r.requested_by),
            failure: r.failure.as_deref(),
            payment_id: None,
            charge_id: None,
        }
    }
}

impl<'a> RefundView<'a> {
    /// The order's refunds of its kept payment: every one this service asked for, then those
    /// the provider reported that none of ours accounts for.
    pub fn of_order(o: &'a Order) -> Vec<Self> {
        let ours = o.refund_requests();
        let mut views: Vec<Self> = ours.iter().map(Self::from).collect();
        views.extend(
            o.refunds()
                .filter(|r| {
                    !ours
                        .iter()
                        .any(|q| q.provider_refund_id.as_deref() == Some(r.refund_id.as_str()))
                })
                .map(Self::from),
        );
        views
    }
}

/// A chargeback on the order (`dispute`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeView<'a> {
    pub id: &'a str,
    pub status: oms_core::order::DisputeStatus,
    pub amount: i64,
    pub currency: Currency,
    pub reason: &'a str,
    pub evidence_due_by: Option<String>,
}

impl<'a> From<&'a Dispute> for DisputeView<'a> {
    fn from(d: &'a Dispute) -> Self {
        Self {
            id: &d.dispute_id,
            status: d.status,
            amount: d.amount.minor(),
            currency: d.amount.currency(),
            reason: &d.reason,
            evidence_due_by: d.evidence_due_by.map(|t| t.to_string()),
        }
    }
}

/// The order's shipment and what the carrier's tracking said of it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentView<'a> {
    pub carrier: &'a str,
    pub shipment_id: &'a str,
    pub awb: &'a str,
    /// `created` states as the carrier answered at creation (`pickup_scheduled`, …) until
    /// tracking moves it: `in_transit`, `out_for_delivery`, `delivered`, …
    pub status: &'a str,
    pub courier: Option<&'a str>,
    pub etd: Option<&'a str>,
    /// The latest status the carrier sent, mapped or not.
    pub carrier_status: Option<&'a oms_core::order::CarrierStatus>,
    pub events: &'a [oms_core::order::ShipmentEvent],
}

impl<'a> ShipmentView<'a> {
    fn of(s: &'a oms_core::ShipmentInfo, t: &'a oms_core::order::Tracking) -> Self {
        Self {
            carrier: &s.carrier,
            shipment_id: &s.shipment_id,
            awb: &s.awb,
            status: &s.status,
            courier: t.courier.as_deref(),
            etd: t.etd.as_deref(),
            carrier_status: t.carrier_status.as_ref(),
            events: &t.events,
        }
    }
}

/// `GET /orders/{orderId}` and the entries of `GET /orders`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub status: &'static str,
    pub payment_status: &'static str,
    pub fulfilment_status: &'static str,
    pub amount: i64,
    pub currency: Currency,
    pub items: Vec<LineView<'a>>,
    pub customer: &'a Customer,
    pub shipping_address: &'a ShippingAddress,
    pub requires_review: bool,
    pub review_reason: Option<oms_core::ReviewReason>,
    pub refunded_amount: i64,
    pub refunds: Vec<RefundView<'a>>,
    pub other_payment_refunds: Vec<RefundView<'a>>,
    pub dispute: Option<DisputeView<'a>>,
    pub payment: PaymentView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<&'a oms_core::InvoiceInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment: Option<ShipmentView<'a>>,
    pub timeline: &'a [TimelineEntry],
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
}

impl<'a> From<&'a Order> for OrderView<'a> {
    fn from(o: &'a Order) -> Self {
        let p = o.payment();
        Self {
            order_id: o.id().as_str(),
            order_number: o.number().as_str(),
            status: o.status().as_str(),
            payment_status: o.payment_status().as_str(),
            fulfilment_status: o.fulfilment_status().as_str(),
            amount: o.total().minor(),
            currency: o.total().currency(),
            items: o.lines().iter().map(LineView::from).collect(),
            customer: o.customer(),
            shipping_address: o.shipping_address(),
            requires_review: o.requires_review(),
            review_reason: o.review_reason(),
            refunded_amount: o.refunded().minor(),
            refunds: RefundView::of_order(o),
            other_payment_refunds: o.other_payment_refunds().map(RefundView::from).collect(),
            dispute: o.dispute().map(DisputeView::from),
            payment: PaymentView {
                provider: p.provider.as_str(),
                provider_order_id: &p.provider_order_id,
                provider_payment_id: p.provider_payment_id.as_deref(),
                checkout_url: p.checkout_url.as_deref(),
            },
            invoice: o.invoice(),
            shipment: o.shipment().map(|s| ShipmentView::of(s, o.tracking())),
            timeline: o.timeline(),
            created_at: o.created_at().to_string(),
            updated_at: o.updated_at().to_string(),
            expires_at: o.expires_at().to_string(),
        }
    }
}

/// One recorded provider event, as the ops console lists it (the raw body is kept, not shown).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView<'a> {
    pub provider: &'static str,
    pub event_id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub outcome: &'static str,
    pub detail: &'a str,
    pub received_at: String,
    /// The order it was matched to; absent for an unmatched or ignored event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<&'a str>,
    /// `webhook`, `reconciliation`, `replay` or `backfill`.
    pub source: &'static str,
}

impl<'a> From<&'a oms_core::search::EventSummary> for EventView<'a> {
    fn from(e: &'a oms_core::search::EventSummary) -> Self {
        Self {
            provider: e.provider.as_str(),
            event_id: &e.event_id,
            event_type: &e.event_type,
            outcome: e.outcome.as_str(),
            detail: &e.detail,
            received_at: e.received_at.to_string(),
            order_id: e.order_id.as_ref().map(|id| id.as_str()),
            source: e.source.as_str(),
        }
    }
}

/// One fulfilment job in the dead-letter queue, as the ops console lists it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadJobView<'a> {
    /// `null` for a message that is not a fulfilment job.
    pub order_id: Option<&'a str>,
    pub message_id: &'a str,
    pub receive_count: u32,
    /// When the job was first sent, where the queue says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
}

impl<'a> From<&'a oms_core::ports::DeadJob> for DeadJobView<'a> {
    fn from(j: &'a oms_core::ports::DeadJob) -> Self {
        Self {
            order_id: j.order_id.as_ref().map(|id| id.as_str()),
            message_id: &j.message_id,
            receive_count: j.receive_count,
            sent_at: j.sent_at.map(|t| t.to_string()),
        }
    }
}
