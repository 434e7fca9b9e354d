//! Provider secrets from Secrets Manager, cached in-process for `SECRETS_TTL_SECONDS` (≤ 900)
//! so a rotated secret is picked up without a redeploy, and a Secrets Manager hiccup does not
//! take webhooks down: an expired value is kept (with a warning) until a fetch succeeds.
//!
//! Secret shapes (JSON `SecretString`):
//! - Stripe: `{"secretKey":"sk_…","webhookSecret":"whsec_…","previousWebhookSecret":"whsec_…"?}`
//! - Razorpay: `{"keyId":"rzp_…","keySecret":"…","webhookSecret":"…","previousWebhookSecret":"…"?}`
//!
//! - Shiprocket: `{"email":"…","password":"…"}`; WhatsApp: `{"token":"…"}`
//!
//! A provider without an ARN falls back to the secrets given from the environment.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use oms_core::ports::{
    Clock, CredentialError, CredentialSource, ProviderSecrets, SecretError, SecretSource,
};
use oms_core::{ProviderKind, Secret, Timestamp};
use serde::Deserialize;
use tokio::sync::Mutex;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretDoc {
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    key_secret: Option<String>,
    #[serde(default)]
    webhook_secret: Option<String>,
    #[serde(default)]
    previous_webhook_secret: Option<String>,
}

/// Parses a provider's secret document.
pub fn parse_secret(kind: ProviderKind, json: &str) -> Result<ProviderSecrets, SecretError> {
    let doc: SecretDoc = serde_json::from_str(json).map_err(|e| {
        SecretError(format!(
            "{} secret is not the documented JSON: {e}",
            kind.as_str()
        ))
    })?;
    let api_secret = match kind {
        ProviderKind::Stripe => doc.secret_key,
        ProviderKind::Razorpay => doc.key_secret,
    };
    Ok(ProviderSecrets {
        api_secret: api_secret.filter(|s| !s.is_empty()).map(Secret::new),
        key_id: doc.key_id.filter(|s| !s.is_empty()),
        webhook_secrets: [doc.webhook_secret, doc.previous_webhook_secret]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect(),
    })
}

/// Secret documents (`SecretString`s) by ARN, each cached for the TTL (≤ 900 s). A fetch that
/// fails after the TTL keeps the expired value, with a warning, until one succeeds. Shared by
/// the payment providers' secrets and the fulfilment integrations' credentials.
pub struct SecretDocuments {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, (Timestamp, Arc<str>)>>,
}

impl SecretDocuments {
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            ttl: ttl.min(Duration::from_secs(900)),
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The document stored under `arn`; `what` names it in errors and logs.
    pub async fn get(&self, arn: &str, what: &str) -> Result<Arc<str>, SecretError> {
        let now = self.clock.now();
        // One fetch at a time per process: concurrent cold requests wait for it.
        let mut cache = self.cache.lock().await;
        if let Some((fetched, value)) = cache.get(arn)
            && now < fetched.plus(self.ttl)
        {
            return Ok(value.clone());
        }
        match self.fetch(arn, what).await {
            Ok(value) => {
                cache.insert(arn.to_owned(), (now, value.clone()));
                Ok(value)
            }
            Err(e) => match cache.get(arn) {
                Some((_, stale)) => {
                    tracing::warn!(secret = what, error = %e, "secret refresh failed; keeping the cached value");
                    Ok(stale.clone())
                }
                None => Err(e),
            },
        }
    }

    async fn fetch(&self, arn: &str, what: &str) -> Result<Arc<str>, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| SecretError(format!("{what}: {}", crate::error_text(&e))))?;
        out.secret_string()
            .map(Arc::from)
            .ok_or_else(|| SecretError(format!("{what} secret has no SecretString")))
    }
}

/// The payment providers' secrets: from Secrets Manager for a provider with an ARN, else from
/// the environment.
pub struct SecretsManagerSource {
    docs: Arc<SecretDocuments>,
    arns: HashMap<ProviderKind, String>,
    fallback: HashMap<ProviderKind, ProviderSecrets>,
}

