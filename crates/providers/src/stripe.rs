//! Stripe Checkout Sessions (`POST /v1/checkout/sessions`, form-encoded, secret key as bearer).
//! The order id travels in `client_reference_id`, `metadata[orderId]` and the PaymentIntent's
//! metadata, so every later webhook object can be linked back to the order. Refunds
//! (`POST /v1/refunds`) carry our refund and order ids in their metadata, and are looked up
//! again (`GET /v1/refunds/{id}`) when their webhook is late. A lost payment is looked up by
//! retrieving the session with its PaymentIntent expanded. A backfill lists the account's
//! events (`GET /v1/events`), each exactly the body its webhook carries.

use std::time::Duration;

use async_trait::async_trait;
use std::sync::Arc;

use oms_core::ports::{
    BACKFILL_PAGE, BackfillItem, BackfillPage, BackfillQuery, CheckoutClosed, CheckoutRequest,
    FoundPayment, FoundPaymentStatus, PaymentProvider, ProviderError, ProviderRefund,
    ProviderRefundStatus, RefundCall, SecretSource,
};
use oms_core::{PaymentInfo, ProviderKind};
use serde_json::Value;

/// Stripe's non-secret settings; the secret key comes from the [`SecretSource`] at each call,
/// so a rotation needs no redeploy.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com`, or a local stub in tests.
    pub api_base: String,
    /// Where Stripe sends the buyer after paying (`{CHECKOUT_SESSION_ID}` is substituted).
    pub success_url: String,
    pub cancel_url: String,
}

pub struct StripeCheckout {
    http: reqwest::Client,
    config: StripeConfig,
    secrets: Arc<dyn SecretSource>,
}

/// Stripe accepts a session expiry between 30 minutes and 24 hours after creation.
const MIN_SESSION: Duration = Duration::from_secs(31 * 60);
const MAX_SESSION: Duration = Duration::from_secs(23 * 60 * 60 + 55 * 60);

impl StripeCheckout {
    pub fn new(
        http: reqwest::Client,
        config: StripeConfig,
        secrets: Arc<dyn SecretSource>,
    ) -> Self {
        Self {
            http,
            config,
            secrets,
        }
    }

    /// The form fields of the Create Session request.
    pub fn form(&self, req: &CheckoutRequest) -> Vec<(String, String)> {
        let expires = req
            .expires_at
            .max(req.created_at.plus(MIN_SESSION))
            .min(req.created_at.plus(MAX_SESSION));
        let mut f: Vec<(String, String)> = vec![
            ("mode".into(), "payment".into()),
            ("client_reference_id".into(), req.order_id.to_string()),
            ("metadata[orderId]".into(), req.order_id.to_string()),
            ("metadata[orderNumber]".into(), req.order_number.to_string()),
            (
                "payment_intent_data[metadata][orderId]".into(),
                req.order_id.to_string(),
            ),
            ("customer_email".into(), req.customer.email.as_str().into()),
            ("success_url".into(), self.config.success_url.clone()),
            ("cancel_url".into(), self.config.cancel_url.clone()),
            ("expires_at".into(), expires.unix_seconds().to_string()),
        ];
        for (i, line) in req.lines.iter().enumerate() {
            let p = format!("line_items[{i}]");
            f.push((format!("{p}[quantity]"), line.quantity.get().to_string()));
            f.push((
                format!("{p}[price_data][currency]"),
                line.unit_price.currency().lowercase(),
            ));
            f.push((
                format!("{p}[price_data][unit_amount]"),
                line.unit_price.minor().to_string(),
            ));
            f.push((
                format!("{p}[price_data][product_data][name]"),
                line.name.clone(),
            ));
            f.push((
                format!("{p}[price_data][product_data][metadata][sku]"),
                line.sku.to_string(),
            ));
        }
        f
    }
}

