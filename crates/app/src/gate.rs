//! The production gate: in `APP_ENV=prod` a function refuses to start — one clear log line and
//! an error the runtime reports, never a crash loop of panics — when it would take money the
//! wrong way: offline payments, a provider's test credentials, an API base that is not the
//! provider's production host, or no webhook secret to verify with. Secrets are checked for the
//! providers the function reads them for (a function without that permission is not made to
//! need it).

use oms_core::ProviderKind;
use oms_core::ports::{ProviderSecrets, SecretSource};

use crate::config::{Config, ProviderMode, RAZORPAY_API_BASE, STRIPE_API_BASE};

/// What samconfig.toml's prod overrides hold until an operator puts in their own values.
pub const PLACEHOLDER: &str = "REPLACEME";

#[derive(Debug, thiserror::Error)]
#[error("refusing to start in production: {0}")]
pub struct GateError(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, GateError> {
    Err(GateError(why.into()))
}

/// Checks `config` and the secrets it resolves to; does nothing outside production.
pub async fn production_gate(
    config: &Config,
    secrets: &dyn SecretSource,
    reads: &[ProviderKind],
) -> Result<(), GateError> {
    if !config.production {
        return Ok(());
    }
    if config.payments.mode == ProviderMode::Offline {
        return refuse("PAYMENT_PROVIDER_MODE is offline");
    }
    placeholders(config)?;
    user_pool(config)?;
    hosts(config)?;
    for kind in [ProviderKind::Stripe, ProviderKind::Razorpay] {
        let enabled = match kind {
            ProviderKind::Stripe => config.payments.stripe.is_some(),
            ProviderKind::Razorpay => config.payments.razorpay.is_some(),
        };
        if enabled && reads.contains(&kind) {
            let p = secrets
                .provider(kind)
                .await
                .map_err(|e| GateError(e.to_string()))?;
            provider_secrets(kind, &p)?;
        }
    }
    Ok(())
}

/// samconfig.toml ships prod's account-specific values as placeholders; a stack deployed
/// before they were filled in must say so, not fail later on a pool or secret that is not there.
fn placeholders(config: &Config) -> Result<(), GateError> {
    let pool = config.http.cognito.as_ref();
    let audiences = pool.map(|c| c.audiences.join(","));
    let values = [
        ("COGNITO_ISSUER", pool.map(|c| c.issuer.as_str())),
        ("COGNITO_AUDIENCE", audiences.as_deref()),
        ("STRIPE_SECRET_ARN", config.secrets.stripe_arn.as_deref()),
        (
            "RAZORPAY_SECRET_ARN",
            config.secrets.razorpay_arn.as_deref(),
        ),
    ];
    let unfilled: Vec<&str> = values
        .iter()
        .filter(|(_, v)| v.is_some_and(|v| v.contains(PLACEHOLDER)))
        .map(|(name, _)| *name)
        .collect();
    if unfilled.is_empty() {
        return Ok(());
    }
    refuse(format!(
        "{} still hold samconfig.toml's {PLACEHOLDER} placeholder",
        unfilled.join(", ")
    ))
}

fn user_pool(config: &Config) -> Result<(), GateError> {
    match &config.http.cognito {
        None => refuse("COGNITO_ISSUER is not set: signed-in users could not be told from guests"),
        Some(pool) if !pool.issuer.starts_with("https://cognito-idp.") => refuse(format!(
            "COGNITO_ISSUER is {}, not a Cognito user pool",
            pool.issuer
        )),
        Some(_) => Ok(()),
    }
}

fn hosts(config: &Config) -> Result<(), GateError> {
    let p = &config.payments;
    let bases = [
        (
            "STRIPE_API_BASE",
            p.stripe.as_ref().map(|s| s.api_base.as_str()),
            STRIPE_API_BASE,
            "Stripe",
        ),
        (
            "RAZORPAY_API_BASE",
            p.razorpay.as_ref().map(|r| r.api_base.as_str()),
            RAZORPAY_API_BASE,
            "Razorpay",
        ),
    ];
    for (name, base, official, provider) in bases {
        if let Some(base) = base
            && base.trim_end_matches('/') != official
        {
            return refuse(format!("{name} is {base}, not {provider}'s API"));
        }
    }
    Ok(())
}

/// Live keys and at least one webhook secret; a secret is never printed.
fn provider_secrets(kind: ProviderKind, p: &ProviderSecrets) -> Result<(), GateError> {
    match kind {
        ProviderKind::Stripe => {
            let Some(key) = &p.api_secret else {
                return refuse("the Stripe secret key is missing");
            };
            if ["sk_test_", "rk_test_"]
                .iter()
                .any(|t| key.expose().starts_with(t))
            {
                return refuse("the Stripe secret key is a test key");
            }
            if p.webhook_secrets.is_empty() {
                return refuse("no Stripe webhook secret");
            }
        }
        ProviderKind::Razorpay => {
            match p.key_id.as_deref() {
                None => return refuse("the Razorpay key id is missing"),
                Some(id) if id.starts_with("rzp_test_") => {
                    return refuse("the Razorpay key is a test key");
                }
                Some(_) => {}
            }
            if p.api_secret.is_none() || p.webhook_secrets.is_empty() {
                return refuse("the Razorpay key secret or webhook secret is missing");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;
    use oms_core::Secret;
    use oms_core::ports::ProviderSecrets;
    use oms_memory::StaticSecrets;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::read(&Env::from_pairs(pairs), None).unwrap()
    }

    fn secrets(stripe_key: &str, rzp_key: &str) -> StaticSecrets {
        StaticSecrets {
            stripe: ProviderSecrets {
                api_secret: Some(Secret::new(stripe_key)),
                key_id: None,
                webhook_secrets: vec![Secret::new("whsec_1")],
            },
            razorpay: ProviderSecrets {
                api_secret: Some(Secret::new("ks")),
                key_id: Some(rzp_key.into()),
                webhook_secrets: vec![Secret::new("wh")],
            },
        }
    }

    const BOTH: &[ProviderKind] = &[ProviderKind::Stripe, ProviderKind::Razorpay];

    const LIVE: &[(&str, &str)] = &[
        ("APP_ENV", "prod"),
        ("PAYMENT_PROVIDER_MODE", "live"),
        ("STRIPE_SECRET_ARN", "arn:stripe"),
        ("RAZORPAY_SECRET_ARN", "arn:razorpay"),
        ("CHECKOUT_SUCCESS_URL", "https://shop/ok"),
        ("CHECKOUT_CANCEL_URL", "https://shop/no"),
        (
            "COGNITO_ISSUER",
            "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_Pool",
        ),
        ("COGNITO_AUDIENCE", "client1"),
    ];

    #[tokio::test]
    async fn production_with_live_keys_and_official_hosts_starts() {
        assert!(
            production_gate(&config(LIVE), &secrets("sk_live_1", "rzp_live_1"), BOTH)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn production_refuses_samconfigs_placeholders_naming_each_one() {
        let mut placeholders = LIVE.to_vec();
        placeholders.retain(|(k, _)| !matches!(*k, "COGNITO_AUDIENCE" | "STRIPE_SECRET_ARN"));
        placeholders.push(("COGNITO_AUDIENCE", "REPLACEME"));
        placeholders.push((
            "STRIPE_SECRET_ARN",
            "arn:aws:secretsmanager:ap-south-1:000000000000:secret:oms-prod/stripe-REPLACEME",
        ));
        let e = production_gate(
            &config(&placeholders),
            &secrets("sk_live_1", "rzp_live_1"),
            BOTH,
        )
        .await
        .expect_err("placeholders refused");
        assert_eq!(
            e.to_string(),
            "refusing to start in production: COGNITO_AUDIENCE, STRIPE_SECRET_ARN still hold \
             samconfig.toml's REPLACEME placeholder"
        );
    }

    #[tokio::test]
    async fn production_refuses_test_keys_sandboxes_offline_mode_and_missing_secrets() {
        let refuse = |c: Config, s: StaticSecrets, why: &'static str| async move {
            let e = production_gate(&c, &s, BOTH).await.expect_err(why);
            assert!(e.to_string().contains(why), "{e}");
            assert!(
                !e.to_string().contains("sk_test_1"),
                "the secret is never printed"
            );
        };
        refuse(
            config(LIVE),
            secrets("sk_test_1", "rzp_live_1"),
            "Stripe secret key is a test key",
        )
        .await;
        refuse(
            config(LIVE),
            secrets("sk_live_1", "rzp_test_1"),
            "Razorpay key is a test key",
        )
        .await;
        let mut sandbox = LIVE.to_vec();
        sandbox.push(("RAZORPAY_API_BASE", "https://sandbox.razorpay.example"));
        refuse(
            config(&sandbox),
            secrets("sk_live_1", "rzp_live_1"),
            "not Razorpay's API",
        )
        .await;
        let mut no_hooks = secrets("sk_live_1", "rzp_live_1");
        no_hooks.stripe.webhook_secrets.clear();
        refuse(config(LIVE), no_hooks, "no Stripe webhook secret").await;
        let no_pool: Vec<_> = LIVE
            .iter()
            .filter(|(k, _)| !k.starts_with("COGNITO_"))
            .copied()
            .collect();
        refuse(
            config(&no_pool),
            secrets("sk_live_1", "rzp_live_1"),
            "COGNITO_ISSUER is not set",
        )
        .await;
        let mut other_idp = LIVE.to_vec();
        other_idp.retain(|(k, _)| *k != "COGNITO_ISSUER");
        other_idp.push(("COGNITO_ISSUER", "https://idp.example.com/pool"));
        refuse(
            config(&other_idp),
            secrets("sk_live_1", "rzp_live_1"),
            "not a Cognito user pool",
        )
        .await;
        refuse(
            config(&[("APP_ENV", "prod"), ("PAYMENT_PROVIDER_MODE", "offline")]),
            StaticSecrets::default(),
            "offline",
        )
        .await;
    }

    #[tokio::test]
    async fn a_function_is_checked_only_for_the_secrets_it_reads() {
        // The read API and the worker may not read provider secrets at all.
        let unreadable = StaticSecrets::default();
        assert!(
            production_gate(&config(LIVE), &unreadable, &[])
                .await
                .is_ok()
        );
        let e = production_gate(&config(LIVE), &unreadable, &[ProviderKind::Stripe])
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("Stripe secret key is missing"),
            "{e}"
        );
        // Hosts and the mode are checked everywhere: they need no secret.
        let mut sandbox = LIVE.to_vec();
        sandbox.push(("STRIPE_API_BASE", "https://stripe-mock.example"));
        assert!(
            production_gate(&config(&sandbox), &unreadable, &[])
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn outside_production_anything_goes() {
        let mut dev = LIVE.to_vec();
        dev[0] = ("APP_ENV", "dev");
        assert!(
            production_gate(&config(&dev), &secrets("sk_test_1", "rzp_test_1"), BOTH)
                .await
                .is_ok()
        );
    }
}
