//! `POST /webhooks/stripe`, `POST /webhooks/razorpay`: verify the signature on the raw bytes,
//! normalise, and hand the event to [`oms_core::app::webhook::handle_event`]. Every correctly
//! signed event is answered `200 {"received":true}` (duplicates and ignored types included);
//! a bad signature is `400 invalid_signature` and changes nothing; 5xx only when a dependency is
//! down, so the provider retries.
//!
//! `POST /orders/{orderId}/razorpay/verify`: the storefront's Razorpay Checkout confirmation.
//!
//! `POST /webhooks/shiprocket` (and `POST /webhooks/courier-tracking`, the same handler under a
//! path Shiprocket's panel accepts: it refuses callback URLs containing "shiprocket", "sr" or
//! "kr"): the carrier's tracking updates, authenticated by the token of our choosing it sends
//! in `x-api-key`, compared in constant time. A missing or wrong token is `401` and changes
//! nothing; every authentic delivery is answered `200 {"received":true}`.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Json;
use axum::routing::post;
use oms_core::ProviderKind;
use oms_core::app::checkout::{CheckoutConfirmation, verify_razorpay};
use oms_core::app::refund;
use oms_core::app::tracking::{Tracked, handle_tracking};
use oms_core::app::webhook::{Delivery, EventSource, Handled, handle_event_with};
use oms_core::tracking;
use oms_core::webhook::signature::{SignatureError, verify_razorpay as verify_rzp, verify_stripe};
use oms_core::webhook::{PaymentEvent, razorpay, stripe};
use oms_http::{ApiError, AppState, Caller, JsonBody, PathParam, RawBody, RequestId};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/stripe", post(stripe_webhook))
        .route("/webhooks/razorpay", post(razorpay_webhook))
        .route(
            "/orders/{orderId}/razorpay/verify",
            post(razorpay_checkout_verify),
        )
        .route("/webhooks/shiprocket", post(shiprocket_webhook))
        .route("/webhooks/courier-tracking", post(shiprocket_webhook))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A signature failure: logged with its reason (never the header or the secret) and answered 400;
/// a missing secret is our misconfiguration, answered 500 so the provider keeps retrying until
/// it is fixed.
fn rejected(provider: ProviderKind, e: SignatureError) -> ApiError {
    if e == SignatureError::NoSecret {
        tracing::error!(provider = provider.as_str(), "no webhook secret configured");
        return ApiError::internal(&e);
    }
    tracing::warn!(provider = provider.as_str(), reason = %e, "webhook signature rejected");
    metrics::counter!("webhook_failures", "provider" => provider.as_str(), "reason" => "signature")
        .increment(1);
    ApiError::invalid_signature()
}

async fn secrets(
    state: &AppState,
    provider: ProviderKind,
) -> Result<Vec<oms_core::Secret>, ApiError> {
    state
        .services
        .secrets
        .provider(provider)
        .await
        .map(|s| s.webhook_secrets)
        .map_err(|e| ApiError::unavailable("service_unavailable", &e))
}

/// How long a webhook waits for the refund of a late payment before answering.
const LATE_REFUND_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Sends a refund an event made owed (recorded `requested`, its send lease held by this
/// caller). One the provider cannot take now stays `requested` and is sent by the sweep, so the
/// provider need not redeliver the event. Bounded: Razorpay waits 5 s for our answer; an
/// unanswered call is sent again by the sweep under the same idempotency key. `whose` names it
/// in the logs.
async fn send_owed_refund(
    state: &AppState,
    order_id: &oms_core::OrderId,
    refund_id: &str,
    whose: &str,
) {
    let send = refund::send_recorded(&state.services, order_id, refund_id);
    match tokio::time::timeout(LATE_REFUND_BUDGET, send).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(order_id = %order_id, refund_id, error = %e, "{whose} refund not sent yet; the sweep will")
        }
        Err(_) => {
            tracing::warn!(order_id = %order_id, refund_id, "{whose} refund call too slow; the sweep will send it")
        }
    }
}

/// Applies a verified event in a span naming it (`provider`, `event_id`, `event_type`); the
/// job and the messages it causes carry `request_id` and the event id.
async fn process(
    state: &AppState,
    request_id: &RequestId,
    event: PaymentEvent,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let span = tracing::info_span!(
        "payment_event",
        provider = event.provider.as_str(),
        event_id = %event.event_id,
        event_type = %event.event_type,
    );
    apply(state, request_id, event, body).instrument(span).await
}

async fn apply(
    state: &AppState,
    request_id: &RequestId,
    event: PaymentEvent,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let provider = event.provider.as_str();
    let delivery = Delivery {
        late_payment: state.services.policy.late_payment,
        event_retention: state.services.policy.event_retention,
        source: EventSource::Webhook,
    };
    let ports = state.services.outbox_ports().traced(request_id.trace());
    let handled = handle_event_with(&ports, delivery, &event, body)
        .await
        .inspect_err(|_| {
            metrics::counter!("webhook_failures", "provider" => provider, "reason" => "unavailable")
            .increment(1);
        })?;
    if let Handled::Applied {
        order_id,
        refund_to_send: Some(refund_id),
    } = &handled
    {
        // The payment is recorded either way.
        send_owed_refund(state, order_id, refund_id, "late payment's").await;
    }
    if matches!(handled, Handled::Applied { .. }) {
        match event.action {
            oms_core::webhook::PaymentAction::Succeeded { .. } => {
                metrics::counter!("payments_success", "provider" => provider).increment(1)
            }
            oms_core::webhook::PaymentAction::Failed { .. } => {
                metrics::counter!("payment_failures", "provider" => provider).increment(1)
            }
            _ => {}
        }
    }
    let outcome = match &handled {
        Handled::Applied { .. } => "applied",
        Handled::Duplicate => "duplicate",
        Handled::NoChange { .. } => "no_change",
        Handled::Ignored => "ignored",
        Handled::Unmatched => "unmatched",
    };
    tracing::info!(provider = event.provider.as_str(), event_id = %event.event_id, event_type = %event.event_type, outcome, "webhook handled");
    Ok(Json(json!({ "received": true })))
}

