//! Where provider secrets come from: Secrets Manager documents named by ARN (cached for
//! `SECRETS_TTL_SECONDS`, at most 900) take precedence, per provider, over the environment.
//! Offline, the documented development values fill in what is unset.

use std::time::Duration;

use oms_core::Secret;
use oms_core::ports::ProviderSecrets;

use super::env::{ConfigError, Env};

/// Documented development defaults, used only in offline mode when the variable is unset.
pub const DEV_STRIPE_WEBHOOK_SECRET: &str = "whsec_dev_local_only";
pub const DEV_RAZORPAY_WEBHOOK_SECRET: &str = "rzp_webhook_dev_local_only";
pub const DEV_RAZORPAY_KEY_SECRET: &str = "rzp_key_secret_dev_local_only";
/// The offline stand-in's Razorpay key id.
pub const OFFLINE_RAZORPAY_KEY_ID: &str = "rzp_test_offline";

/// Provider secrets read from the environment.
#[derive(Debug, Clone, Default)]
pub struct EnvSecrets {
    pub stripe: ProviderSecrets,
    pub razorpay: ProviderSecrets,
}

#[derive(Debug, Clone)]
pub struct SecretsConfig {
    pub env: EnvSecrets,
    /// `STRIPE_SECRET_ARN`, `RAZORPAY_SECRET_ARN`.
    pub stripe_arn: Option<String>,
    pub razorpay_arn: Option<String>,
    pub ttl: Duration,
}

impl SecretsConfig {
    pub fn read(env: &Env, offline: bool) -> Result<Self, ConfigError> {
        let dev = |name: &str, default: &str| {
            env.var(name)
                .or_else(|| offline.then(|| default.to_owned()))
        };
        let list = |v: Option<String>| -> Vec<Secret> {
            v.map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Secret::new)
                    .collect()
            })
            .unwrap_or_default()
        };
        let key_id = env
            .var("RAZORPAY_KEY_ID")
            .or_else(|| offline.then(|| OFFLINE_RAZORPAY_KEY_ID.to_owned()));
        Ok(Self {
            env: EnvSecrets {
                stripe: ProviderSecrets {
                    api_secret: env.var("STRIPE_SECRET_KEY").map(Secret::new),
                    key_id: None,
                    webhook_secrets: list(dev("STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET)),
                },
                razorpay: ProviderSecrets {
                    api_secret: dev("RAZORPAY_KEY_SECRET", DEV_RAZORPAY_KEY_SECRET)
                        .map(Secret::new),
                    key_id,
                    webhook_secrets: list(dev(
                        "RAZORPAY_WEBHOOK_SECRET",
                        DEV_RAZORPAY_WEBHOOK_SECRET,
                    )),
                },
            },
            stripe_arn: env.var("STRIPE_SECRET_ARN"),
            razorpay_arn: env.var("RAZORPAY_SECRET_ARN"),
            ttl: Duration::from_secs(env.number("SECRETS_TTL_SECONDS", 300, 0..=900, "seconds")?),
        })
    }
}