#[async_trait]
impl PaymentProvider for StripeCheckout {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Stripe
    }

    #[tracing::instrument(skip_all, fields(order_id = %req.order_id))]
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        let key = crate::api_secret(self.secrets.as_ref(), ProviderKind::Stripe).await?;
        let url = format!(
            "{}/v1/checkout/sessions",
            self.config.api_base.trim_end_matches('/')
        );
        let res = self
            .http
            .post(url)
            .bearer_auth(key.expose())
            // Retrying our own request must not open a second session.
            .header(
                "Idempotency-Key",
                format!("checkout-session-{}", req.order_id),
            )
            .form(&self.form(req))
            .send()
            .await;
        let body = crate::classify("stripe", res).await?;
        let id = body["id"]
            .as_str()
            .filter(|id| id.starts_with("cs_"))
            .ok_or_else(|| ProviderError::Unavailable("stripe: session without an id".into()))?;
        Ok(PaymentInfo {
            provider: ProviderKind::Stripe,
            provider_order_id: id.to_owned(),
            provider_payment_id: body["payment_intent"].as_str().map(str::to_owned),
            checkout_url: body["url"].as_str().map(str::to_owned),
            key_id: None,
            captured: None,
        })
    }

    /// `GET /v1/checkout/sessions/{id}?expand[]=payment_intent`: the session says whether it
    /// was paid, its expanded PaymentIntent whether an attempt failed; see [`found_payments`].
    #[tracing::instrument(skip_all, fields(session = %payment.provider_order_id))]
    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<FoundPayment>, ProviderError> {
        if !crate::is_plain_id(&payment.provider_order_id) {
            return Err(ProviderError::Rejected {
                status: 400,
                message: "stripe: not a checkout session id".into(),
            });
        }
        let key = crate::api_secret(self.secrets.as_ref(), ProviderKind::Stripe).await?;
        // `expand[]` percent-encoded, as a form encoder writes it (reqwest's `query` is not
        // built in here).
        let url = format!(
            "{}/v1/checkout/sessions/{}?expand%5B%5D=payment_intent",
            self.config.api_base.trim_end_matches('/'),
            payment.provider_order_id
        );
        let res = self.http.get(url).bearer_auth(key.expose()).send().await;
        let session = crate::classify("stripe", res).await?;
        found_payments(&session)
    }

    /// `POST /v1/checkout/sessions/{id}/expire`; a session that cannot be expired is looked up:
    /// `complete` means it was paid meanwhile.
    #[tracing::instrument(skip_all, fields(session = %payment.provider_order_id))]
    async fn close_checkout(&self, payment: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        let key = crate::api_secret(self.secrets.as_ref(), ProviderKind::Stripe).await?;
        let base = format!(
            "{}/v1/checkout/sessions/{}",
            self.config.api_base.trim_end_matches('/'),
            payment.provider_order_id
        );
        let res = self
            .http
            .post(format!("{base}/expire"))
            .bearer_auth(key.expose())
            .send()
            .await;
        match crate::classify("stripe", res).await {
            Ok(_) => Ok(CheckoutClosed::Expired),
            Err(ProviderError::Rejected { .. }) => {
                let res = self.http.get(&base).bearer_auth(key.expose()).send().await;
                let session = crate::classify("stripe", res).await?;
                match session["status"].as_str() {
                    Some("complete") => Ok(CheckoutClosed::AlreadyPaid),
                    Some("expired") => Ok(CheckoutClosed::Expired),
                    other => Err(ProviderError::Rejected {
                        status: 400,
                        message: format!("stripe: session cannot be expired (status {other:?})"),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }
    /// `POST /v1/refunds` on the PaymentIntent; see [`StripeCheckout::refund_form`].
    #[tracing::instrument(skip_all, fields(order_id = %call.order_id, refund_id = %call.refund_id))]
    async fn refund(&self, call: &RefundCall) -> Result<ProviderRefund, ProviderError> {
        let key = crate::api_secret(self.secrets.as_ref(), ProviderKind::Stripe).await?;
        let url = format!("{}/v1/refunds", self.config.api_base.trim_end_matches('/'));
        let res = self
            .http
            .post(url)
            .bearer_auth(key.expose())
            // Every attempt of one refund carries the same key and the same form, so Stripe
            // answers a retry with the refund it already made instead of refunding twice.
            .header("Idempotency-Key", call.idempotency_key())
            .form(&Self::refund_form(call))
            .send()
            .await;
        let body = crate::classify("stripe", res)
            .await
            .map_err(crate::in_flight_is_retryable)?;
        refund_from(&body)
    }

    /// `GET /v1/refunds/{id}`: the refund as Stripe holds it now (the PaymentIntent is not
    /// needed to address it).
    #[tracing::instrument(skip_all, fields(refund = %provider_refund_id))]
    async fn get_refund(
        &self,
        _payment_id: &str,
        provider_refund_id: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        // The id becomes a path segment: anything but a plain id could address another
        // resource.
        if !crate::is_plain_id(provider_refund_id) {
            return Err(ProviderError::Rejected {
                status: 400,
                message: "stripe: not a refund id".into(),
            });
        }
        let key = crate::api_secret(self.secrets.as_ref(), ProviderKind::Stripe).await?;
        let url = format!(
            "{}/v1/refunds/{provider_refund_id}",
            self.config.api_base.trim_end_matches('/')
        );
        let res = self.http.get(url).bearer_auth(key.expose()).send().await;
        let body = crate::classify("stripe", res).await?;
        refund_from(&body)
    }

    /// `GET /v1/events?created[gte]=…&created[lte]=…&limit=100[&delivery_success=false]
    /// [&starting_after=evt_…]`: the account's events, newest first; see [`events_page`].
    #[tracing::instrument(skip_all, fields(cursor = ?query.cursor))]
    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        let url = format!(
            "{}/v1/events?{}",
            self.config.api_base.trim_end_matches('/'),
            Self::events_query(query)?
        );
        let key = crate::api_secret(self.secrets.as_ref(), ProviderKind::Stripe).await?;
        let res = self.http.get(url).bearer_auth(key.expose()).send().await;
        let body = crate::classify("stripe", res).await?;
        events_page(&body)
    }
}

impl StripeCheckout {
    /// The query string of the List Events request, brackets percent-encoded as a form encoder
    /// writes them. The cursor is an event id Stripe gave (`evt_…`), nothing else.
    pub fn events_query(query: &BackfillQuery) -> Result<String, ProviderError> {
        let mut q = format!(
            "created%5Bgte%5D={}&created%5Blte%5D={}&limit={BACKFILL_PAGE}",
            query.since.unix_seconds(),
            query.until.unix_seconds()
        );
        if query.undelivered_only {
            q.push_str("&delivery_success=false");
        }
        if let Some(cursor) = &query.cursor {
            if !(cursor.starts_with("evt_") && crate::is_plain_id(cursor)) {
                return Err(ProviderError::Rejected {
                    status: 400,
                    message: "stripe: the cursor is not an event id this backfill returned".into(),
                });
            }
            q.push_str("&starting_after=");
            q.push_str(cursor);
        }
        Ok(q)
    }
}

/// Reads a list of Stripe events: each item is the event object exactly as its webhook carries
/// it. More to come (`has_more`) continues after the last one. An event without an `evt_…` id
/// cannot be deduplicated: the page is `Unavailable` (outcome unknown), never half-applied.
fn events_page(body: &Value) -> Result<BackfillPage, ProviderError> {
    let data = body["data"].as_array().ok_or_else(|| {
        ProviderError::Unavailable("stripe: events answer without a data list".into())
    })?;
    let items = data
        .iter()
        .map(|event| {
            let id = event["id"]
                .as_str()
                .filter(|id| id.starts_with("evt_"))
                .ok_or_else(|| ProviderError::Unavailable("stripe: event without an id".into()))?;
            Ok(BackfillItem {
                event_id: id.to_owned(),
                body: event.to_string(),
            })
        })
        .collect::<Result<Vec<_>, ProviderError>>()?;
    let next_cursor = match (body["has_more"].as_bool(), items.last()) {
        (Some(true), Some(last)) => Some(last.event_id.clone()),
        _ => None,
    };
    Ok(BackfillPage { items, next_cursor })
}

/// Stripe refuses metadata values longer than 500 characters.
const METADATA_VALUE_MAX: usize = 500;

impl StripeCheckout {
    /// The form fields of the Create Refund request. Our ids travel in `metadata` so the refund
    /// webhooks name the ledger entry they settle. The operator's free text goes to
    /// `metadata[reason]` (cut to Stripe's limit), never to Stripe's `reason`, which only takes
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    pub fn refund_form(call: &RefundCall) -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = vec![
            ("payment_intent".into(), call.payment_id.clone()),
            ("amount".into(), call.amount.minor().to_string()),
            ("metadata[refundId]".into(), call.refund_id.clone()),
            ("metadata[orderId]".into(), call.order_id.to_string()),
        ];
        if let Some(reason) = call
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            f.push((
                "metadata[reason]".into(),
                crate::truncated(reason, METADATA_VALUE_MAX).to_owned(),
            ));
        }
        f
    }
}

/// Reads a Stripe Refund object.
fn refund_from(body: &Value) -> Result<ProviderRefund, ProviderError> {
    let (id, amount, status) = crate::refund_parts("stripe", body, "re_")?;
    let status = match status {
        Some("succeeded") => ProviderRefundStatus::Succeeded,
        Some("failed" | "canceled") => ProviderRefundStatus::Failed,
        // `pending`, `requires_action`, and whatever Stripe adds later: not settled yet, the
        // refund webhooks will say how it ends.
        _ => ProviderRefundStatus::Pending,
    };
    Ok(ProviderRefund {
        provider_refund_id: id,
        status,
        amount,
        charge_id: body["charge"].as_str().map(str::to_owned),
    })
}

/// Reads a Checkout Session retrieved with its PaymentIntent expanded (a bare `pi_…` id is
/// read too). `paid` is a captured payment; a failed attempt shows on the PaymentIntent
/// (`requires_payment_method` with a `last_payment_error`, or `canceled`); a `complete` but
/// `unpaid` session has an asynchronous payment still settling. Otherwise nothing was paid:
/// empty (an open session has no PaymentIntent until the buyer confirms). A payment whose id or
/// amount cannot be read is `Unavailable`: the outcome is unknown.
fn found_payments(session: &Value) -> Result<Vec<FoundPayment>, ProviderError> {
    let intent = &session["payment_intent"];
    let intent_id = intent
        .as_str()
        .or_else(|| intent["id"].as_str())
        .filter(|id| id.starts_with("pi_"));
    let attempt_failed = match intent["status"].as_str() {
        Some("canceled") => true,
        Some("requires_payment_method") => !intent["last_payment_error"].is_null(),
        _ => false,
    };
    let status = match (
        session["status"].as_str(),
        session["payment_status"].as_str(),
    ) {
        (_, Some("paid")) => FoundPaymentStatus::Captured,
        _ if intent_id.is_none() => return Ok(Vec::new()),
        _ if attempt_failed => FoundPaymentStatus::Failed,
        (Some("complete"), Some("unpaid")) => FoundPaymentStatus::Pending,
        _ => return Ok(Vec::new()),
    };
    let unreadable =
        |what: &str| ProviderError::Unavailable(format!("stripe: session payment without {what}"));
    let payment_id = intent_id.ok_or_else(|| unreadable("a payment intent"))?;
    let amount = crate::reported_money(&session["amount_total"], &session["currency"])
        .ok_or_else(|| unreadable("a readable amount"))?;
    Ok(vec![FoundPayment {
        payment_id: payment_id.to_owned(),
        amount,
        status,
    }])
}
