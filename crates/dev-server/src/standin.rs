//! The offline payment providers as the dev server runs them: **stand-ins**, not the providers.
//! Each answers checkout and refund calls the way its provider does ([`OfflineProvider`]), and
//! then does what the provider does next: delivers the refund's webhook, signed with the local
//! webhook secret, to this server (`refund.updated` with `succeeded` from Stripe,
//! `refund.processed` from Razorpay, each naming our refund id in its metadata/notes), and
//! records the refund settled, so a lookup (`get_refund`) says so too. So a refund started with
//! the API completes locally exactly as it does in production. With delivery off, the refund
//! stays pending at the stand-in until a test settles it (`inner.settle_refund`) — a webhook
//! that never comes, which only the sweep's reconciliation finds.
//!
//! Every webhook a stand-in sends, or would have sent (a payment whose webhook is "lost", a
//! refund's while delivery is off), is recorded with whether it was delivered, so a backfill
//! finds it through the provider port as it would through the provider's list APIs.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use oms_core::ports::{
    BackfillPage, BackfillQuery, CheckoutClosed, CheckoutRequest, Clock, FoundPayment,
    FoundPaymentStatus, PaymentProvider, PaymentProviders, ProviderError, ProviderRefund,
    ProviderRefundStatus, RefundCall,
};
use oms_core::webhook::simulate::{self, RefundSpec};
use oms_core::{Money, PaymentInfo, ProviderKind, Secret};
use oms_providers::offline::{OfflineProvider, SentEvent};

/// Where and how the stand-ins deliver their webhooks.
#[derive(Clone)]
pub struct Delivery {
    /// `http://127.0.0.1:<port>/api/v1/webhooks`.
    pub webhooks_url: String,
    pub stripe_secret: Option<Secret>,
    pub razorpay_secret: Option<Secret>,
    /// The server's clock: Stripe signatures carry its time.
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
}

/// How a customer's attempt at the stand-in's checkout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// A provider's webhook delivery: the route under `webhooks_url`, its headers and its body.
type Webhook = (&'static str, Vec<(&'static str, String)>, String);

/// Both stand-ins, for a host (tests) to inspect and steer.
#[derive(Clone)]
pub struct StandIns {
    pub stripe: Arc<StandIn>,
    pub razorpay: Arc<StandIn>,
}

impl StandIns {
    pub fn new(key_id: &str, checkout_base: &str, delivery: Delivery) -> Self {
        let one = |kind| {
            Arc::new(StandIn {
                inner: OfflineProvider::new(kind, key_id, checkout_base),
                delivery: delivery.clone(),
                delivering: AtomicBool::new(true),
                first: AtomicBool::new(false),
                delivered: Mutex::new(HashSet::new()),
            })
        };
        Self {
            stripe: one(ProviderKind::Stripe),
            razorpay: one(ProviderKind::Razorpay),
        }
    }

    pub fn providers(&self) -> PaymentProviders {
        PaymentProviders::new(vec![self.stripe.clone(), self.razorpay.clone()])
    }

    pub fn get(&self, kind: ProviderKind) -> &StandIn {
        match kind {
            ProviderKind::Stripe => &self.stripe,
            ProviderKind::Razorpay => &self.razorpay,
        }
    }
}

/// One provider's stand-in: the offline provider plus its webhook delivery.
pub struct StandIn {
    pub inner: OfflineProvider,
    delivery: Delivery,
    delivering: AtomicBool,
    first: AtomicBool,
    /// Refunds whose webhook was sent: the provider sends it once, not once per retried call.
    delivered: Mutex<HashSet<String>>,
}

impl StandIn {
    /// Whether refund webhooks are delivered (on by default). Tests turn it off to deliver
    /// events themselves in an order they choose.
    pub fn set_delivering(&self, on: bool) {
        self.delivering.store(on, Ordering::SeqCst);
    }

    /// Whether the webhook is delivered (and processed) before the refund call is answered, as
    /// a fast provider's can be: the webhook then settles the refund before its answer is
    /// recorded. Off by default (delivered concurrently).
    pub fn set_delivering_first(&self, on: bool) {
        self.first.store(on, Ordering::SeqCst);
    }

