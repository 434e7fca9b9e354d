//! Which payment providers take money, and how: the real APIs (`live`) or the offline stand-in.
//! Live, each provider is enabled by its credentials (a Secrets Manager ARN, or keys in the
//! environment); at least one must be.

pub use oms_providers::razorpay::RazorpayConfig;
pub use oms_providers::stripe::StripeConfig;

use super::env::{ConfigError, Env};
use super::secrets::SecretsConfig;

pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const RAZORPAY_API_BASE: &str = "https://api.razorpay.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderMode {
    /// Real Stripe and Razorpay APIs.
    Live,
    /// The offline stand-in: provider-shaped ids and a local checkout URL, no network.
    Offline,
}

#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// `PAYMENT_PROVIDER_MODE`.
    pub mode: ProviderMode,
    pub stripe: Option<StripeConfig>,
    pub razorpay: Option<RazorpayConfig>,
}

impl ProviderMode {
    /// `default` is the host's assumption (the dev server: offline); a Lambda must be told.
    pub fn read(env: &Env, default: Option<Self>) -> Result<Self, ConfigError> {
        let modes = [
            ("live", ProviderMode::Live),
            ("offline", ProviderMode::Offline),
        ];
        env.choice("PAYMENT_PROVIDER_MODE", &modes, default)
            .map_err(|e| match e {
                ConfigError::Missing { name, .. } => ConfigError::Missing {
                    name,
                    hint: " ('live' or 'offline')",
                },
                other => other,
            })
    }
}

impl PaymentsConfig {
    pub fn read(
        env: &Env,
        mode: ProviderMode,
        secrets: &SecretsConfig,
    ) -> Result<Self, ConfigError> {
        if mode == ProviderMode::Offline {
            return Ok(Self {
                mode,
                stripe: None,
                razorpay: None,
            });
        }
        let stripe_on = secrets.stripe_arn.is_some() || secrets.env.stripe.api_secret.is_some();
        let stripe = stripe_on.then(|| stripe(env)).transpose()?;
        let razorpay_on = secrets.razorpay_arn.is_some() || razorpay_keys(env)?;
        let razorpay = razorpay_on.then(|| RazorpayConfig {
            api_base: env
                .var("RAZORPAY_API_BASE")
                .unwrap_or_else(|| RAZORPAY_API_BASE.into()),
        });
        if stripe.is_none() && razorpay.is_none() {
            return Err(ConfigError::Missing {
                name: "STRIPE_SECRET_ARN / RAZORPAY_SECRET_ARN (or STRIPE_SECRET_KEY, RAZORPAY_KEY_ID + RAZORPAY_KEY_SECRET)",
                hint: " in live mode",
            });
        }
        Ok(Self {
            mode,
            stripe,
            razorpay,
        })
    }
}

fn stripe(env: &Env) -> Result<StripeConfig, ConfigError> {
    Ok(StripeConfig {
        api_base: env
            .var("STRIPE_API_BASE")
            .unwrap_or_else(|| STRIPE_API_BASE.into()),
        success_url: env.required(
            "CHECKOUT_SUCCESS_URL",
            " when Stripe is enabled (where Stripe sends the buyer after paying)",
        )?,
        cancel_url: env.required("CHECKOUT_CANCEL_URL", " when Stripe is enabled")?,
    })
}

/// Razorpay's keys in the environment: both or neither.
fn razorpay_keys(env: &Env) -> Result<bool, ConfigError> {
    match (env.var("RAZORPAY_KEY_ID"), env.var("RAZORPAY_KEY_SECRET")) {
        (Some(_), Some(_)) => Ok(true),
        (None, None) => Ok(false),
        (Some(_), None) => Err(ConfigError::Missing {
            name: "RAZORPAY_KEY_SECRET",
            hint: " when RAZORPAY_KEY_ID is set",
        }),
        (None, Some(_)) => Err(ConfigError::Missing {
            name: "RAZORPAY_KEY_ID",
            hint: " when RAZORPAY_KEY_SECRET is set",
        }),
    }
}
