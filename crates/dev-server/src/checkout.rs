//! The offline stand-in's checkout, where a `checkoutUrl` points locally
//! (`/dev/checkout/{checkout}`, a Stripe session `cs_…` or a Razorpay order `order_…`).
//!
//! `GET` is a page a person can click through: the order (id, items, total, status) and three
//! buttons — pay, fail, pay but lose the webhook — each a form posting
//! `application/x-www-form-urlencoded` to the same URL, answered with an HTML result page.
//! `POST` with JSON (`{"outcome": "succeeded"|"failed", "deliverWebhook": true|false}`) does the
//! same for scripts (`dev-server pay --no-deliver`) and answers JSON. Either way the payment is
//! recorded in the stand-in, where reconciliation finds it, and the provider's webhook is
//! delivered unless it is to be lost. Every value put into HTML is escaped.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use oms_core::invoice::escape_html as esc;
use oms_core::ports::OrderStore;
use oms_core::{Order, OrderId, ProviderKind};
use oms_http::ApiError;

use crate::standin::{self, StandIns};

/// What the checkout needs: the orders, and the stand-ins that take the money.
#[derive(Clone)]
pub struct StandInCheckout {
    pub store: Arc<dyn OrderStore>,
    pub standins: StandIns,
}

/// `POST /dev/checkout/{checkout}`'s body: how the attempt ends, and whether the provider's
/// webhook reaches the server (`false`: it is lost; only reconciliation can find the payment).
/// The same fields as JSON or as a form.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PayAtCheckout {
    outcome: standin::Outcome,
    #[serde(default = "deliver_by_default")]
    deliver_webhook: bool,
}

fn deliver_by_default() -> bool {
    true
}

/// The provider a checkout id belongs to, by its prefix.
fn provider_of(checkout: &str) -> Option<ProviderKind> {
    if checkout.starts_with("cs_") {
        Some(ProviderKind::Stripe)
    } else if checkout.starts_with("order_") {
        Some(ProviderKind::Razorpay)
    } else {
        None
    }
}

/// The order a checkout was opened for: `None` for a checkout no order of ours has.
async fn order_of(
    store: &dyn OrderStore,
    checkout: &str,
) -> Result<Option<(ProviderKind, Order)>, ApiError> {
    let Some(kind) = provider_of(checkout) else {
        return Ok(None);
    };
    let Some(id) = store.find_order_by_ref(kind, checkout).await? else {
        return Ok(None);
    };
    Ok(store.get_order(&id).await?.map(|order| (kind, order)))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse;width:100%}}td,th{{padding:.3rem;border-bottom:1px solid #ddd;text-align:left}}\
         td.n,th.n{{text-align:right}}form{{display:inline-block;margin:.5rem .5rem 0 0}}\
         button{{font-size:1rem;padding:.5rem 1rem}}.note{{color:#555}}</style></head>\
         <body>{body}</body></html>",
        title = esc(title),
    );
    (status, Html(html)).into_response()
}

fn not_found_page() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Checkout not found",
        "<h1>Checkout not found</h1><p>No order of this server was opened with this checkout.</p>",
    )
}

/// The order's summary: id, items, total, status.
fn summary(kind: ProviderKind, checkout: &str, order: &Order) -> String {
    let provider = match kind {
        ProviderKind::Stripe => "Stripe Checkout Session",
        ProviderKind::Razorpay => "Razorpay order",
    };
    let rows: String = order
        .lines()
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(l.name.as_str()),
                esc(l.sku.as_str()),
                l.quantity.get(),
                esc(&l.unit_price.to_string()),
                esc(&l.line_total.to_string()),
            )
        })
        .collect();
    format!(
        "<p class=\"note\">Offline stand-in for the {provider} <code>{checkout}</code>: no money \
         moves and no provider is contacted.</p>\
         <p>Order <code id=\"order-id\">{id}</code> · status <strong id=\"status\">{status}</strong></p>\
         <table><thead><tr><th>Item</th><th>SKU</th><th class=\"n\">Qty</th><th class=\"n\">Price</th>\
         <th class=\"n\">Amount</th></tr></thead><tbody>{rows}</tbody>\
         <tfoot><tr><th colspan=\"4\">Total ({currency})</th><th class=\"n\" id=\"total\">{total}</th></tr></tfoot></table>",
        provider = esc(provider),
        checkout = esc(checkout),
        id = esc(order.id().as_str()),
        status = esc(order.status().as_str()),
        currency = esc(order.total().currency().as_str()),
        total = esc(&order.total().to_string()),
    )
}

