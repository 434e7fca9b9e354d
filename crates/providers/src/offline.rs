//! The offline **stand-in** for both providers, for the dev server and tests: no network, ids
//! shaped like the real ones (`order_…`, `cs_test_…`) derived from our order id, and a checkout
//! URL on the local server. It never takes money; payments are simulated by signed webhooks
//! (`cargo run -p dev-server -- pay …`).

use async_trait::async_trait;
use oms_core::ports::{CheckoutClosed, CheckoutRequest, PaymentProvider, ProviderError};
use oms_core::{PaymentInfo, ProviderKind};
use sha2::{Digest, Sha256};

pub struct OfflineProvider {
    kind: ProviderKind,
    razorpay_key_id: String,
    checkout_base: String,
}

impl OfflineProvider {
    /// `checkout_base` is the local page that stands in for the hosted checkout.
    pub fn new(kind: ProviderKind, razorpay_key_id: &str, checkout_base: &str) -> Self {
        Self {
            kind,
            razorpay_key_id: razorpay_key_id.to_owned(),
            checkout_base: checkout_base.trim_end_matches('/').to_owned(),
        }
    }
}

/// Base-62 characters derived from the order id: the same order always gets the same id.
fn derived(order_id: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut round = 0u32;
    while out.len() < len {
        let digest = Sha256::new()
            .chain_update(order_id.as_bytes())
            .chain_update(round.to_be_bytes())
            .finalize();
        for b in digest.iter() {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
        }
        round += 1;
    }
    out
}

#[async_trait]
impl PaymentProvider for OfflineProvider {
    fn kind(&self) -> ProviderKind {
        self.kind
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        let seed = req.order_id.as_str();
        Ok(match self.kind {
            ProviderKind::Razorpay => PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: format!("order_{}", derived(seed, 14)),
                provider_payment_id: None,
                checkout_url: None,
                key_id: Some(self.razorpay_key_id.clone()),
                captured: None,
            },
            ProviderKind::Stripe => {
                let session = format!("cs_test_{}", derived(seed, 58));
                PaymentInfo {
                    provider: ProviderKind::Stripe,
                    checkout_url: Some(format!("{}/{session}", self.checkout_base)),
                    provider_order_id: session,
                    provider_payment_id: None,
                    key_id: None,
                    captured: None,
                }
            }
        })
    }

    async fn close_checkout(&self, _: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        Ok(match self.kind {
            ProviderKind::Stripe => CheckoutClosed::Expired,
            ProviderKind::Razorpay => CheckoutClosed::NotApplicable,
        })
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
