//! The worker's configuration: seller details for invoices, the carrier and the notifier.
//! Integration credentials come from the environment, or — when `SHIPROCKET_SECRET_ARN` /
//! `WHATSAPP_SECRET_ARN` name a Secrets Manager document — from there, read at use through
//! the TTL cache (see [`FulfilmentConfig::use_secret_store`]).

use std::sync::Arc;

use oms_core::invoice::Seller;
use oms_core::ports::{Carrier, CredentialSource, Notifier};
use oms_providers::credentials::FixedCredentials;
use oms_providers::notify::{WHATSAPP_API_BASE, WhatsApp, WhatsAppConfig};
use oms_providers::shipping::{CarrierRouter, SHIPROCKET_API_BASE, Shiprocket, ShiprocketConfig};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

#[derive(Debug)]
pub struct FulfilmentConfig {
    pub seller: Seller,
    pub shiprocket: ShiprocketConfig,
    pub digital_skus: Vec<String>,
    pub whatsapp: WhatsAppConfig,
    pub max_receives: u32,
    /// Secrets Manager documents holding the integrations' credentials, if any.
    pub shiprocket_secret_arn: Option<String>,
    pub whatsapp_secret_arn: Option<String>,
}

fn flag(v: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match v.as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ConfigError(format!("'{other}' is not true or false"))),
    }
}

impl FulfilmentConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Both integrations default to their dry runs; leaving one requires its credentials.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let shiprocket_dry = flag(var("SHIPROCKET_DRY_RUN"), true)
            .map_err(|e| ConfigError(format!("SHIPROCKET_DRY_RUN: {e}")))?;
        let whatsapp_dry = flag(var("WHATSAPP_DRY_RUN"), true)
            .map_err(|e| ConfigError(format!("WHATSAPP_DRY_RUN: {e}")))?;
        let shiprocket_secret_arn = var("SHIPROCKET_SECRET_ARN");
        let whatsapp_secret_arn = var("WHATSAPP_SECRET_ARN");
        let need = |name: &str, live: bool| -> Result<String, ConfigError> {
            match var(name) {
                Some(v) => Ok(v),
                None if !live => Ok(String::new()),
                None => Err(ConfigError(format!(
                    "{name} is required when the integration is not a dry run (or give its secret's ARN)"
                ))),
            }
        };
        let max_receives = match var("MAX_RECEIVE_COUNT") {
            None => 5,
            Some(v) => v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ConfigError(format!("MAX_RECEIVE_COUNT '{v}' is not a positive number"))
            })?,
        };
        Ok(Self {
            seller: Seller {
                name: var("SELLER_NAME").unwrap_or_else(|| "Demo Store".into()),
                address: var("SELLER_ADDRESS").unwrap_or_else(|| "Bengaluru, Karnataka, IN".into()),
                tax_id: var("SELLER_TAX_ID"),
            },
            shiprocket: ShiprocketConfig {
                api_base: var("SHIPROCKET_API_BASE").unwrap_or_else(|| SHIPROCKET_API_BASE.into()),
                credentials: {
                    let live = !shiprocket_dry && shiprocket_secret_arn.is_none();
                    Arc::new(FixedCredentials::new([
                        ("email", need("SHIPROCKET_EMAIL", live)?),
                        ("password", need("SHIPROCKET_PASSWORD", live)?),
                    ]))
                },
                pickup_location: var("SHIPROCKET_PICKUP_LOCATION")
                    .unwrap_or_else(|| "Primary".into()),
                channel_id: var("SHIPROCKET_CHANNEL_ID"),
                parcel: (20.0, 15.0, 10.0, 0.5),
                dry_run: shiprocket_dry,
            },
            digital_skus: var("DIGITAL_SKUS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_else(|| vec!["GIFT-CARD-1000".into()]),
            whatsapp: WhatsAppConfig {
                api_base: var("WHATSAPP_API_BASE").unwrap_or_else(|| WHATSAPP_API_BASE.into()),
                phone_number_id: need("WHATSAPP_PHONE_NUMBER_ID", !whatsapp_dry)?,
                credentials: {
                    let live = !whatsapp_dry && whatsapp_secret_arn.is_none();
                    Arc::new(FixedCredentials::new([(
                        "token",
                        need("WHATSAPP_TOKEN", live)?,
                    )]))
                },
                template: var("WHATSAPP_TEMPLATE").unwrap_or_else(|| "order_shipped".into()),
                language: var("WHATSAPP_LANGUAGE").unwrap_or_else(|| "en".into()),
                dry_run: whatsapp_dry,
            },
            max_receives,
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

    pub fn carrier(&self, http: oms_providers::HttpClient) -> Arc<dyn Carrier> {
        Arc::new(CarrierRouter {
            physical: Arc::new(Shiprocket::new(http, self.shiprocket.clone())),
            digital_skus: self.digital_skus.clone(),
        })
    }

    pub fn notifier(&self, http: oms_providers::HttpClient) -> Arc<dyn Notifier> {
        Arc::new(WhatsApp::new(http, self.whatsapp.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<FulfilmentConfig, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        FulfilmentConfig::from_lookup(|k| map.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn dry_runs_need_no_credentials_and_live_integrations_do() {
        let c = load(&[]).unwrap();
        assert!(c.shiprocket.dry_run && c.whatsapp.dry_run);
        let e = load(&[("SHIPROCKET_DRY_RUN", "false")]).unwrap_err();
        assert!(e.to_string().contains("SHIPROCKET_EMAIL"), "{e}");
        let e = load(&[
            ("WHATSAPP_DRY_RUN", "false"),
            ("WHATSAPP_PHONE_NUMBER_ID", "1"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("WHATSAPP_TOKEN"), "{e}");
        assert!(
            load(&[
                ("SHIPROCKET_DRY_RUN", "false"),
                (
                    "SHIPROCKET_SECRET_ARN",
                    "arn:aws:secretsmanager:x:1:secret:sr"
                ),
            ])
            .is_ok(),
            "a secret's ARN stands in for the credentials"
        );
    }

    #[tokio::test]
    async fn credentials_come_from_the_secret_store_only_where_an_arn_is_given() {
        let mut c = load(&[
            ("SHIPROCKET_DRY_RUN", "false"),
            ("SHIPROCKET_EMAIL", "env@shop.example"),
            ("SHIPROCKET_PASSWORD", "env-pw"),
            (
                "WHATSAPP_SECRET_ARN",
                "arn:aws:secretsmanager:x:1:secret:wa",
            ),
        ])
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
