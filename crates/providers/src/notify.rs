//! Customer notifications for [`oms_core::ports::Notifier`]: the WhatsApp Cloud API (a template
//! message to the buyer's phone), with a **dry run** (`WHATSAPP_DRY_RUN=true`, the default) that
//! sends nothing and logs what it would send (the phone number masked).

use std::sync::Arc;

use async_trait::async_trait;
use oms_core::Order;
use oms_core::ports::{Notifier, NotifyError};
use oms_core::tracking::ShipmentState;
use serde_json::{Value, json};

use crate::credentials::CredentialSource;

#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    /// `https://graph.facebook.com/v21.0`, or a local stub in tests.
    pub api_base: String,
    pub phone_number_id: String,
    /// `token`: the Cloud API access token, read at each message (so a rotation is picked up).
    pub credentials: Arc<dyn CredentialSource>,
    /// An approved template taking the order number and the tracking number: the fulfilment
    /// message (`WHATSAPP_TEMPLATE`).
    pub template: String,
    /// The same shape, sent when the parcel is out for delivery
    /// (`WHATSAPP_TEMPLATE_OUT_FOR_DELIVERY`) and when it is delivered
    /// (`WHATSAPP_TEMPLATE_DELIVERED`).
    pub out_for_delivery_template: String,
    pub delivered_template: String,
    pub language: String,
    pub dry_run: bool,
}

pub const WHATSAPP_API_BASE: &str = "https://graph.facebook.com/v21.0";

pub struct WhatsApp {
    http: reqwest::Client,
    config: WhatsAppConfig,
}

fn masked(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().rev().take(2).rev().collect();
    format!("…{tail}")
}

impl WhatsApp {
    pub fn new(http: reqwest::Client, config: WhatsAppConfig) -> Self {
        Self { http, config }
    }

    /// The fulfilment message body for `order` sent to `to` (digits only, with country code).
    pub fn message(&self, order: &Order, to: &str) -> Value {
        self.template_message(&self.config.template, order, to)
    }

    /// The template a shipment state's message uses.
    pub fn template_for(&self, state: ShipmentState) -> Option<&str> {
        match state {
            ShipmentState::OutForDelivery => Some(&self.config.out_for_delivery_template),
            ShipmentState::Delivered => Some(&self.config.delivered_template),
            _ => None,
        }
    }

    /// The body of template `name` for `order`, to `to`: the order number and the AWB.
    pub fn template_message(&self, name: &str, order: &Order, to: &str) -> Value {
        let awb = order
            .shipment()
            .map(|s| s.awb.clone())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "-".into());
        json!({
            "messaging_product": "whatsapp",
            "to": to,
            "type": "template",
            "template": {
                "name": name,
                "language": {"code": self.config.language},
                "components": [{
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": order.number().as_str()},
                        {"type": "text", "text": awb},
                    ],
                }],
            },
        })
    }
}

impl WhatsApp {
    /// Sends template `template` about `order` to its buyer (or, in the dry run, logs it);
    /// `what` names the message in logs.
    async fn send(&self, order: &Order, template: &str, what: &str) -> Result<(), NotifyError> {
        let Some(phone) = order.customer().phone.as_ref() else {
            tracing::info!("no phone number: no WhatsApp message");
            return Ok(());
        };
        let to: String = phone
            .as_str()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if self.config.dry_run {
            tracing::info!(to = %masked(&to), template, message = what, "whatsapp dry run: would send the message");
            return Ok(());
        }
        let url = format!(
            "{}/{}/messages",
            self.config.api_base.trim_end_matches('/'),
            self.config.phone_number_id
        );
        let token = self
            .config
            .credentials
            .field("token")
            .await
            .map_err(|e| NotifyError(format!("whatsapp: {e}")))?;
        let res = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .json(&self.template_message(template, order, &to))
            .send()
            .await
            .map_err(|e| NotifyError(format!("whatsapp: {e}")))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(NotifyError(format!("whatsapp answered {}", res.status())))
        }
    }
}

#[async_trait]
impl Notifier for WhatsApp {
    #[tracing::instrument(skip_all, fields(order_id = %order.id()))]
    async fn order_fulfilled(&self, order: &Order) -> Result<(), NotifyError> {
        self.send(order, &self.config.template, "fulfilled").await
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id(), state = state.as_str()))]
    async fn shipment_update(
        &self,
        order: &Order,
        state: ShipmentState,
    ) -> Result<(), NotifyError> {
        match self.template_for(state) {
            Some(template) => self.send(order, template, state.as_str()).await,
            None => Ok(()),
        }
    }
}
