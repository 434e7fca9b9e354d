//! Razorpay Orders (`POST /v1/orders`, JSON, HTTP Basic with key id and key secret). The
//! storefront opens Razorpay Checkout with the returned `order_…` id and our public key id; our
//! order id travels in `notes.orderId` and `receipt`. Refunds
//! (`POST /v1/payments/{id}/refund`) carry our refund and order ids in their notes, and are
//! looked up again (`GET /v1/payments/{id}/refunds/{refundId}`) when their webhook is late. A
//! lost payment is looked up among the order's payments (`GET /v1/orders/{id}/payments`).
//! Razorpay has no event list: a backfill lists the account's payments (`GET /v1/payments`) and
//! then its refunds (`GET /v1/refunds`), each final one wrapped as the webhook that reports it.

use async_trait::async_trait;
use std::sync::Arc;

use oms_core::ports::{
    BACKFILL_PAGE, BackfillItem, BackfillPage, BackfillQuery, CheckoutClosed, CheckoutRequest,
    FoundPayment, FoundPaymentStatus, PaymentProvider, ProviderError, ProviderRefund,
    ProviderRefundStatus, RefundCall, SecretSource,
};
use oms_core::{PaymentInfo, ProviderKind, Secret};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct RazorpayConfig {
    /// `https://api.razorpay.com`, or a local stub in tests.
    pub api_base: String,
}

/// The key id and key secret come from the [`SecretSource`] at each call, so a rotation needs
/// no redeploy.
pub struct RazorpayOrders {
    http: reqwest::Client,
    config: RazorpayConfig,
    secrets: Arc<dyn SecretSource>,
}

impl RazorpayOrders {
    pub fn new(
        http: reqwest::Client,
        config: RazorpayConfig,
        secrets: Arc<dyn SecretSource>,
    ) -> Self {
        Self {
            http,
            config,
            secrets,
        }
    }

    /// The JSON body of the Create Order request.
    pub fn body(req: &CheckoutRequest) -> Value {
        json!({
            "amount": req.amount.minor(),
            "currency": req.amount.currency().as_str(),
            // Razorpay limits receipts to 40 characters; order numbers are shorter.
            "receipt": req.order_number.as_str(),
            "notes": {
                "orderId": req.order_id.as_str(),
                "orderNumber": req.order_number.as_str(),
            },
        })
    }
}