/// One button: a form posting its outcome to the checkout's own URL.
fn button(action: &str, outcome: &str, deliver: bool, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"outcome\" value=\"{outcome}\">\
         <input type=\"hidden\" name=\"deliverWebhook\" value=\"{deliver}\">\
         <button type=\"submit\">{label}</button></form>",
        action = esc(action),
        outcome = esc(outcome),
        label = esc(label),
    )
}

/// `GET /dev/checkout/{checkout}`: the order and the three buttons.
pub async fn checkout_page(
    State(s): State<StandInCheckout>,
    Path(checkout): Path<String>,
) -> Result<Response, ApiError> {
    let Some((kind, order)) = order_of(s.store.as_ref(), &checkout).await? else {
        return Ok(not_found_page());
    };
    let action = format!("/dev/checkout/{checkout}");
    let late = if order.status().is_unpaid() {
        String::new()
    } else {
        format!(
            "<p class=\"note\">The order is {}: a payment now is a late one, handled as in \
             production.</p>",
            esc(order.status().as_str())
        )
    };
    let body = format!(
        "<h1>Pay for your order</h1>{summary}{late}<div>{pay}{fail}{lose}</div>",
        summary = summary(kind, &checkout, &order),
        pay = button(&action, "succeeded", true, "Pay"),
        fail = button(&action, "failed", true, "Fail"),
        lose = button(&action, "succeeded", false, "Pay but lose the webhook"),
    );
    Ok(page(StatusCode::OK, "Offline checkout", &body))
}

/// The form's fields, as the page's buttons send them.
fn form_body(body: &[u8]) -> Result<PayAtCheckout, String> {
    serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `POST /dev/checkout/{checkout}`: the customer pays (or fails) at the stand-in's checkout, as
/// a person would on the provider's page. A form is answered with a page, JSON with JSON.
pub async fn pay_at_checkout(
    State(s): State<StandInCheckout>,
    Path(checkout): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if content_type(&headers) == "application/x-www-form-urlencoded" {
        return Ok(pay_with_form(&s, &checkout, &body).await);
    }
    let ct = content_type(&headers);
    let json =
        ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"));
    if !json {
        return Err(ApiError::unsupported_media_type());
    }
    let input: PayAtCheckout = oms_http::json::parse(&body)?;
    let (_, order) = order_of(s.store.as_ref(), &checkout)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (payment_id, delivered) = pay(&s, &checkout, &order, &input).await;
    Ok(axum::Json(serde_json::json!({
        "orderId": order.id(),
        "paymentId": payment_id,
        "outcome": input.outcome,
        "webhookDelivered": delivered,
    }))
    .into_response())
}

async fn pay(
    s: &StandInCheckout,
    checkout: &str,
    order: &Order,
    input: &PayAtCheckout,
) -> (String, bool) {
    let kind = provider_of(checkout).unwrap_or(ProviderKind::Stripe);
    s.standins
        .get(kind)
        .pay(
            order.id().as_str(),
            checkout,
            order.total(),
            input.outcome,
            input.deliver_webhook,
        )
        .await
}

/// The page's buttons: the payment made, then a page saying what happened and how the order
/// stands now.
async fn pay_with_form(s: &StandInCheckout, checkout: &str, body: &[u8]) -> Response {
    let input = match form_body(body) {
        Ok(input) => input,
        Err(why) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Not a checkout form",
                &format!(
                    "<h1>Not a checkout form</h1><p>{}</p><p>Send <code>outcome</code> \
                     (<code>succeeded</code> or <code>failed</code>) and optionally \
                     <code>deliverWebhook</code> (<code>true</code> or <code>false</code>).</p>",
                    esc(&why)
                ),
            );
        }
    };
    let found = match order_of(s.store.as_ref(), checkout).await {
        Ok(Some((_, order))) => order,
        Ok(None) => return not_found_page(),
        Err(e) => return unavailable_page(&e),
    };
    let (payment_id, delivered) = pay(s, checkout, &found, &input).await;
    // The order as the webhook (if delivered) left it.
    let kind = provider_of(checkout).unwrap_or(ProviderKind::Stripe);
    let order = match reread(s.store.as_ref(), found.id()).await {
        Ok(Some(order)) => order,
        Ok(None) => found,
        Err(e) => return unavailable_page(&e),
    };
    let outcome = match input.outcome {
        standin::Outcome::Succeeded => "Payment succeeded",
        standin::Outcome::Failed => "Payment failed",
    };
    let webhook = if delivered {
        "The provider's webhook was delivered to the server."
    } else {
        "The provider's webhook was lost: the server learns of this payment only when the \
         sweep reconciles the order with the provider (RECONCILE_AFTER_MINUTES)."
    };
    let body = format!(
        "<h1 id=\"outcome\">{outcome}</h1><p>Payment <code>{payment}</code>. {webhook}</p>{summary}\
         <p><a href=\"{back}\">Back to the checkout</a></p>",
        outcome = esc(outcome),
        payment = esc(&payment_id),
        webhook = esc(webhook),
        summary = summary(kind, checkout, &order),
        back = esc(&format!("/dev/checkout/{checkout}")),
    );
    page(StatusCode::OK, outcome, &body)
}