impl SecretsManagerSource {
    pub fn new(
        docs: Arc<SecretDocuments>,
        stripe_arn: Option<String>,
        razorpay_arn: Option<String>,
        fallback_stripe: ProviderSecrets,
        fallback_razorpay: ProviderSecrets,
    ) -> Self {
        let mut arns = HashMap::new();
        arns.extend(stripe_arn.map(|a| (ProviderKind::Stripe, a)));
        arns.extend(razorpay_arn.map(|a| (ProviderKind::Razorpay, a)));
        Self {
            docs,
            arns,
            fallback: HashMap::from([
                (ProviderKind::Stripe, fallback_stripe),
                (ProviderKind::Razorpay, fallback_razorpay),
            ]),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn provider(&self, kind: ProviderKind) -> Result<ProviderSecrets, SecretError> {
        let Some(arn) = self.arns.get(&kind) else {
            return Ok(self.fallback.get(&kind).cloned().unwrap_or_default());
        };
        let doc = self.docs.get(arn, kind.as_str()).await?;
        parse_secret(kind, &doc)
    }
}

/// A fulfilment integration's credentials (`{"email","password"}` for Shiprocket,
/// `{"token"}` for WhatsApp) from a Secrets Manager document, read through the TTL cache at
/// each use.
#[derive(Clone)]
pub struct SecretsManagerCredentials {
    docs: Arc<SecretDocuments>,
    arn: String,
    name: &'static str,
}

impl SecretsManagerCredentials {
    pub fn new(docs: Arc<SecretDocuments>, arn: String, name: &'static str) -> Self {
        Self { docs, arn, name }
    }
}

impl std::fmt::Debug for SecretsManagerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretsManagerCredentials({})", self.name)
    }
}

#[async_trait]
impl CredentialSource for SecretsManagerCredentials {
    async fn field(&self, field: &str) -> Result<Secret, CredentialError> {
        let doc = self
            .docs
            .get(&self.arn, self.name)
            .await
            .map_err(|e| CredentialError(e.0))?;
        credential_field(self.name, &doc, field)
    }

    async fn optional_field(&self, field: &str) -> Result<Option<Secret>, CredentialError> {
        let doc = self
            .docs
            .get(&self.arn, self.name)
            .await
            .map_err(|e| CredentialError(e.0))?;
        let map: HashMap<String, serde_json::Value> = serde_json::from_str(&doc).map_err(|_| {
            CredentialError(format!("the {} secret is not a JSON object", self.name))
        })?;
        Ok(map
            .get(field)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(Secret::new))
    }
}

/// `field` of a credential document, never echoing the document in an error.
pub fn credential_field(name: &str, doc: &str, field: &str) -> Result<Secret, CredentialError> {
    let map: HashMap<String, serde_json::Value> = serde_json::from_str(doc)
        .map_err(|_| CredentialError(format!("the {name} secret is not a JSON object")))?;
    map.get(field)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or_else(|| CredentialError(format!("the {name} secret has no '{field}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_secret_shapes_parse() {
        let s = parse_secret(ProviderKind::Stripe, r#"{"secretKey":"sk_live_1","webhookSecret":"whsec_new","previousWebhookSecret":"whsec_old"}"#).unwrap();
        assert_eq!(s.api_secret.unwrap().expose(), "sk_live_1");
        assert_eq!(
            s.webhook_secrets
                .iter()
                .map(|w| w.expose())
                .collect::<Vec<_>>(),
            vec!["whsec_new", "whsec_old"]
        );
        let r = parse_secret(
            ProviderKind::Razorpay,
            r#"{"keyId":"rzp_live_1","keySecret":"ks","webhookSecret":"wh"}"#,
        )
        .unwrap();
        assert_eq!(r.key_id.as_deref(), Some("rzp_live_1"));
        assert_eq!(r.api_secret.unwrap().expose(), "ks");
        assert_eq!(r.webhook_secrets.len(), 1);
        let e = parse_secret(ProviderKind::Stripe, "sk_live_plain").unwrap_err();
        assert!(
            !e.to_string().contains("sk_live_plain"),
            "the value is never echoed: {e}"
        );
    }

    #[test]
    fn credential_documents_give_their_fields_and_never_echo_their_values() {
        let doc = r#"{"email":"ops@shop.example","password":"pw-123"}"#;
        assert_eq!(
            credential_field("shiprocket", doc, "password")
                .unwrap()
                .expose(),
            "pw-123"
        );
        let e = credential_field("shiprocket", doc, "token").unwrap_err();
        assert!(e.to_string().contains("has no 'token'"), "{e}");
        let e = credential_field("whatsapp", "EAAG-plain-token", "token").unwrap_err();
        assert!(!e.to_string().contains("EAAG"), "{e}");
    }
}
