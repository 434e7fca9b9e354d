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
}

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
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
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
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_dry_run_needs_no_credentials_and_the_live_carrier_does_unless_a_secret_holds_them()
    {
        let c = ShippingConfig::read(&Env::from_pairs(&[])).unwrap();
        assert!(c.shiprocket.dry_run);
        let e =
            ShippingConfig::read(&Env::from_pairs(&[("SHIPROCKET_DRY_RUN", "false")])).unwrap_err();
        assert!(e.to_string().contains("SHIPROCKET_EMAIL"), "{e}");
        let mut c = ShippingConfig::read(&Env::from_pairs(&[
            ("SHIPROCKET_DRY_RUN", "false"),
            (
                "SHIPROCKET_SECRET_ARN",
                "arn:aws:secretsmanager:x:1:secret:sr",
            ),
        ]))
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
}