    /// A customer pays (or fails to pay) at this stand-in's checkout for `order_id`: the
    /// payment is recorded where the provider would keep it — so reconciliation finds it
    /// through `find_payments`, as in production — and, when `deliver`, the provider's signed
    /// webhook is posted to the server (`false`: the webhook is lost). Returns the payment id
    /// and whether the webhook was delivered.
    pub async fn pay(
        &self,
        order_id: &str,
        checkout: &str,
        amount: Money,
        outcome: Outcome,
        deliver: bool,
    ) -> (String, bool) {
        let stem: String = checkout
            .trim_start_matches("cs_test_")
            .trim_start_matches("order_")
            .chars()
            .take(14)
            .collect();
        let payment_id = match self.inner.kind() {
            ProviderKind::Stripe => format!("pi_test_{stem}"),
            ProviderKind::Razorpay => format!("pay_{stem}"),
        };
        let status = match outcome {
            Outcome::Succeeded => FoundPaymentStatus::Captured,
            Outcome::Failed => FoundPaymentStatus::Failed,
        };
        self.inner.record_payment(
            checkout,
            FoundPayment {
                payment_id: payment_id.clone(),
                amount,
                status,
            },
        );
        let Some((path, headers, body)) =
            self.payment_webhook(order_id, checkout, &payment_id, amount, outcome)
        else {
            return (payment_id, false);
        };
        let event_id = Self::event_id(&headers, &body);
        let created = self.delivery.clock.now();
        let delivered = if deliver {
            let url = format!("{}/{path}", self.delivery.webhooks_url);
            Self::deliver(self.delivery.http.clone(), url, headers, body.clone()).await
        } else {
            false
        };
        self.inner.record_event(SentEvent {
            event_id,
            body,
            created,
            delivered,
        });
        (payment_id, deliver)
    }

