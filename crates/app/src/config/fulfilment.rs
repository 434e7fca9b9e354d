//! The post-payment worker's settings: the seller printed on invoices and the notifier (the
//! carrier is everyone's: `shipping.rs`). The notifier defaults to its dry run; leaving it
//! requires its credentials, from the environment or — when `WHATSAPP_SECRET_ARN` names a
//! Secrets Manager document — from there, read at use through the TTL cache.

use std::sync::Arc;

use oms_core::invoice::Seller;
use oms_core::ports::CredentialSource;
use oms_providers::credentials::FixedCredentials;
use oms_providers::notify::{WHATSAPP_API_BASE, WhatsAppConfig};

use super::env::{ConfigError, Env};
use super::shipping::credential;

#[derive(Debug)]
pub struct FulfilmentConfig {
    pub seller: Seller,
    pub whatsapp: WhatsAppConfig,
    /// `MAX_RECEIVE_COUNT` (5): the queue's redrive setting, the receive on which a failure is final.
    pub max_receives: u32,
    pub whatsapp_secret_arn: Option<String>,
}

impl FulfilmentConfig {
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        let whatsapp_secret_arn = env.var("WHATSAPP_SECRET_ARN");
        let wa_live = !env.flag("WHATSAPP_DRY_RUN", true)?;
        let wa_creds = wa_live && whatsapp_secret_arn.is_none();
        let or = |name: &str, default: &str| env.var(name).unwrap_or_else(|| default.into());
        Ok(Self {
            seller: Seller {
                name: or("SELLER_NAME", "Demo Store"),
                address: or("SELLER_ADDRESS", "Bengaluru, Karnataka, IN"),
                tax_id: env.var("SELLER_TAX_ID"),
            },
            whatsapp: WhatsAppConfig {
                api_base: or("WHATSAPP_API_BASE", WHATSAPP_API_BASE),
                phone_number_id: credential(env, "WHATSAPP_PHONE_NUMBER_ID", wa_live)?,
                credentials: Arc::new(FixedCredentials::new([(
                    "token",
                    credential(env, "WHATSAPP_TOKEN", wa_creds)?,
                )])),
                template: or("WHATSAPP_TEMPLATE", "order_shipped"),
                out_for_delivery_template: or(
                    "WHATSAPP_TEMPLATE_OUT_FOR_DELIVERY",
                    "order_out_for_delivery",
                ),
                delivered_template: or("WHATSAPP_TEMPLATE_DELIVERED", "order_delivered"),
                language: or("WHATSAPP_LANGUAGE", "en"),
                dry_run: !wa_live,
            },
            max_receives: env.number("MAX_RECEIVE_COUNT", 5, 1..=1000, "receives")?,
            whatsapp_secret_arn,
        })
    }

    /// Takes the notifier's credentials from its secret document where an ARN was given;
    /// `document` builds the source for an ARN and the integration's name.
    pub fn use_secret_store(
        &mut self,
        document: impl FnOnce(String, &'static str) -> Arc<dyn CredentialSource>,
    ) {
        if let Some(arn) = self.whatsapp_secret_arn.clone() {
            self.whatsapp.credentials = document(arn, "whatsapp");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dry_run_needs_no_credentials_and_the_live_notifier_does() {
        let c = FulfilmentConfig::read(&Env::from_pairs(&[])).unwrap();
        assert!(c.whatsapp.dry_run);
        let e = FulfilmentConfig::read(&Env::from_pairs(&[
            ("WHATSAPP_DRY_RUN", "false"),
            ("WHATSAPP_PHONE_NUMBER_ID", "1"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("WHATSAPP_TOKEN"), "{e}");
        let e =
            FulfilmentConfig::read(&Env::from_pairs(&[("MAX_RECEIVE_COUNT", "0")])).unwrap_err();
        assert!(e.to_string().contains("MAX_RECEIVE_COUNT"), "{e}");
    }

    #[tokio::test]
    async fn the_token_comes_from_the_secret_store_only_where_an_arn_is_given() {
        let mut c = FulfilmentConfig::read(&Env::from_pairs(&[(
            "WHATSAPP_SECRET_ARN",
            "arn:aws:secretsmanager:x:1:secret:wa",
        )]))
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
        let none = FulfilmentConfig::read(&Env::from_pairs(&[])).unwrap();
        let mut called = false;
        let mut none = none;
        none.use_secret_store(|_, _| {
            called = true;
            Arc::new(FixedCredentials::new([]))
        });
        assert!(!called);
    }
}