#[async_trait]
impl PaymentProvider for RazorpayOrders {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Razorpay
    }

    #[tracing::instrument(skip_all, fields(order_id = %req.order_id))]
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        let (key_id, secret) = self.credentials().await?;
        let url = format!("{}/v1/orders", self.config.api_base.trim_end_matches('/'));
        let res = self
            .http
            .post(url)
            .basic_auth(&key_id, Some(secret.expose()))
            .json(&Self::body(req))
            .send()
            .await;
        let body = crate::classify("razorpay", res).await?;
        let id = body["id"]
            .as_str()
            .filter(|id| id.starts_with("order_"))
            .ok_or_else(|| ProviderError::Unavailable("razorpay: order without an id".into()))?;
        Ok(PaymentInfo {
            provider: ProviderKind::Razorpay,
            provider_order_id: id.to_owned(),
            provider_payment_id: None,
            checkout_url: None,
            key_id: Some(key_id),
            captured: None,
        })
    }

    /// `GET /v1/orders/{order_id}/payments`: every payment attempted on the order (captured,
    /// authorised or failed); see [`found_payments`].
    #[tracing::instrument(skip_all, fields(razorpay_order = %payment.provider_order_id))]
    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<FoundPayment>, ProviderError> {
        if !crate::is_plain_id(&payment.provider_order_id) {
            return Err(ProviderError::Rejected {
                status: 400,
                message: "razorpay: not an order id".into(),
            });
        }
        let (key_id, secret) = self.credentials().await?;
        let url = format!(
            "{}/v1/orders/{}/payments",
            self.config.api_base.trim_end_matches('/'),
            payment.provider_order_id
        );
        let res = self
            .http
            .get(url)
            .basic_auth(&key_id, Some(secret.expose()))
            .send()
            .await;
        let body = crate::classify("razorpay", res).await?;
        found_payments(&body)
    }

    /// Razorpay orders cannot be cancelled; a payment that still arrives is handled as a
    /// payment after cancellation (stock taken again, or held for review).
    async fn close_checkout(&self, _: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        Ok(CheckoutClosed::NotApplicable)
    }
    /// `POST /v1/payments/{payment_id}/refund`, normal speed; see [`RazorpayOrders::refund_body`].
    #[tracing::instrument(skip_all, fields(order_id = %call.order_id, refund_id = %call.refund_id))]
    async fn refund(&self, call: &RefundCall) -> Result<ProviderRefund, ProviderError> {
        // The payment id becomes a path segment: anything but a plain id could address another
        // resource.
        if !crate::is_plain_id(&call.payment_id) {
            return Err(ProviderError::Rejected {
                status: 400,
                message: "razorpay: not a payment id".into(),
            });
        }
        let (key_id, secret) = self.credentials().await?;
        let url = format!(
            "{}/v1/payments/{}/refund",
            self.config.api_base.trim_end_matches('/'),
            call.payment_id
        );
        let res = self
            .http
            .post(url)
            .basic_auth(&key_id, Some(secret.expose()))
            // Razorpay replays an attempt only if the key and the body are both the same as the
            // first one: both are derived from the call alone.
            .header("X-Refund-Idempotency", Self::refund_idempotency_key(call))
            .json(&Self::refund_body(call))
            .send()
            .await;
        let body = crate::classify("razorpay", res)
            .await
            .map_err(crate::in_flight_is_retryable)?;
        refund_from(&body)
    }

    /// `GET /v1/payments/{payment_id}/refunds/{refund_id}`: the refund as Razorpay holds it now.
    #[tracing::instrument(skip_all, fields(refund = %provider_refund_id))]
    async fn get_refund(
        &self,
        payment_id: &str,
        provider_refund_id: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        // Both ids become path segments: anything but plain ids could address another resource.
        if !crate::is_plain_id(payment_id) || !crate::is_plain_id(provider_refund_id) {
            return Err(ProviderError::Rejected {
                status: 400,
                message: "razorpay: not a payment id and a refund id".into(),
            });
        }
        let (key_id, secret) = self.credentials().await?;
        let url = format!(
            "{}/v1/payments/{payment_id}/refunds/{provider_refund_id}",
            self.config.api_base.trim_end_matches('/'),
        );
        let res = self
            .http
            .get(url)
            .basic_auth(&key_id, Some(secret.expose()))
            .send()
            .await;
        let body = crate::classify("razorpay", res).await?;
        refund_from(&body)
    }

    /// `GET /v1/payments?from=…&to=…&count=100&skip=…`, then the same on `/v1/refunds`; see
    /// [`Listing`] for the cursor and [`backfill_item`] for what each entity becomes.
    #[tracing::instrument(skip_all, fields(cursor = ?query.cursor))]
    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        let at = Listing::parse(query.cursor.as_deref())?;
        let (key_id, secret) = self.credentials().await?;
        let url = format!(
            "{}/v1/{}?from={}&to={}&count={BACKFILL_PAGE}&skip={}",
            self.config.api_base.trim_end_matches('/'),
            at.entity.path(),
            query.since.unix_seconds(),
            query.until.unix_seconds(),
            at.skip
        );
        let res = self
            .http
            .get(url)
            .basic_auth(&key_id, Some(secret.expose()))
            .send()
            .await;
        let body = crate::classify("razorpay", res).await?;
        let listed = body["items"].as_array().ok_or_else(|| {
            ProviderError::Unavailable("razorpay: list answer without items".into())
        })?;
        let items = listed
            .iter()
            .filter_map(|entity| backfill_item(at.entity, entity))
            .collect();
        Ok(BackfillPage {
            items,
            next_cursor: at.next(listed.len()),
        })
    }
}