    /// A webhook's event id: Razorpay's header, Stripe's body `id`.
    fn event_id(headers: &[(&'static str, String)], body: &str) -> String {
        headers
            .iter()
            .find(|(name, _)| *name == "x-razorpay-event-id")
            .map(|(_, v)| v.clone())
            .or_else(|| {
                serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
            })
            .unwrap_or_default()
    }

    /// The signed webhook the provider sends for a payment at its checkout.
    fn payment_webhook(
        &self,
        order_id: &str,
        checkout: &str,
        payment_id: &str,
        amount: Money,
        outcome: Outcome,
    ) -> Option<Webhook> {
        let event_id = format!("evt_{payment_id}_{outcome:?}");
        match self.inner.kind() {
            ProviderKind::Stripe => {
                let secret = self.delivery.stripe_secret.as_ref()?;
                let t = self.delivery.clock.now().unix_seconds();
                let body = match outcome {
                    Outcome::Succeeded => simulate::stripe_session_paid(
                        &event_id,
                        "checkout.session.completed",
                        checkout,
                        payment_id,
                        Some(order_id),
                        amount,
                        t,
                    ),
                    Outcome::Failed => simulate::stripe_intent_failed(
                        &event_id,
                        payment_id,
                        Some(order_id),
                        amount,
                        t,
                    ),
                };
                let signature = simulate::stripe_signature(secret, t, &body);
                Some(("stripe", vec![("stripe-signature", signature)], body))
            }
            ProviderKind::Razorpay => {
                let secret = self.delivery.razorpay_secret.as_ref()?;
                let kind = match outcome {
                    Outcome::Succeeded => "payment.captured",
                    Outcome::Failed => "payment.failed",
                };
                let body = simulate::razorpay_payment_event(
                    kind,
                    payment_id,
                    checkout,
                    Some(order_id),
                    amount,
                );
                let signature = simulate::razorpay_signature(secret, &body);
                let headers = vec![
                    ("x-razorpay-signature", signature),
                    ("x-razorpay-event-id", event_id),
                ];
                Some(("razorpay", headers, body))
            }
        }
    }

    /// The signed webhook the provider sends once `answer` has succeeded: `(path, headers,
    /// body)`, or `None` without a webhook secret.
    fn refund_webhook(&self, call: &RefundCall, answer: &ProviderRefund) -> Option<Webhook> {
        let spec = |status| RefundSpec {
            id: &answer.provider_refund_id,
            payment_id: &call.payment_id,
            amount: answer.amount,
            status,
            our_id: Some(&call.refund_id),
        };
        let event_id = format!("evt_{}", answer.provider_refund_id);
        match self.inner.kind() {
            ProviderKind::Stripe => {
                let secret = self.delivery.stripe_secret.as_ref()?;
                let t = self.delivery.clock.now().unix_seconds();
                let body = simulate::stripe_refund_event(
                    &event_id,
                    "refund.updated",
                    &spec("succeeded"),
                    answer.charge_id.as_deref().unwrap_or_default(),
                    Some(call.order_id.as_str()),
                    t,
                );
                let signature = simulate::stripe_signature(secret, t, &body);
                Some(("stripe", vec![("stripe-signature", signature)], body))
            }
            ProviderKind::Razorpay => {
                let secret = self.delivery.razorpay_secret.as_ref()?;
                let body = simulate::razorpay_refund_event(
                    "refund.processed",
                    &spec("processed"),
                    "",
                    Some(call.order_id.as_str()),
                    answer.amount,
                );
                let signature = simulate::razorpay_signature(secret, &body);
                let headers = vec![
                    ("x-razorpay-signature", signature),
                    ("x-razorpay-event-id", event_id),
                ];
                Some(("razorpay", headers, body))
            }
        }
    }

    /// Posts the webhook as the provider does: again after a failure, a few times. `true` once
    /// the server acknowledged it.
    async fn deliver(
        http: reqwest::Client,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: String,
    ) -> bool {
        for attempt in 0..5u32 {
            let mut req = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone());
            for (name, value) in &headers {
                req = req.header(*name, value);
            }
            match req.send().await {
                Ok(res) if res.status().is_success() => return true,
                Ok(res) => {
                    tracing::warn!(status = %res.status(), attempt, "stand-in webhook refused")
                }
                Err(e) => tracing::warn!(error = %e, attempt, "stand-in webhook not delivered"),
            }
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
        false
    }
}

#[async_trait]
impl PaymentProvider for StandIn {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        self.inner.create_checkout(req).await
    }

    async fn close_checkout(&self, payment: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        self.inner.close_checkout(payment).await
    }

    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<oms_core::ports::FoundPayment>, ProviderError> {
        self.inner.find_payments(payment).await
    }

    /// Makes the refund, then sends its webhook once per refund (recorded either way; while
    /// delivery is off it counts as lost).
    async fn refund(&self, call: &RefundCall) -> Result<ProviderRefund, ProviderError> {
        let answer = self.inner.refund(call).await?;
        let delivering = self.delivering.load(Ordering::SeqCst);
        let first_time = delivering
            && self
                .delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(call.refund_id.clone());
        if (first_time || !delivering)
            && let Some((path, headers, body)) = self.refund_webhook(call, &answer)
        {
            self.inner.record_event(SentEvent {
                event_id: Self::event_id(&headers, &body),
                body: body.clone(),
                created: self.delivery.clock.now(),
                delivered: delivering,
            });
            if delivering {
                // The provider settles the refund as it sends the webhook saying so.
                self.inner
                    .settle_refund(&answer.provider_refund_id, ProviderRefundStatus::Succeeded);
                let url = format!("{}/{path}", self.delivery.webhooks_url);
                let delivery = Self::deliver(self.delivery.http.clone(), url, headers, body);
                if self.first.load(Ordering::SeqCst) {
                    delivery.await;
                } else {
                    tokio::spawn(delivery);
                }
            }
        }
        Ok(answer)
    }

    async fn get_refund(
        &self,
        payment_id: &str,
        provider_refund_id: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        self.inner.get_refund(payment_id, provider_refund_id).await
    }

    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        self.inner.backfill_page(query).await
    }
}
