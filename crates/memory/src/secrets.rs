//! Provider secrets from the environment: the local counterpart of the Secrets Manager source.

use async_trait::async_trait;
use oms_core::ports::{SecretError, SecretSource};
use oms_core::{ProviderKind, Secret};

/// Fixed secrets, read once at start-up. Each provider may list several webhook secrets
/// (current first, then the previous one during a rotation).
#[derive(Debug, Clone, Default)]
pub struct StaticSecrets {
    pub stripe_webhook: Vec<Secret>,
    pub razorpay_webhook: Vec<Secret>,
    pub razorpay_key_secret: Option<Secret>,
}

impl StaticSecrets {
    /// Parses a comma-separated list (`new,old`) into secrets, skipping blanks.
    pub fn list(raw: &str) -> Vec<Secret> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect()
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn webhook_secrets(&self, provider: ProviderKind) -> Result<Vec<Secret>, SecretError> {
        Ok(match provider {
            ProviderKind::Stripe => self.stripe_webhook.clone(),
            ProviderKind::Razorpay => self.razorpay_webhook.clone(),
        })
    }

    async fn razorpay_key_secret(&self) -> Result<Option<Secret>, SecretError> {
        Ok(self.razorpay_key_secret.clone())
    }
}