/// What a Razorpay backfill lists: its payments first, then its refunds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Payment,
    Refund,
}

impl Entity {
    fn path(self) -> &'static str {
        match self {
            Self::Payment => "payments",
            Self::Refund => "refunds",
        }
    }
}

/// Where a Razorpay backfill stands: the list and how many of it were read (`payments:200`).
/// Razorpay lists newest first, so an entity created meanwhile pushes the others down: a page
/// may show one again (a duplicate, harmless), never skip one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    pub entity: Entity,
    pub skip: u32,
}

impl Listing {
    /// The position a cursor names; no cursor is the first page of payments.
    pub fn parse(cursor: Option<&str>) -> Result<Self, ProviderError> {
        let Some(cursor) = cursor else {
            return Ok(Self {
                entity: Entity::Payment,
                skip: 0,
            });
        };
        let refused = || ProviderError::Rejected {
            status: 400,
            message: "razorpay: the cursor is not one this backfill returned".into(),
        };
        let (list, skip) = cursor.split_once(':').ok_or_else(refused)?;
        let entity = match list {
            "payments" => Entity::Payment,
            "refunds" => Entity::Refund,
            _ => return Err(refused()),
        };
        let skip: u32 = skip.parse().map_err(|_| refused())?;
        Ok(Self { entity, skip })
    }

    /// The cursor after a page of `listed` entities: a full page may have more behind it; after
    /// the payments come the refunds; after the refunds, nothing.
    pub fn next(self, listed: usize) -> Option<String> {
        if listed >= BACKFILL_PAGE as usize {
            let skip = self.skip.saturating_add(BACKFILL_PAGE);
            return Some(format!("{}:{skip}", self.entity.path()));
        }
        match self.entity {
            Entity::Payment => Some("refunds:0".into()),
            Entity::Refund => None,
        }
    }
}

/// A listed payment or refund as the webhook that reports its state, for the webhook's own
/// normaliser to read: a captured (or since refunded) payment as `payment.captured`, a failed
/// one as `payment.failed`, a processed or failed refund as `refund.processed` /
/// `refund.failed`. Its id, `backfill:<id>#<state>`, is stable, so listing it again is a
/// duplicate. Entities not final yet (`created`, `authorized`, a `pending` refund) carry
/// nothing to apply and are left for a later run, as is an entity without an id.
pub fn backfill_item(entity: Entity, item: &Value) -> Option<BackfillItem> {
    let (prefix, key) = match entity {
        Entity::Payment => ("pay_", "payment"),
        Entity::Refund => ("rfnd_", "refund"),
    };
    let Some(id) = item["id"].as_str().filter(|id| id.starts_with(prefix)) else {
        tracing::warn!(
            entity = key,
            "razorpay listed an entity without an id; left out"
        );
        return None;
    };
    let (event, state) = match (entity, item["status"].as_str()?) {
        (Entity::Payment, "captured" | "refunded") => ("payment.captured", "captured"),
        (Entity::Payment, "failed") => ("payment.failed", "failed"),
        (Entity::Refund, "processed") => ("refund.processed", "processed"),
        (Entity::Refund, "failed") => ("refund.failed", "failed"),
        _ => return None,
    };
    let body = json!({
        "entity": "event",
        "event": event,
        "contains": [key],
        "payload": { key: { "entity": item } },
        "created_at": item["created_at"],
    });
    Some(BackfillItem {
        event_id: format!("backfill:{id}#{state}"),
        body: body.to_string(),
    })
}

/// Razorpay refuses notes longer than 256 characters.
const NOTE_MAX: usize = 256;
/// The refund idempotency key must be at least 10 characters of `[A-Za-z0-9_-]`. The Refunds
/// API states no maximum, but its example is a 36-character UUID and Razorpay's other
/// idempotency header (`X-Payout-Idempotency`) allows 4 to 36: keys are kept within 36.
const IDEMPOTENCY_KEY_LEN: std::ops::RangeInclusive<usize> = 10..=36;

