//! Typed configuration, read from the environment once at start-up (fail fast at cold start).
//! Every variable and default is listed in the README's configuration table.

use std::time::Duration;

use oms_core::Secret;
use oms_core::app::OrderPolicy;
use oms_core::ports::ProviderSecrets;

pub use crate::cognito::CognitoConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderMode {
    /// Real Stripe and Razorpay APIs.
    Live,
    /// The offline stand-in: provider-shaped ids and a local checkout URL, no network.
    Offline,
}

pub use oms_providers::razorpay::RazorpayConfig;
pub use oms_providers::stripe::StripeConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub api_prefix: String,
    pub provider_mode: ProviderMode,
    pub policy: OrderPolicy,
    /// Live mode: each provider is enabled when its credentials are present.
    pub stripe: Option<StripeConfig>,
    pub razorpay: Option<RazorpayConfig>,
    /// Where provider secrets come from.
    pub secrets: SecretsConfig,
    /// `STRIPE_WEBHOOK_TOLERANCE_SECONDS`: how far a signed timestamp may be from now.
    pub stripe_tolerance: Duration,
    /// `APP_ENV` (`dev` by default, `prod` turns on the production gate).
    pub production: bool,
    /// `COGNITO_ISSUER` + `COGNITO_AUDIENCE`: in Lambda, bearer tokens on the routes guests
    /// share are verified against this user pool.
    pub cognito: Option<CognitoConfig>,
}

/// Provider secrets read from the environment (local runs, or a deployment without Secrets
/// Manager). Offline mode fills in the documented development values.
#[derive(Debug, Clone, Default)]
pub struct EnvSecrets {
    pub stripe: ProviderSecrets,
    pub razorpay: ProviderSecrets,
}

/// `STRIPE_SECRET_ARN` / `RAZORPAY_SECRET_ARN` name Secrets Manager secrets that take precedence
/// over the environment for that provider; they are cached for `SECRETS_TTL_SECONDS` (≤ 900).
#[derive(Debug, Clone)]
pub struct SecretsConfig {
    pub env: EnvSecrets,
    pub stripe_arn: Option<String>,
    pub razorpay_arn: Option<String>,
    pub ttl: Duration,
}

/// Documented development defaults, used only in offline mode when the variable is unset.
pub const DEV_STRIPE_WEBHOOK_SECRET: &str = "whsec_dev_local_only";
pub const DEV_RAZORPAY_WEBHOOK_SECRET: &str = "rzp_webhook_dev_local_only";
pub const DEV_RAZORPAY_KEY_SECRET: &str = "rzp_key_secret_dev_local_only";

fn secret_list(raw: &str) -> Vec<Secret> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required{hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Defaults that differ between hosts: the dev server assumes offline payments, a Lambda must
/// be told.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub provider_mode: Option<ProviderMode>,
}

pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const RAZORPAY_API_BASE: &str = "https://api.razorpay.com";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(
            |k| std::env::var(k).ok(),
            Defaults {
                provider_mode: None,
            },
        )
    }

    /// Reads configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        defaults: Defaults,
    ) -> Result<Self, ConfigError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let api_prefix = var("API_PREFIX").unwrap_or_else(|| "/api/v1".into());
        let api_prefix = api_prefix.trim_end_matches('/').to_owned();
        if !api_prefix.starts_with('/')
            || !api_prefix[1..].split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            })
        {
            return Err(ConfigError::Invalid {
                name: "API_PREFIX",
                reason: "must look like /api/v1".into(),
            });
        }

        let provider_mode = match var("PAYMENT_PROVIDER_MODE").as_deref() {
            Some("live") => ProviderMode::Live,
            Some("offline") => ProviderMode::Offline,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "PAYMENT_PROVIDER_MODE",
                    reason: format!("'{other}' is not 'live' or 'offline'"),
                });
            }
            None => defaults.provider_mode.ok_or(ConfigError::Missing {
                name: "PAYMENT_PROVIDER_MODE",
                hint: " ('live' or 'offline')",
            })?,
        };

        let minutes =
            match var("CLEANUP_FAILED_PAYMENT_MINUTES") {
                None => 30,
                Some(v) => v.parse::<u64>().ok().filter(|m| *m <= 7 * 24 * 60).ok_or(
                    ConfigError::Invalid {
                        name: "CLEANUP_FAILED_PAYMENT_MINUTES",
                        reason: format!("'{v}' is not a whole number of minutes up to 10080"),
                    },
                )?,
            };
        let policy = OrderPolicy {
            payment_window: Duration::from_secs(minutes * 60),
            ..OrderPolicy::default()
        };

        let offline = provider_mode == ProviderMode::Offline;
        let dev_default =
            |name: &str, default: &str| var(name).or_else(|| offline.then(|| default.to_owned()));
        let stripe_arn = var("STRIPE_SECRET_ARN");
        let razorpay_arn = var("RAZORPAY_SECRET_ARN");
        let env_secrets = EnvSecrets {
            stripe: ProviderSecrets {
                api_secret: var("STRIPE_SECRET_KEY").map(Secret::new),
                key_id: None,
                webhook_secrets: dev_default("STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET)
                    .map(|v| secret_list(&v))
                    .unwrap_or_default(),
            },
            razorpay: ProviderSecrets {
                api_secret: dev_default("RAZORPAY_KEY_SECRET", DEV_RAZORPAY_KEY_SECRET)
                    .map(Secret::new),
                key_id: Some(var("RAZORPAY_KEY_ID").unwrap_or_else(|| "rzp_test_offline".into()))
                    .filter(|_| offline || var("RAZORPAY_KEY_ID").is_some()),
                webhook_secrets: dev_default(
                    "RAZORPAY_WEBHOOK_SECRET",
                    DEV_RAZORPAY_WEBHOOK_SECRET,
                )
                .map(|v| secret_list(&v))
                .unwrap_or_default(),
            },
        };

        let (stripe, razorpay) = if provider_mode == ProviderMode::Live {
            let stripe_on = stripe_arn.is_some() || env_secrets.stripe.api_secret.is_some();
            let stripe = if stripe_on {
                Some(StripeConfig {
                    api_base: var("STRIPE_API_BASE").unwrap_or_else(|| STRIPE_API_BASE.into()),
                    success_url: var("CHECKOUT_SUCCESS_URL").ok_or(ConfigError::Missing {
                        name: "CHECKOUT_SUCCESS_URL",
                        hint: " when Stripe is enabled (where Stripe sends the buyer after paying)",
                    })?,
                    cancel_url: var("CHECKOUT_CANCEL_URL").ok_or(ConfigError::Missing {
                        name: "CHECKOUT_CANCEL_URL",
                        hint: " when Stripe is enabled",
                    })?,
                })
            } else {
                None
            };
            let razorpay_env = match (
                env_secrets.razorpay.key_id.is_some(),
                var("RAZORPAY_KEY_SECRET").is_some(),
            ) {
                (true, true) => true,
                (false, false) => false,
                (true, false) => {
                    return Err(ConfigError::Missing {
                        name: "RAZORPAY_KEY_SECRET",
                        hint: " when RAZORPAY_KEY_ID is set",
                    });
                }
                (false, true) => {
                    return Err(ConfigError::Missing {
                        name: "RAZORPAY_KEY_ID",
                        hint: " when RAZORPAY_KEY_SECRET is set",
                    });
                }
            };
            let razorpay = (razorpay_arn.is_some() || razorpay_env).then(|| RazorpayConfig {
                api_base: var("RAZORPAY_API_BASE").unwrap_or_else(|| RAZORPAY_API_BASE.into()),
            });
            if stripe.is_none() && razorpay.is_none() {
                return Err(ConfigError::Missing {
                    name: "STRIPE_SECRET_ARN / RAZORPAY_SECRET_ARN (or STRIPE_SECRET_KEY, RAZORPAY_KEY_ID + RAZORPAY_KEY_SECRET)",
                    hint: " in live mode",
                });
            }
            (stripe, razorpay)
        } else {
            (None, None)
        };

        let stripe_tolerance = match var("STRIPE_WEBHOOK_TOLERANCE_SECONDS") {
            None => 300,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .ok_or(ConfigError::Invalid {
                    name: "STRIPE_WEBHOOK_TOLERANCE_SECONDS",
                    reason: format!("'{v}' is not a number of seconds from 1 to 3600"),
                })?,
        };
        let secrets_ttl = match var("SECRETS_TTL_SECONDS") {
            None => 300,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= 900)
                .ok_or(ConfigError::Invalid {
                    name: "SECRETS_TTL_SECONDS",
                    reason: format!("'{v}' is not a number of seconds up to 900"),
                })?,
        };
        let production = match var("APP_ENV").as_deref() {
            None | Some("dev") => false,
            Some("prod") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APP_ENV",
                    reason: format!("'{other}' is not 'dev' or 'prod'"),
                });
            }
        };
        let cognito = match (var("COGNITO_ISSUER"), var("COGNITO_AUDIENCE")) {
            (None, None) => None,
            (Some(issuer), Some(audience)) => {
                let issuer = issuer.trim_end_matches('/').to_owned();
                let loopback = ["http://127.0.0.1:", "http://localhost:"]
                    .iter()
                    .any(|p| issuer.starts_with(p));
                if !issuer.starts_with("https://") && !loopback {
                    return Err(ConfigError::Invalid {
                        name: "COGNITO_ISSUER",
                        reason: "must be an https:// URL (the user pool's issuer)".into(),
                    });
                }
                let audiences: Vec<String> = audience
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect();
                if audiences.is_empty() {
                    return Err(ConfigError::Invalid {
                        name: "COGNITO_AUDIENCE",
                        reason: "names no app client id".into(),
                    });
                }
                Some(CognitoConfig { issuer, audiences })
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    name: "COGNITO_AUDIENCE",
                    hint: " when COGNITO_ISSUER is set (the app client ids)",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    name: "COGNITO_ISSUER",
                    hint: " when COGNITO_AUDIENCE is set",
                });
            }
        };
        Ok(Self {
            production,
            cognito,
            api_prefix,
            provider_mode,
            policy,
            stripe,
            razorpay,
            secrets: SecretsConfig {
                env: env_secrets,
                stripe_arn,
                razorpay_arn,
                ttl: Duration::from_secs(secrets_ttl),
            },
            stripe_tolerance: Duration::from_secs(stripe_tolerance),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)], mode: Option<ProviderMode>) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(
            |k| map.get(k).cloned(),
            Defaults {
                provider_mode: mode,
            },
        )
    }

    #[test]
    fn the_dev_defaults_need_no_variables() {
        let c = load(&[], Some(ProviderMode::Offline)).unwrap();
        assert_eq!(c.api_prefix, "/api/v1");
        assert_eq!(c.provider_mode, ProviderMode::Offline);
        assert_eq!(c.policy.payment_window, Duration::from_secs(1800));
    }

    #[test]
    fn a_lambda_must_be_told_its_provider_mode() {
        let e = load(&[], None).unwrap_err();
        assert!(e.to_string().contains("PAYMENT_PROVIDER_MODE"), "{e}");
        assert!(load(&[("PAYMENT_PROVIDER_MODE", "sandbox")], None).is_err());
    }

    #[test]
    fn live_mode_requires_credentials_for_at_least_one_provider() {
        let e = load(&[("PAYMENT_PROVIDER_MODE", "live")], None).unwrap_err();
        assert!(e.to_string().contains("STRIPE_SECRET_KEY"), "{e}");
        let e = load(
            &[
                ("PAYMENT_PROVIDER_MODE", "live"),
                ("STRIPE_SECRET_KEY", "sk_test_x"),
            ],
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("CHECKOUT_SUCCESS_URL"), "{e}");
        let c = load(
            &[
                ("PAYMENT_PROVIDER_MODE", "live"),
                ("RAZORPAY_KEY_ID", "rzp_test_1"),
                ("RAZORPAY_KEY_SECRET", "s3cret"),
            ],
            None,
        )
        .unwrap();
        assert!(c.stripe.is_none());
        assert_eq!(c.razorpay.unwrap().api_base, RAZORPAY_API_BASE);
        let arn = load(
            &[
                ("PAYMENT_PROVIDER_MODE", "live"),
                (
                    "STRIPE_SECRET_ARN",
                    "arn:aws:secretsmanager:ap-south-1:1:secret:stripe",
                ),
                ("CHECKOUT_SUCCESS_URL", "https://s/ok"),
                ("CHECKOUT_CANCEL_URL", "https://s/no"),
            ],
            None,
        )
        .unwrap();
        assert!(
            arn.stripe.is_some(),
            "a Secrets Manager ARN enables the provider"
        );
        assert_eq!(
            arn.secrets.stripe_arn.as_deref(),
            Some("arn:aws:secretsmanager:ap-south-1:1:secret:stripe")
        );
        let e = load(
            &[("SECRETS_TTL_SECONDS", "901")],
            Some(ProviderMode::Offline),
        )
        .unwrap_err();
        assert!(e.to_string().contains("SECRETS_TTL_SECONDS"));
    }

    #[test]
    fn bad_values_are_named() {
        let e = load(&[("API_PREFIX", "api")], Some(ProviderMode::Offline)).unwrap_err();
        assert!(e.to_string().contains("API_PREFIX"));
        let e = load(
            &[("CLEANUP_FAILED_PAYMENT_MINUTES", "-3")],
            Some(ProviderMode::Offline),
        )
        .unwrap_err();
        assert!(e.to_string().contains("CLEANUP_FAILED_PAYMENT_MINUTES"));
        let c = load(
            &[
                ("API_PREFIX", "/shop/v2/"),
                ("CLEANUP_FAILED_PAYMENT_MINUTES", "0"),
            ],
            Some(ProviderMode::Offline),
        )
        .unwrap();
        assert_eq!(c.api_prefix, "/shop/v2");
        assert_eq!(c.policy.payment_window, Duration::ZERO);
    }

    #[test]
    fn webhook_secrets_list_rotations_and_have_dev_defaults_only_offline() {
        let c = load(
            &[("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old")],
            Some(ProviderMode::Offline),
        )
        .unwrap();
        assert_eq!(
            c.secrets
                .env
                .stripe
                .webhook_secrets
                .iter()
                .map(|s| s.expose())
                .collect::<Vec<_>>(),
            vec!["whsec_new", "whsec_old"]
        );
        assert_eq!(
            c.secrets.env.razorpay.webhook_secrets[0].expose(),
            DEV_RAZORPAY_WEBHOOK_SECRET
        );
        let live = load(
            &[
                ("PAYMENT_PROVIDER_MODE", "live"),
                ("RAZORPAY_KEY_ID", "rzp_live_1"),
                ("RAZORPAY_KEY_SECRET", "k"),
            ],
            None,
        )
        .unwrap();
        assert!(
            live.secrets.env.stripe.webhook_secrets.is_empty(),
            "no dev secret in live mode"
        );
        assert!(live.secrets.env.razorpay.webhook_secrets.is_empty());
        assert_eq!(
            live.secrets
                .env
                .razorpay
                .api_secret
                .clone()
                .unwrap()
                .expose(),
            "k"
        );
    }

    #[test]
    fn a_user_pool_needs_an_https_issuer_and_at_least_one_app_client() {
        let offline = Some(ProviderMode::Offline);
        assert!(load(&[], offline).unwrap().cognito.is_none());
        let c = load(
            &[
                (
                    "COGNITO_ISSUER",
                    "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_X/",
                ),
                ("COGNITO_AUDIENCE", "web, mobile"),
            ],
            offline,
        )
        .unwrap()
        .cognito
        .unwrap();
        assert_eq!(
            c.jwks_url(),
            "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_X/.well-known/jwks.json"
        );
        assert_eq!(c.audiences, vec!["web", "mobile"]);
        for (pairs, named) in [
            (
                &[("COGNITO_ISSUER", "https://cognito-idp.x/p")][..],
                "COGNITO_AUDIENCE",
            ),
            (&[("COGNITO_AUDIENCE", "web")][..], "COGNITO_ISSUER"),
            (
                &[
                    ("COGNITO_ISSUER", "http://idp.example.com/p"),
                    ("COGNITO_AUDIENCE", "web"),
                ][..],
                "COGNITO_ISSUER",
            ),
            (
                &[
                    ("COGNITO_ISSUER", "https://cognito-idp.x/p"),
                    ("COGNITO_AUDIENCE", " , "),
                ][..],
                "COGNITO_AUDIENCE",
            ),
        ] {
            let e = load(pairs, offline).unwrap_err();
            assert!(e.to_string().contains(named), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let c = load(
            &[
                ("PAYMENT_PROVIDER_MODE", "live"),
                ("RAZORPAY_KEY_ID", "rzp_test_1"),
                ("RAZORPAY_KEY_SECRET", "very-secret-value"),
            ],
            None,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("very-secret-value"));
    }
}
