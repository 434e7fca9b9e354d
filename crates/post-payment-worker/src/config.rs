//! The worker's configuration: seller details for invoices, the carrier and the notifier.

use std::sync::Arc;

use oms_core::Secret;
use oms_core::invoice::Seller;
use oms_core::ports::{Carrier, Notifier};
use oms_providers::notify::{WHATSAPP_API_BASE, WhatsApp, WhatsAppConfig};
use oms_providers::shipping::{CarrierRouter, SHIPROCKET_API_BASE, Shiprocket, ShiprocketConfig};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

pub struct FulfilmentConfig {
    pub seller: Seller,
    pub shiprocket: ShiprocketConfig,
    pub digital_skus: Vec<String>,
    pub whatsapp: WhatsAppConfig,
    pub max_receives: u32,
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
        let need = |name: &str, live: bool| -> Result<String, ConfigError> {
            match var(name) {
                Some(v) => Ok(v),
                None if !live => Ok(String::new()),
                None => Err(ConfigError(format!(
                    "{name} is required when the integration is not a dry run"
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
                email: need("SHIPROCKET_EMAIL", !shiprocket_dry)?,
                password: Secret::new(need("SHIPROCKET_PASSWORD", !shiprocket_dry)?),
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
                token: Secret::new(need("WHATSAPP_TOKEN", !whatsapp_dry)?),
                template: var("WHATSAPP_TEMPLATE").unwrap_or_else(|| "order_shipped".into()),
                language: var("WHATSAPP_LANGUAGE").unwrap_or_else(|| "en".into()),
                dry_run: whatsapp_dry,
            },
            max_receives,
        })
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
