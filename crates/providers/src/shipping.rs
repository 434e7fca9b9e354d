//! Carriers for [`oms_core::ports::Carrier`]:
//! - [`Shiprocket`]: the Shiprocket API v2 (token auth, create an ad-hoc order, assign an AWB,
//!   schedule the pickup), with a **dry run** (`SHIPROCKET_DRY_RUN=true`, the default) that calls
//!   nothing, logs what it would send and returns a deterministic dry-run AWB;
//! - [`NoShipping`]: digital goods, nothing to ship;
//! - [`CarrierRouter`]: picks one of them per order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oms_core::ports::{Carrier, CarrierError, ShipmentCancel};
use oms_core::{Order, ShipmentInfo};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::credentials::CredentialSource;

#[derive(Debug, Clone)]
pub struct ShiprocketConfig {
    /// `https://apiv2.shiprocket.in`, or a local stub in tests.
    pub api_base: String,
    /// `email` and `password` of the API user, read at each login (so a rotation is picked up).
    pub credentials: Arc<dyn CredentialSource>,
    /// The pickup location's name as configured in Shiprocket (`SHIPROCKET_PICKUP_LOCATION`).
    pub pickup_location: String,
    /// `SHIPROCKET_CHANNEL_ID`, when the account uses one.
    pub channel_id: Option<String>,
    /// Default parcel dimensions (cm) and weight (kg) until the catalog carries them.
    pub parcel: (f64, f64, f64, f64),
    pub dry_run: bool,
}

pub const SHIPROCKET_API_BASE: &str = "https://apiv2.shiprocket.in";

pub struct Shiprocket {
    http: reqwest::Client,
    config: ShiprocketConfig,
    /// Tokens are valid for 10 days; one is reused for a day.
    token: Mutex<Option<(String, Instant)>>,
}

const TOKEN_REUSE: Duration = Duration::from_secs(24 * 60 * 60);

/// Major units with two decimals, as Shiprocket expects prices.
fn major(minor: i64) -> f64 {
    minor as f64 / 100.0
}

impl Shiprocket {
    pub fn new(http: reqwest::Client, config: ShiprocketConfig) -> Self {
        Self {
            http,
            config,
            token: Mutex::new(None),
        }
    }

    /// The body of "create custom order" for `order`.
    pub fn order_body(&self, order: &Order) -> Value {
        let a = order.shipping_address();
        let c = order.customer();
        let (length, breadth, height, weight) = self.config.parcel;
        let items: Vec<Value> = order
            .lines()
            .iter()
            .map(|l| {
                json!({
                    "name": l.name,
                    "sku": l.sku.as_str(),
                    "units": l.quantity.get(),
                    "selling_price": major(l.unit_price.minor()),
                })
            })
            .collect();
        let mut body = json!({
            // Our order id: Shiprocket's channel order id, so a retry can be recognised.
            "order_id": order.id().as_str(),
            "order_date": order.created_at().to_string().replace('T', " ").chars().take(16).collect::<String>(),
            "pickup_location": self.config.pickup_location,
            "billing_customer_name": a.name,
            "billing_last_name": "",
            "billing_address": a.line1,
            "billing_address_2": a.line2.clone().unwrap_or_default(),
            "billing_city": a.city,
            "billing_pincode": a.postal_code,
            "billing_state": a.state,
            "billing_country": a.country.as_str(),
            "billing_email": c.email.as_str(),
            "billing_phone": c.phone.as_ref().map(|p| p.as_str().chars().filter(char::is_ascii_digit).collect::<String>()).unwrap_or_default(),
            "shipping_is_billing": true,
            "order_items": items,
            "payment_method": "Prepaid",
            "sub_total": major(order.total().minor()),
            "length": length,
            "breadth": breadth,
            "height": height,
            "weight": weight,
        });
        if let Some(channel) = &self.config.channel_id {
            body["channel_id"] = json!(channel);
        }
        body
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }

