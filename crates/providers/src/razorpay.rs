//! Razorpay Orders (`POST /v1/orders`, JSON, HTTP Basic with key id and key secret). The
//! storefront opens Razorpay Checkout with the returned `order_…` id and our public key id; our
//! order id travels in `notes.orderId` and `receipt`.

use async_trait::async_trait;
use std::sync::Arc;

use oms_core::ports::{
    CheckoutClosed, CheckoutRequest, PaymentProvider, ProviderError, SecretSource,
};
use oms_core::{PaymentInfo, ProviderKind};
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
        let secrets = self
            .secrets
            .provider(ProviderKind::Razorpay)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("razorpay: {e}")))?;
        let (Some(key_id), Some(secret)) = (secrets.key_id, secrets.api_secret) else {
            return Err(ProviderError::Unavailable(
                "razorpay: no key id or key secret configured".into(),
            ));
        };
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

    /// Razorpay orders cannot be cancelled; a payment that still arrives is handled as a
    /// payment after cancellation (stock taken again, or held for review).
    async fn close_checkout(&self, _: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        Ok(CheckoutClosed::NotApplicable)
    }
    async fn refund(
        &self,
        _call: &oms_core::ports::RefundCall,
    ) -> Result<oms_core::ports::ProviderRefund, ProviderError> {
        Err(ProviderError::Rejected {
            status: 501,
            message: "refunds are being built (issue 16)".into(),
        })
    }
}