impl RazorpayOrders {
    /// The JSON body of the Create Normal Refund request. Our ids travel in `notes` so the
    /// refund webhooks name the ledger entry they settle; `receipt` is our refund id too.
    pub fn refund_body(call: &RefundCall) -> Value {
        let mut notes = json!({
            "refundId": call.refund_id,
            "orderId": call.order_id.as_str(),
        });
        if let Some(reason) = call
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            notes["reason"] = crate::truncated(reason, NOTE_MAX).into();
        }
        json!({
            "amount": call.amount.minor(),
            "speed": "normal",
            "receipt": call.refund_id,
            "notes": notes,
        })
    }

    /// The `X-Refund-Idempotency` value: the call's own key when Razorpay accepts it as it is
    /// (`refund-rf_` and a 26-character ULID is exactly 36), otherwise `refund-` and 29 base-62
    /// characters hashed from the refund id, so that any refund id still gives one stable,
    /// compliant key.
    pub fn refund_idempotency_key(call: &RefundCall) -> String {
        let key = call.idempotency_key();
        let compliant = IDEMPOTENCY_KEY_LEN.contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if compliant {
            key
        } else {
            format!("refund-{}", crate::derived(&call.refund_id, 29))
        }
    }

    async fn credentials(&self) -> Result<(String, Secret), ProviderError> {
        let secrets = self
            .secrets
            .provider(ProviderKind::Razorpay)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("razorpay: {e}")))?;
        match (secrets.key_id, secrets.api_secret) {
            (Some(key_id), Some(secret)) => Ok((key_id, secret)),
            _ => Err(ProviderError::Unavailable(
                "razorpay: no key id or key secret configured".into(),
            )),
        }
    }
}

/// Reads a Razorpay refund entity.
fn refund_from(body: &Value) -> Result<ProviderRefund, ProviderError> {
    let (id, amount, status) = crate::refund_parts("razorpay", body, "rfnd_")?;
    let status = match status {
        Some("processed") => ProviderRefundStatus::Succeeded,
        Some("failed") => ProviderRefundStatus::Failed,
        // `pending`, or a state Razorpay adds later: the refund webhooks will say how it ends.
        _ => ProviderRefundStatus::Pending,
    };
    Ok(ProviderRefund {
        provider_refund_id: id,
        status,
        amount,
        charge_id: None,
    })
}

/// Reads a collection of Razorpay payment entities. An item without a `pay_…` id, amount or
/// currency is left out; a collection of which nothing can be read (or no collection at all) is
/// `Unavailable`, since payments may exist that we cannot see.
fn found_payments(body: &Value) -> Result<Vec<FoundPayment>, ProviderError> {
    let items = body["items"].as_array().ok_or_else(|| {
        ProviderError::Unavailable("razorpay: payments answer without items".into())
    })?;
    let found: Vec<FoundPayment> = items.iter().filter_map(found_payment).collect();
    let reported = body["count"].as_u64().unwrap_or(0) > 0 || !items.is_empty();
    if found.is_empty() && reported {
        return Err(ProviderError::Unavailable(
            "razorpay: no readable payment among those reported".into(),
        ));
    }
    Ok(found)
}

fn found_payment(item: &Value) -> Option<FoundPayment> {
    let id = item["id"].as_str().filter(|id| id.starts_with("pay_"))?;
    let amount = crate::reported_money(&item["amount"], &item["currency"])?;
    let status = match item["status"].as_str() {
        // A refunded payment was captured first; its refunds are tracked on their own.
        Some("captured" | "refunded") => FoundPaymentStatus::Captured,
        Some("failed") => FoundPaymentStatus::Failed,
        // `created`, `authorized` (auto-capture still to come), or a state added later.
        _ => FoundPaymentStatus::Pending,
    };
    Some(FoundPayment {
        payment_id: id.to_owned(),
        amount,
        status,
    })
}