    async fn call(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Value, CarrierError> {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req
            .send()
            .await
            .map_err(|e| CarrierError::Unavailable(format!("shiprocket {path}: {e}")))?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else if status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 401 {
            Err(CarrierError::Unavailable(format!(
                "shiprocket {path} answered {status}: {}",
                body["message"]
            )))
        } else {
            Err(CarrierError::Rejected(format!(
                "shiprocket {path} answered {status}: {}",
                body["message"]
            )))
        }
    }

    async fn token(&self) -> Result<String, CarrierError> {
        let mut cached = self.token.lock().await;
        if let Some((t, at)) = cached.as_ref()
            && at.elapsed() < TOKEN_REUSE
        {
            return Ok(t.clone());
        }
        let creds = &self.config.credentials;
        let unavailable = |e: crate::credentials::CredentialError| {
            CarrierError::Unavailable(format!("shiprocket login: {e}"))
        };
        let email = creds.field("email").await.map_err(unavailable)?;
        let password = creds.field("password").await.map_err(unavailable)?;
        let body = json!({"email": email.expose(), "password": password.expose()});
        let res = self.call("/v1/external/auth/login", None, &body).await?;
        let token = res["token"]
            .as_str()
            .ok_or_else(|| CarrierError::Unavailable("shiprocket login returned no token".into()))?
            .to_owned();
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    fn dry_run(&self, order: &Order) -> ShipmentInfo {
        let digest = hex::encode(Sha256::digest(order.id().as_str().as_bytes()));
        let digits: String = digest
            .chars()
            .filter(char::is_ascii_digit)
            .take(10)
            .collect();
        tracing::info!(
            order_id = %order.id(),
            pickup_location = %self.config.pickup_location,
            lines = order.lines().len(),
            "shiprocket dry run: would create the order, assign an AWB and schedule a pickup"
        );
        ShipmentInfo {
            carrier: "shiprocket".into(),
            shipment_id: format!("DRY-{}", &digest[..12]),
            awb: format!("DRYRUN{digits:0<10}"),
            status: "dry_run".into(),
        }
    }
}

#[async_trait]
impl Carrier for Shiprocket {
    fn name(&self) -> &'static str {
        "shiprocket"
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()))]
    async fn create_shipment(&self, order: &Order) -> Result<ShipmentInfo, CarrierError> {
        if self.config.dry_run {
            return Ok(self.dry_run(order));
        }
        let token = self.token().await?;
        let created = self
            .call(
                "/v1/external/orders/create/adhoc",
                Some(&token),
                &self.order_body(order),
            )
            .await?;
        let shipment_id = created["shipment_id"]
            .as_i64()
            .map(|n| n.to_string())
            .or_else(|| created["shipment_id"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                CarrierError::Rejected(format!("shiprocket created no shipment: {created}"))
            })?;
        let assigned = self
            .call(
                "/v1/external/courier/assign/awb",
                Some(&token),
                &json!({"shipment_id": shipment_id}),
            )
            .await?;
        let awb = assigned
            .pointer("/response/data/awb_code")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                CarrierError::Rejected(format!("shiprocket assigned no AWB: {assigned}"))
            })?
            .to_owned();
        self.call(
            "/v1/external/courier/generate/pickup",
            Some(&token),
            &json!({"shipment_id": [shipment_id]}),
        )
        .await?;
        Ok(ShipmentInfo {
            carrier: "shiprocket".into(),
            shipment_id,
            awb,
            status: "pickup_scheduled".into(),
        })
    }

    async fn cancel_shipment(&self, _: &ShipmentInfo) -> Result<ShipmentCancel, CarrierError> {
        Err(CarrierError::Unavailable(
            "shipment cancellation is being built".into(),
        ))
    }
}

/// Digital goods: nothing leaves the warehouse.
pub struct NoShipping;

#[async_trait]
impl Carrier for NoShipping {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn create_shipment(&self, order: &Order) -> Result<ShipmentInfo, CarrierError> {
        Ok(ShipmentInfo {
            carrier: "none".into(),
            shipment_id: format!("digital-{}", order.id()),
            awb: String::new(),
            status: "delivered_digitally".into(),
        })
    }

    async fn cancel_shipment(&self, _: &ShipmentInfo) -> Result<ShipmentCancel, CarrierError> {
        Err(CarrierError::Unavailable(
            "shipment cancellation is being built".into(),
        ))
    }
}

/// Ships physical orders with `physical`; orders made only of SKUs in `digital_skus`
/// (`DIGITAL_SKUS`) need no shipment.
pub struct CarrierRouter {
    pub physical: Arc<dyn Carrier>,
    pub digital_skus: Vec<String>,
}

#[async_trait]
impl Carrier for CarrierRouter {
    fn name(&self) -> &'static str {
        self.physical.name()
    }

    async fn create_shipment(&self, order: &Order) -> Result<ShipmentInfo, CarrierError> {
        let all_digital = order
            .lines()
            .iter()
            .all(|l| self.digital_skus.iter().any(|d| d == l.sku.as_str()));
        if all_digital {
            NoShipping.create_shipment(order).await
        } else {
            self.physical.create_shipment(order).await
        }
    }

    async fn cancel_shipment(&self, _: &ShipmentInfo) -> Result<ShipmentCancel, CarrierError> {
        Err(CarrierError::Unavailable(
            "shipment cancellation is being built".into(),
        ))
    }
}
