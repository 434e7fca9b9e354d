//! Provider secrets from Secrets Manager, cached in-process for `SECRETS_TTL_SECONDS` (≤ 900)
//! so a rotated secret is picked up without a redeploy, and a Secrets Manager hiccup does not
//! take webhooks down: an expired value is kept (with a warning) until a fetch succeeds.
//!
//! Secret shapes (JSON `SecretString`):
//! - Stripe: `{"secretKey":"sk_…","webhookSecret":"whsec_…","previousWebhookSecret":"whsec_…"?}`
//! - Razorpay: `{"keyId":"rzp_…","keySecret":"…","webhookSecret":"…","previousWebhookSecret":"…"?}`
//!
//! A provider without an ARN falls back to the secrets given from the environment.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use oms_core::ports::{Clock, ProviderSecrets, SecretError, SecretSource};
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

pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    arns: HashMap<ProviderKind, String>,
    fallback: HashMap<ProviderKind, ProviderSecrets>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<ProviderKind, (Timestamp, ProviderSecrets)>>,
}

impl SecretsManagerSource {
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        stripe_arn: Option<String>,
        razorpay_arn: Option<String>,
        fallback_stripe: ProviderSecrets,
        fallback_razorpay: ProviderSecrets,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut arns = HashMap::new();
        arns.extend(stripe_arn.map(|a| (ProviderKind::Stripe, a)));
        arns.extend(razorpay_arn.map(|a| (ProviderKind::Razorpay, a)));
        Self {
            client,
            arns,
            fallback: HashMap::from([
                (ProviderKind::Stripe, fallback_stripe),
                (ProviderKind::Razorpay, fallback_razorpay),
            ]),
            ttl: ttl.min(Duration::from_secs(900)),
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch(&self, kind: ProviderKind, arn: &str) -> Result<ProviderSecrets, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| SecretError(format!("{}: {}", kind.as_str(), crate::error_text(&e))))?;
        let text = out
            .secret_string()
            .ok_or_else(|| SecretError(format!("{} secret has no SecretString", kind.as_str())))?;
        parse_secret(kind, text)
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn provider(&self, kind: ProviderKind) -> Result<ProviderSecrets, SecretError> {
        let Some(arn) = self.arns.get(&kind) else {
            return Ok(self.fallback.get(&kind).cloned().unwrap_or_default());
        };
        let now = self.clock.now();
        // One fetch at a time per process: concurrent cold requests wait for it.
        let mut cache = self.cache.lock().await;
        if let Some((fetched, value)) = cache.get(&kind)
            && now < fetched.plus(self.ttl)
        {
            return Ok(value.clone());
        }
        match self.fetch(kind, arn).await {
            Ok(value) => {
                cache.insert(kind, (now, value.clone()));
                Ok(value)
            }
            Err(e) => match cache.get(&kind) {
                Some((_, stale)) => {
                    tracing::warn!(provider = kind.as_str(), error = %e, "secret refresh failed; keeping the cached value");
                    Ok(stale.clone())
                }
                None => Err(e),
            },
        }
    }
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
}
