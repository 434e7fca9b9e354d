//! The carrier: Shiprocket for physical goods (a dry run by default), none for the SKUs sold
//! digitally. Read by every function: the worker creates shipments, the cancel route cancels
//! them before pickup. Leaving the dry run requires credentials, from the environment or —
//! when `SHIPROCKET_SECRET_ARN` names a Secrets Manager document — from there, read at use
//! through the TTL cache.

use std::sync::Arc;

use oms_core::ports::CredentialSource;
use oms_providers::credentials::FixedCredentials;
use oms_providers::shipping::{SHIPROCKET_API_BASE, ShiprocketConfig};

use super::env::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct ShippingConfig {
    pub shiprocket: ShiprocketConfig,
    /// `DIGITAL_SKUS`: delivered without a shipment.
    pub digital_skus: Vec<String>,
    pub shiprocket_secret_arn: Option<String>,
    /// The tokens Shiprocket's tracking webhook must present in `x-api-key` (fields `token`
    /// and, during a rotation, `previousToken`): `SHIPROCKET_WEBHOOK_TOKEN` (`current` or
    /// `current,previous`) locally; the document at `SHIPROCKET_WEBHOOK_SECRET_ARN` in AWS.
    /// Offline, a documented development token when unset; otherwise none, and every
    /// delivery is refused.
    pub tracking_tokens: Arc<dyn CredentialSource>,
    pub tracking_secret_arn: Option<String>,
}

/// The tracking webhook's token offline (the dev server, tests) when none is set.
pub const DEV_SHIPROCKET_WEBHOOK_TOKEN: &str = "shiprocket_token_dev_local_only";

/// A credential that must be set when the integration is live and has no secret document.
pub(super) fn credential(env: &Env, name: &'static str, live: bool) -> Result<String, ConfigError> {
    match env.var(name) {
        Some(v) => Ok(v),
        None if !live => Ok(String::new()),
        None => Err(ConfigError::Missing {
            name,
            hint: " when the integration is not a dry run (or give its secret's ARN)",
        }),
    }
}

impl ShippingConfig {
    /// `offline`: the host runs without real providers (the dev server, tests).
    pub fn read(env: &Env, offline: bool) -> Result<Self, ConfigError> {
        let shiprocket_secret_arn = env.var("SHIPROCKET_SECRET_ARN");
        let live = !env.flag("SHIPROCKET_DRY_RUN", true)?;
        let creds = live && shiprocket_secret_arn.is_none();
        let or = |name: &str, default: &str| env.var(name).unwrap_or_else(|| default.into());
        Ok(Self {
            shiprocket: ShiprocketConfig {
                api_base: or("SHIPROCKET_API_BASE", SHIPROCKET_API_BASE),
                credentials: Arc::new(FixedCredentials::new([
                    ("email", credential(env, "SHIPROCKET_EMAIL", creds)?),
                    ("password", credential(env, "SHIPROCKET_PASSWORD", creds)?),
                ])),
                pickup_location: or("SHIPROCKET_PICKUP_LOCATION", "Primary"),
                channel_id: env.var("SHIPROCKET_CHANNEL_ID"),
                parcel: (20.0, 15.0, 10.0, 0.5),
                dry_run: !live,
            },
            digital_skus: env
                .list("DIGITAL_SKUS")
                .unwrap_or_else(|| vec!["GIFT-CARD-1000".into()]),
            shiprocket_secret_arn,
            tracking_tokens: Arc::new(tracking_tokens(env, offline)),
            tracking_secret_arn: env.var("SHIPROCKET_WEBHOOK_SECRET_ARN"),
        })
    }

    /// Takes the tracking webhook's tokens from their secret document where an ARN was given.
    pub fn use_tracking_secret(
        &mut self,
        document: impl FnOnce(String, &'static str) -> Arc<dyn CredentialSource>,
    ) {
        if let Some(arn) = self.tracking_secret_arn.clone() {
            self.tracking_tokens = document(arn, "shiprocket-webhook");
        }
    }

    /// Takes Shiprocket's credentials from its secret document where an ARN was given;
    /// `document` builds the source for an ARN and the integration's name.
    pub fn use_secret_store(
        &mut self,
        document: impl FnOnce(String, &'static str) -> Arc<dyn CredentialSource>,
    ) {
        if let Some(arn) = self.shiprocket_secret_arn.clone() {
            self.shiprocket.credentials = document(arn, "shiprocket");
        }
    }
}

fn tracking_tokens(env: &Env, offline: bool) -> FixedCredentials {
    let value = env
        .var("SHIPROCKET_WEBHOOK_TOKEN")
        .or_else(|| offline.then(|| DEV_SHIPROCKET_WEBHOOK_TOKEN.to_owned()))
        .unwrap_or_default();
    let mut tokens = value.split(',').map(str::trim).map(str::to_owned);
    FixedCredentials::new([
        ("token", tokens.next().unwrap_or_default()),
        ("previousToken", tokens.next().unwrap_or_default()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_dry_run_needs_no_credentials_and_the_live_carrier_does_unless_a_secret_holds_them()
    {
        let c = ShippingConfig::read(&Env::from_pairs(&[]), false).unwrap();
        assert!(c.shiprocket.dry_run);
        let e = ShippingConfig::read(&Env::from_pairs(&[("SHIPROCKET_DRY_RUN", "false")]), false)
            .unwrap_err();
        assert!(e.to_string().contains("SHIPROCKET_EMAIL"), "{e}");
        let mut c = ShippingConfig::read(
            &Env::from_pairs(&[
                ("SHIPROCKET_DRY_RUN", "false"),
                (
                    "SHIPROCKET_SECRET_ARN",
                    "arn:aws:secretsmanager:x:1:secret:sr",
                ),
            ]),
            false,
        )
        .expect("a secret's ARN stands in for the credentials");
        let mut asked = Vec::new();
        c.use_secret_store(|arn, name| {
            asked.push((arn, name));
            Arc::new(FixedCredentials::new([("password", "from-store".into())]))
        });
        assert_eq!(
            asked,
            vec![(
                "arn:aws:secretsmanager:x:1:secret:sr".to_owned(),
                "shiprocket"
            )]
        );
        let pw = c.shiprocket.credentials.field("password").await.unwrap();
        assert_eq!(pw.expose(), "from-store");
    }

    #[tokio::test]
    async fn the_tracking_token_is_set_or_offline_only_a_development_one() {
        let field = |c: &ShippingConfig, f: &'static str| {
            let creds = c.tracking_tokens.clone();
            async move { creds.field(f).await.ok().map(|s| s.expose().to_owned()) }
        };
        let deployed = ShippingConfig::read(&Env::from_pairs(&[]), false).unwrap();
        assert_eq!(
            field(&deployed, "token").await,
            None,
            "no token: nothing accepted"
        );
        let offline = ShippingConfig::read(&Env::from_pairs(&[]), true).unwrap();
        assert_eq!(
            field(&offline, "token").await.as_deref(),
            Some(DEV_SHIPROCKET_WEBHOOK_TOKEN)
        );
        let rotating = ShippingConfig::read(
            &Env::from_pairs(&[("SHIPROCKET_WEBHOOK_TOKEN", "new-one, old-one")]),
            true,
        )
        .unwrap();
        assert_eq!(field(&rotating, "token").await.as_deref(), Some("new-one"));
        assert_eq!(
            field(&rotating, "previousToken").await.as_deref(),
            Some("old-one")
        );
    }
}
