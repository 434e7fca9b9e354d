//! The post-payment worker's settings: the seller printed on invoices, the carrier and the
//! notifier. Both integrations default to their dry runs; leaving one requires its credentials,
//! from the environment or — when `SHIPROCKET_SECRET_ARN` / `WHATSAPP_SECRET_ARN` name a Secrets
//! Manager document — from there, read at use through the TTL cache.

use std::sync::Arc;

use oms_core::invoice::Seller;
use oms_core::ports::CredentialSource;
use oms_providers::credentials::FixedCredentials;
use oms_providers::notify::{WHATSAPP_API_BASE, WhatsAppConfig};
use oms_providers::shipping::{SHIPROCKET_API_BASE, ShiprocketConfig};

use super::env::{ConfigError, Env};

#[derive(Debug)]
pub struct FulfilmentConfig {
    pub seller: Seller,
    pub shiprocket: ShiprocketConfig,
    /// `DIGITAL_SKUS`: delivered without a shipment.
    pub digital_skus: Vec<String>,
    pub whatsapp: WhatsAppConfig,
    /// `MAX_RECEIVE_COUNT` (5): the queue's redrive setting, the receive on which a failure is final.
    pub max_receives: u32,
    pub shiprocket_secret_arn: Option<String>,
    pub whatsapp_secret_arn: Option<String>,
}

/// A credential that must be set when the integration is live and has no secret document.
fn credential(env: &Env, name: &'static str, live: bool) -> Result<String, ConfigError> {
    match env.var(name) {
        Some(v) => Ok(v),
        None if !live => Ok(String::new()),
        None => Err(ConfigError::Missing {
            name,
            hint: " when the integration is not a dry run (or give its secret's ARN)",
        }),
    }
}

impl FulfilmentConfig {
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        let shiprocket_secret_arn = env.var("SHIPROCKET_SECRET_ARN");
        let whatsapp_secret_arn = env.var("WHATSAPP_SECRET_ARN");
        let sr_live = !env.flag("SHIPROCKET_DRY_RUN", true)?;
        let wa_live = !env.flag("WHATSAPP_DRY_RUN", true)?;
        let sr_creds = sr_live && shiprocket_secret_arn.is_none();
        let wa_creds = wa_live && whatsapp_secret_arn.is_none();
        let or = |name: &str, default: &str| env.var(name).unwrap_or_else(|| default.into());
        Ok(Self {
            seller: Seller {
                name: or("SELLER_NAME", "Demo Store"),
                address: or("SELLER_ADDRESS", "Bengaluru, Karnataka, IN"),
                tax_id: env.var("SELLER_TAX_ID"),
            },
            shiprocket: ShiprocketConfig {
                api_base: or("SHIPROCKET_API_BASE", SHIPROCKET_API_BASE),
                credentials: Arc::new(FixedCredentials::new([
                    ("email", credential(env, "SHIPROCKET_EMAIL", sr_creds)?),
                    (
                        "password",
                        credential(env, "SHIPROCKET_PASSWORD", sr_creds)?,
                    ),
                ])),
                pickup_location: or("SHIPROCKET_PICKUP_LOCATION", "Primary"),
                channel_id: env.var("SHIPROCKET_CHANNEL_ID"),
                parcel: (20.0, 15.0, 10.0, 0.5),
                dry_run: !sr_live,
            },
            digital_skus: env
                .list("DIGITAL_SKUS")
                .unwrap_or_else(|| vec!["GIFT-CARD-1000".into()]),
            whatsapp: WhatsAppConfig {
                api_base: or("WHATSAPP_API_BASE", WHATSAPP_API_BASE),
                phone_number_id: credential(env, "WHATSAPP_PHONE_NUMBER_ID", wa_live)?,
                credentials: Arc::new(FixedCredentials::new([(
                    "token",
                    credential(env, "WHATSAPP_TOKEN", wa_creds)?,
                )])),
                template: or("WHATSAPP_TEMPLATE", "order_shipped"),
                language: or("WHATSAPP_LANGUAGE", "en"),
                dry_run: !wa_live,
            },
            max_receives: env.number("MAX_RECEIVE_COUNT", 5, 1..=1000, "receives")?,
            shiprocket_secret_arn,
            whatsapp_secret_arn,
        })
    }

    /// Takes each integration's credentials from its secret document where an ARN was given;
    /// `document` builds the source for an ARN and the integration's name.
    pub fn use_secret_store(
        &mut self,
        mut document: impl FnMut(String, &'static str) -> Arc<dyn CredentialSource>,
    ) {
        if let Some(arn) = self.shiprocket_secret_arn.clone() {
            self.shiprocket.credentials = document(arn, "shiprocket");
        }
        if let Some(arn) = self.whatsapp_secret_arn.clone() {
            self.whatsapp.credentials = document(arn, "whatsapp");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_runs_need_no_credentials_and_live_integrations_do() {
        let c = FulfilmentConfig::read(&Env::from_pairs(&[])).unwrap();
        assert!(c.shiprocket.dry_run && c.whatsapp.dry_run);
        let e = FulfilmentConfig::read(&Env::from_pairs(&[("SHIPROCKET_DRY_RUN", "false")]))
            .unwrap_err();
        assert!(e.to_string().contains("SHIPROCKET_EMAIL"), "{e}");
        let e = FulfilmentConfig::read(&Env::from_pairs(&[
            ("WHATSAPP_DRY_RUN", "false"),
            ("WHATSAPP_PHONE_NUMBER_ID", "1"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("WHATSAPP_TOKEN"), "{e}");
        let arn = [
            ("SHIPROCKET_DRY_RUN", "false"),
            (
                "SHIPROCKET_SECRET_ARN",
                "arn:aws:secretsmanager:x:1:secret:sr",
            ),
        ];
        assert!(
            FulfilmentConfig::read(&Env::from_pairs(&arn)).is_ok(),
            "a secret's ARN stands in for the credentials"
        );
        let e =
            FulfilmentConfig::read(&Env::from_pairs(&[("MAX_RECEIVE_COUNT", "0")])).unwrap_err();
        assert!(e.to_string().contains("MAX_RECEIVE_COUNT"), "{e}");
    }

    #[tokio::test]
    async fn credentials_come_from_the_secret_store_only_where_an_arn_is_given() {
        let mut c = FulfilmentConfig::read(&Env::from_pairs(&[
            ("SHIPROCKET_DRY_RUN", "false"),
            ("SHIPROCKET_EMAIL", "env@shop.example"),
            ("SHIPROCKET_PASSWORD", "env-pw"),
            (
                "WHATSAPP_SECRET_ARN",
                "arn:aws:secretsmanager:x:1:secret:wa",
            ),
        ]))
        .unwrap();
        let mut asked = Vec::new();
        c.use_secret_store(|arn, name| {
            asked.push((arn.clone(), name));
            Arc::new(FixedCredentials::new([("token", "from-store".into())]))
        });
        assert_eq!(
            asked,
            vec![(
                "arn:aws:secretsmanager:x:1:secret:wa".to_owned(),
                "whatsapp"
            )]
        );
        let token = c.whatsapp.credentials.field("token").await.unwrap();
        assert_eq!(token.expose(), "from-store");
        let pw = c.shiprocket.credentials.field("password").await.unwrap();
        assert_eq!(pw.expose(), "env-pw");
    }
}
