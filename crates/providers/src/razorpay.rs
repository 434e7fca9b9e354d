//! Razorpay Orders (`POST /v1/orders`, JSON, HTTP Basic with key id and key secret). The
//! storefront opens Razorpay Checkout with the returned `order_…` id and our public key id; our
//! order id travels in `notes.orderId` and `receipt`.

use async_trait::async_trait;
use oms_core::ports::{CheckoutRequest, PaymentProvider, ProviderError};
use oms_core::{PaymentInfo, ProviderKind, Secret};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct RazorpayConfig {
    /// Public key id (`rzp_live_…` / `rzp_test_…`), also handed to storefronts.
    pub key_id: String,
    pub key_secret: Secret,
    /// `https://api.razorpay.com`, or a local stub in tests.
    pub api_base: String,
}

pub struct RazorpayOrders {
    http: reqwest::Client,
    config: RazorpayConfig,
}

impl RazorpayOrders {
    pub fn new(http: reqwest::Client, config: RazorpayConfig) -> Self {
        Self { http, config }
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
        let url = format!("{}/v1/orders", self.config.api_base.trim_end_matches('/'));
        let res = self
            .http
            .post(url)
            .basic_auth(&self.config.key_id, Some(self.config.key_secret.expose()))
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
            key_id: Some(self.config.key_id.clone()),
            captured: None,
        })
    }
}