async fn stripe_webhook(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let secrets = secrets(&state, ProviderKind::Stripe).await?;
    verify_stripe(
        header(&headers, "stripe-signature"),
        &body,
        &secrets,
        state.services.clock.now(),
        state.stripe_tolerance,
    )
    .map_err(|e| rejected(ProviderKind::Stripe, e))?;
    let event = stripe::normalise(&body).unwrap_or_else(|reason| {
        PaymentEvent::unreadable(ProviderKind::Stripe, &body, None, &reason)
    });
    process(&state, &request_id, event, &body).await
}

async fn razorpay_webhook(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let secrets = secrets(&state, ProviderKind::Razorpay).await?;
    verify_rzp(header(&headers, "x-razorpay-signature"), &body, &secrets)
        .map_err(|e| rejected(ProviderKind::Razorpay, e))?;
    let event_id = header(&headers, "x-razorpay-event-id");
    let event = razorpay::normalise(&body, event_id).unwrap_or_else(|reason| {
        PaymentEvent::unreadable(ProviderKind::Razorpay, &body, event_id, &reason)
    });
    process(&state, &request_id, event, &body).await
}

/// The fields Razorpay Checkout's handler returns, in this API's camelCase.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckoutVerifyBody {
    razorpay_order_id: String,
    razorpay_payment_id: String,
    razorpay_signature: String,
}

async fn razorpay_checkout_verify(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam(order_id): PathParam<String>,
    JsonBody(body): JsonBody<CheckoutVerifyBody>,
) -> Result<Json<Value>, ApiError> {
    let key_secret = state
        .services
        .secrets
        .provider(ProviderKind::Razorpay)
        .await
        .map_err(|e| ApiError::unavailable("service_unavailable", &e))?
        .api_secret
        .ok_or_else(|| ApiError::internal(&SignatureError::NoSecret))?;
    let viewer = caller.viewer(header(&headers, "x-order-token").map(str::to_owned));
    let order = verify_razorpay(
        state.services.store.as_ref(),
        state.services.clock.as_ref(),
        &viewer,
        &order_id,
        &CheckoutConfirmation {
            razorpay_order_id: &body.razorpay_order_id,
            razorpay_payment_id: &body.razorpay_payment_id,
            razorpay_signature: &body.razorpay_signature,
        },
        &key_secret,
    )
    .await?;
    Ok(Json(json!({
        "verified": true,
        "orderId": order.id(),
        "status": order.status().as_str(),
    })))
}

/// The tracking webhook's tokens: the current one and, during a rotation, the previous one.
/// A secret store that cannot be read is 503, so Shiprocket's delivery is not taken as refused.
async fn tracking_tokens(state: &AppState) -> Result<Vec<oms_core::Secret>, ApiError> {
    let source = &state.services.tracking_tokens;
    let mut tokens = Vec::new();
    for field in ["token", "previousToken"] {
        let token = source
            .optional_field(field)
            .await
            .map_err(|e| ApiError::unavailable("service_unavailable", &e))?;
        tokens.extend(token);
    }
    Ok(tokens)
}

async fn shiprocket_webhook(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let tokens = tracking_tokens(&state).await?;
    if !tracking::token_matches(header(&headers, "x-api-key"), &tokens) {
        if tokens.is_empty() {
            tracing::error!(
                "no SHIPROCKET_WEBHOOK_TOKEN configured: tracking deliveries are refused"
            );
        } else {
            tracing::warn!("tracking webhook token rejected");
        }
        metrics::counter!("webhook_failures", "provider" => "shiprocket", "reason" => "token")
            .increment(1);
        return Err(ApiError::unauthorized(
            "missing or wrong x-api-key for the tracking webhook",
        ));
    }
    let update = tracking::parse_shiprocket(&body).map_err(|e| {
        tracing::warn!(error = %e, "tracking update refused");
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_tracking_update",
            e.to_string(),
        )
    })?;
    let handled = handle_tracking(
        &state.services.outbox_ports().traced(request_id.trace()),
        state.services.tracking_policy(),
        &update,
        &body,
    )
    .await
    .inspect_err(|_| {
        metrics::counter!("webhook_failures", "provider" => "shiprocket", "reason" => "unavailable")
            .increment(1);
    })?;
    if let Tracked::Applied {
        order_id,
        refund_to_send: Some(refund_id),
        ..
    } = &handled
    {
        // The return is recorded either way.
        send_owed_refund(&state, order_id, refund_id, "returned parcel's").await;
    }
    let outcome = match &handled {
        Tracked::Applied { .. } => "applied",
        Tracked::NoChange { .. } => "no_change",
        Tracked::Unmatched => "unmatched",
    };
    tracing::info!(awb = %update.awb, status_id = update.status_id, outcome, "tracking update handled");
    Ok(Json(json!({ "received": true })))
}