async fn reread(store: &dyn OrderStore, id: &OrderId) -> Result<Option<Order>, ApiError> {
    Ok(store.get_order(id).await?)
}

fn unavailable_page(e: &ApiError) -> Response {
    page(
        e.status,
        "Try again",
        &format!("<h1>Try again</h1><p>{}</p>", esc(&e.message)),
    )
}

/// The placeholder where no stand-in runs (live payments): the checkout is the provider's.
pub async fn no_stand_in(Path(checkout): Path<String>) -> Response {
    page(
        StatusCode::NOT_FOUND,
        "No offline checkout",
        &format!(
            "<h1>No offline checkout</h1><p>Checkout <code>{}</code>: payments are live, so the \
             provider's own page takes them.</p>",
            esc(&checkout)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_button_escapes_what_it_is_given() {
        let html = button(
            "/dev/checkout/cs_\"><script>",
            "succeeded",
            false,
            "<b>Pay</b>",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("cs_&quot;&gt;&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;b&gt;Pay&lt;/b&gt;"), "{html}");
        assert!(
            html.contains("name=\"deliverWebhook\" value=\"false\""),
            "{html}"
        );
    }

    #[test]
    fn the_form_takes_the_json_fields_and_delivers_by_default() {
        let f = form_body(b"outcome=failed").unwrap();
        assert_eq!(
            (f.outcome, f.deliver_webhook),
            (standin::Outcome::Failed, true)
        );
        let f = form_body(b"outcome=succeeded&deliverWebhook=false").unwrap();
        assert_eq!(
            (f.outcome, f.deliver_webhook),
            (standin::Outcome::Succeeded, false)
        );
        for bad in [
            "",
            "outcome=maybe",
            "outcome=failed&deliverWebhook=perhaps",
            "outcome=failed&x=1",
        ] {
            assert!(form_body(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_stripe_sessions_and_razorpay_orders_are_checkouts() {
        assert_eq!(provider_of("cs_test_1"), Some(ProviderKind::Stripe));
        assert_eq!(provider_of("order_1"), Some(ProviderKind::Razorpay));
        assert_eq!(provider_of("pi_1"), None);
    }
}
