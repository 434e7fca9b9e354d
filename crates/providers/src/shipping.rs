//! Carriers for [`oms_core::ports::Carrier`]:
//! - [`Shiprocket`]: the Shiprocket API v2 (token auth, create an ad-hoc order, assign an AWB,
//!   schedule the pickup; cancel a shipment by its AWB), with a **dry run**
//!   (`SHIPROCKET_DRY_RUN=true`, the default) that calls nothing, logs what it would send and
//!   returns a deterministic dry-run AWB;
//! - [`NoShipping`]: digital goods, nothing to ship (and nothing to cancel once delivered);
//! - [`CarrierRouter`]: picks one of them per order, and per shipment when cancelling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oms_core::ports::{Carrier, CarrierError, ShipmentCancel};
use oms_core::{Order, ShipmentInfo};
use reqwest::StatusCode;
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

/// Shiprocket's "Cancel a Shipment": `{"awbs": [..]}`, allowed before the shipment is "Out for
/// Pickup"; a 2xx means the cancellation was accepted ("... cancellation is in progress").
const CANCEL_PATH: &str = "/v1/external/orders/cancel/shipment/awbs";

/// The status of a shipment made by the dry run: Shiprocket has never heard of it.
const DRY_RUN_STATUS: &str = "dry_run";

/// What Shiprocket's answer to "cancel a shipment" means for us.
fn cancel_outcome(status: StatusCode, answer: &Value) -> Result<ShipmentCancel, CarrierError> {
    // Some Shiprocket APIs answer an error with a 200 whose body carries the real status code.
    let status = match answer["status_code"].as_u64() {
        Some(code @ 400..=599) if status.is_success() => u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(status),
        _ => status,
    };
    let message = answer["message"].as_str().unwrap_or_default();
    if status.is_success() {
        return Ok(ShipmentCancel::Cancelled);
    }
    let retryable = status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::TOO_MANY_REQUESTS
        );
    if retryable || !status.is_client_error() {
        return Err(CarrierError::Unavailable(format!(
            "shiprocket {CANCEL_PATH} answered {status}: {message}"
        )));
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("already cancel") || lower.contains("already been cancel") {
        // Cancelling twice is not an error for us: nothing will be picked up either way.
        return Ok(ShipmentCancel::Cancelled);
    }
    // Any other refusal is final: past "Out for Pickup" the shipment goes out, and when the
    // reason is something else we still could not stop it, so the goods must be assumed gone.
    tracing::warn!(%status, reason = message, "shiprocket refused to cancel the shipment");
    Ok(ShipmentCancel::TooLate)
}

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

    /// One POST: the status and JSON body of the answer (`Null` when it has none, as a 204).
    /// Only a request that got no answer is an error, `Unavailable`.
    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<(StatusCode, Value), CarrierError> {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req
            .send()
            .await
            .map_err(|e| CarrierError::Unavailable(format!("shiprocket {path}: {e}")))?;
        let status = res.status();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    async fn call(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Value, CarrierError> {
        let (status, body) = self.post(path, token, body).await?;
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

    /// Forgets `token` after Shiprocket refused it, so the next call logs in again (unless
    /// another call has already replaced it).
    async fn forget_token(&self, token: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|(t, _)| t == token) {
            *cached = None;
        }
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
            status: DRY_RUN_STATUS.into(),
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

    /// Shiprocket's "Cancel a Shipment" for the shipment's AWB. A refusal (4xx) is `TooLate`,
    /// except one saying it is already cancelled, which is `Cancelled`; 401/403/408/429/5xx and
    /// no answer are `Unavailable`. A 2xx only says the cancellation is under way at Shiprocket.
    #[tracing::instrument(skip_all, fields(shipment_id = %shipment.shipment_id, awb = %shipment.awb))]
    async fn cancel_shipment(
        &self,
        shipment: &ShipmentInfo,
    ) -> Result<ShipmentCancel, CarrierError> {
        let body = json!({"awbs": [shipment.awb]});
        if self.config.dry_run {
            tracing::info!(
                path = CANCEL_PATH,
                %body,
                "shiprocket dry run: would cancel the shipment by its AWB"
            );
            return Ok(ShipmentCancel::Cancelled);
        }
        if shipment.status == DRY_RUN_STATUS {
            // Made while the dry run was on: nothing was ever booked, so nothing will be picked up.
            tracing::info!("a dry-run shipment has nothing to cancel at shiprocket");
            return Ok(ShipmentCancel::Cancelled);
        }
        if shipment.awb.is_empty() {
            return Err(CarrierError::Rejected(
                "shiprocket cancels by AWB and this shipment has none".into(),
            ));
        }
        let token = self.token().await?;
        let (status, answer) = self.post(CANCEL_PATH, Some(&token), &body).await?;
        if status == StatusCode::UNAUTHORIZED {
            self.forget_token(&token).await;
        }
        cancel_outcome(status, &answer)
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

    /// A digital delivery cannot be taken back.
    async fn cancel_shipment(&self, _: &ShipmentInfo) -> Result<ShipmentCancel, CarrierError> {
        Ok(ShipmentCancel::TooLate)
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

    /// By the carrier that made the shipment: `"none"` is [`NoShipping`], any other `physical`.
    async fn cancel_shipment(
        &self,
        shipment: &ShipmentInfo,
    ) -> Result<ShipmentCancel, CarrierError> {
        if shipment.carrier == NoShipping.name() {
            NoShipping.cancel_shipment(shipment).await
        } else {
            self.physical.cancel_shipment(shipment).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shiprocket_answers_to_a_cancellation_mean_what_they_say() {
        use ShipmentCancel::{Cancelled, TooLate};
        let in_progress = json!({"message": "Bulk Shipment cancellation is in progress. Please wait for some time."});
        let cases: &[(u16, Value, Option<ShipmentCancel>)] = &[
            (200, in_progress.clone(), Some(Cancelled)),
            (204, Value::Null, Some(Cancelled)),
            (
                400,
                json!({"message": "Cannot cancel the shipment after pickup", "status_code": 400}),
                Some(TooLate),
            ),
            (
                422,
                json!({"message": "Shipment is in transit"}),
                Some(TooLate),
            ),
            (404, json!({"message": "AWB not found"}), Some(TooLate)),
            (
                400,
                json!({"message": "Shipment is already cancelled."}),
                Some(Cancelled),
            ),
            (
                400,
                json!({"message": "AWB has already been Canceled"}),
                Some(Cancelled),
            ),
            // An error in a 200, as some Shiprocket APIs answer.
            (
                200,
                json!({"message": "Cannot cancel after pickup", "status_code": 400}),
                Some(TooLate),
            ),
            (
                200,
                json!({"message": "Server error", "status_code": 500}),
                None,
            ),
            (
                200,
                json!({"message": "ok", "status_code": 200}),
                Some(Cancelled),
            ),
            (401, json!({"message": "Unauthenticated."}), None),
            (403, json!({"message": "Forbidden"}), None),
            (408, Value::Null, None),
            (429, json!({"message": "Too Many Attempts."}), None),
            (
                500,
                json!({"message": "Shipment is already cancelled"}),
                None,
            ),
            (502, Value::Null, None),
            (503, Value::Null, None),
        ];
        for (status, answer, expected) in cases {
            let outcome = cancel_outcome(StatusCode::from_u16(*status).unwrap(), answer);
            match expected {
                Some(e) => assert_eq!(outcome, Ok(*e), "{status} {answer}"),
                None => assert!(
                    matches!(outcome, Err(CarrierError::Unavailable(_))),
                    "{status} {answer}: {outcome:?}"
                ),
            }
        }
    }
}
