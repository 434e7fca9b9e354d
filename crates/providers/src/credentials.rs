//! Fixed integration credentials, from the environment (local runs, dry runs, or a deployment
//! without a Secrets Manager document for the integration). In AWS the worker reads them from
//! Secrets Manager instead (`oms_aws::SecretsManagerCredentials`).

use std::collections::HashMap;

use async_trait::async_trait;
use oms_core::Secret;
pub use oms_core::ports::{CredentialError, CredentialSource};

#[derive(Debug, Default)]
pub struct FixedCredentials(HashMap<String, Secret>);

impl FixedCredentials {
    /// The given fields; empty values are left out (as if unset).
    pub fn new<const N: usize>(fields: [(&str, String); N]) -> Self {
        Self(
            fields
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_owned(), Secret::new(v)))
                .collect(),
        )
    }
}

#[async_trait]
impl CredentialSource for FixedCredentials {
    async fn field(&self, field: &str) -> Result<Secret, CredentialError> {
        self.0
            .get(field)
            .cloned()
            .ok_or_else(|| CredentialError(format!("no '{field}' configured")))
    }

    async fn optional_field(&self, field: &str) -> Result<Option<Secret>, CredentialError> {
        Ok(self.0.get(field).cloned())
    }
}
