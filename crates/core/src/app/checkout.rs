//! `POST /orders/{orderId}/razorpay/verify`: the storefront confirms a Razorpay Checkout
//! payment on return, with the signature Checkout gave it. This records the payment id against
//! the order (so later webhooks find it) and answers at once; it never marks the order paid —
//! the signed webhook stays the source of truth for money.

use crate::ids::OrderId;
use crate::order::{Order, ProviderKind, Viewer};
use crate::ports::{Clock, EventCommit, EventOutcome, EventRecord, OrderStore, StoreError};
use crate::secret::Secret;
use crate::webhook::signature::{SignatureError, verify_razorpay_checkout};

use super::webhook::EVENT_RETENTION;

#[derive(Debug, thiserror::Error)]
pub enum CheckoutVerifyError {
    #[error("no such order")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct CheckoutConfirmation<'a> {
    pub razorpay_order_id: &'a str,
    pub razorpay_payment_id: &'a str,
    pub razorpay_signature: &'a str,
}

pub async fn verify_razorpay(
    store: &dyn OrderStore,
    clock: &dyn Clock,
    viewer: &Viewer,
    raw_id: &str,
    c: &CheckoutConfirmation<'_>,
    key_secret: &Secret,
) -> Result<Order, CheckoutVerifyError> {
    let id = OrderId::parse(raw_id).map_err(|_| CheckoutVerifyError::NotFound)?;
    let order = store
        .get_order(&id)
        .await?
        .filter(|o| o.visible_to(viewer))
        .ok_or(CheckoutVerifyError::NotFound)?;
    if order.payment().provider != ProviderKind::Razorpay {
        return Err(CheckoutVerifyError::Invalid {
            field: "razorpayOrderId",
            message: "this order is not paid through Razorpay",
        });
    }
    if order.payment().provider_order_id != c.razorpay_order_id {
        return Err(CheckoutVerifyError::Invalid {
            field: "razorpayOrderId",
            message: "is not this order's Razorpay order",
        });
    }
    if !c.razorpay_payment_id.starts_with("pay_") || c.razorpay_payment_id.len() > 64 {
        return Err(CheckoutVerifyError::Invalid {
            field: "razorpayPaymentId",
            message: "must be a Razorpay payment id (pay_…)",
        });
    }
    verify_razorpay_checkout(
        c.razorpay_order_id,
        c.razorpay_payment_id,
        c.razorpay_signature,
        key_secret,
    )?;
    let now = clock.now();
    let record = EventRecord {
        provider: ProviderKind::Razorpay,
        event_id: format!("checkout:{}", c.razorpay_payment_id),
        event_type: "checkout.verified".into(),
        received_at: now,
        order_id: Some(id),
        outcome: EventOutcome::NoChange,
        detail: "checkout signature verified; awaiting the payment webhook".into(),
        payload: String::new(),
        expires_at: now.plus(EVENT_RETENTION),
        source: crate::ports::EventSource::Webhook,
    };
    // A repeat confirmation is a duplicate record: nothing more to do either way.
    store
        .commit_event(EventCommit {
            record: &record,
            order: None,
            reserve_stock: false,
            payment_refs: vec![c.razorpay_payment_id.to_owned()],
            outbox: None,
        })
        .await?;
    Ok(order)
}
