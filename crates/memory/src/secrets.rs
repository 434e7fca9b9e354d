//! Provider secrets from the environment: the local counterpart of the Secrets Manager source.

use async_trait::async_trait;
use oms_core::ports::{ProviderSecrets, SecretError, SecretSource};
use oms_core::{ProviderKind, Secret};

/// Fixed secrets, read once at start-up.
#[derive(Debug, Clone, Default)]
pub struct StaticSecrets {
    pub stripe: ProviderSecrets,
    pub razorpay: ProviderSecrets,
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
    async fn provider(&self, kind: ProviderKind) -> Result<ProviderSecrets, SecretError> {
        Ok(match kind {
            ProviderKind::Stripe => self.stripe.clone(),
            ProviderKind::Razorpay => self.razorpay.clone(),
        })
    }
}

/// No credentials at all: every field is missing (a host that does not use them, or a
/// deployment that configured none — a webhook checking a token then accepts nothing).
#[derive(Debug, Clone, Default)]
pub struct NoCredentials;

#[async_trait]
impl oms_core::ports::CredentialSource for NoCredentials {
    async fn field(&self, field: &str) -> Result<Secret, oms_core::ports::CredentialError> {
        Err(oms_core::ports::CredentialError(format!(
            "no '{field}' configured"
        )))
    }

    async fn optional_field(
        &self,
        _: &str,
    ) -> Result<Option<Secret>, oms_core::ports::CredentialError> {
        Ok(None)
    }
}
