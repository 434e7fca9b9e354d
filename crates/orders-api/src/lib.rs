//! The storefront's read routes (health, catalog, one order, my orders) and the admin routes
//! (clear a review; refunds; the ops console's events and dead-letter jobs; manage the catalog
//! and its stock, in `catalog.rs`). Thin adapters from HTTP to [`oms_core::app`].

mod catalog;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use oms_core::app::backfill::{self, BackfillBody};
use oms_core::app::cancel::{self, CancelBody};
use oms_core::app::downloads;
use oms_core::app::refund::{self, RefundBody};
use oms_core::app::{ops, read};
use oms_core::ports::EventOutcome;
use oms_core::search::{EventSearch, EventSummary, OrderSearch};
use oms_core::{IdempotencyKey, OrderStatus, ProviderKind, Timestamp};
use oms_http::views::{DeadJobView, EventView, OrderView, ProductView, RefundView};
use oms_http::{Admin, ApiError, AppState, Caller, JsonBody, PathParam, RawBody, RequestId};
use serde_json::{Value, json};

pub static X_ORDER_TOKEN: HeaderName = HeaderName::from_static("x-order-token");
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/products", get(products))
        .route("/orders", get(list_orders))
        .route("/orders/{orderId}", get(get_order))
        .route("/orders/{orderId}/cancel", post(cancel))
        .route("/orders/{orderId}/downloads/{sku}", get(download))
        .route("/admin/orders", get(search_orders))
        .route("/admin/events", get(search_events))
        .route("/admin/orders/{orderId}/clear-review", post(clear_review))
        .route("/admin/orders/{orderId}/refunds", post(refund))
        .route("/admin/orders/{orderId}/events", get(order_events))
        .route("/admin/events/{provider}/{eventId}", get(get_event))
        .route(
            "/admin/events/{provider}/{eventId}/replay",
            post(replay_event),
        )
        .route("/admin/jobs/dead", get(dead_jobs))
        .route("/admin/jobs/dead/redrive", post(redrive_dead_jobs))
        .route("/admin/backfill", post(backfill))
        .route("/admin/products/{sku}", put(catalog::put_product))
        .route("/admin/products/{sku}/stock", post(catalog::adjust_stock))
        .route("/admin/products/{sku}/stock", get(catalog::stock_records))
}

/// Admins only: releases an order held for review and queues its fulfilment if it is paid.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
async fn clear_review(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    PathParam(order_id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.require_admin()?;
    let ports = state.services.outbox_ports().traced(request_id.trace());
    let order = oms_core::app::admin::clear_review(&ports, &admin.sub, &order_id).await?;
    Ok(Json(json!(OrderView::from(&order))))
}

/// Admins only: refunds part or all of the order's payment through its provider (`201` with
/// the refund and the order; the same `Idempotency-Key` and body answer the same refund again).
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
async fn refund(
    State(state): State<AppState>,
    Admin(admin): Admin,
    PathParam(order_id): PathParam<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefundBody>,
) -> Result<Response, ApiError> {
    let key = headers
        .get(&IDEMPOTENCY_KEY)
        .ok_or_else(|| ApiError::field("Idempotency-Key", "is required"))?
        .to_str()
        .ok()
        .and_then(|s| IdempotencyKey::parse(s).ok())
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    let input = body
        .validate(key.as_str())
        .map_err(|e| ApiError::validation(&e))?;
    let answer = refund::request_refund(&state.services, &admin.sub, &order_id, &input).await?;
    let mut res = (
        StatusCode::CREATED,
        Json(json!({
            "refund": RefundView::from(&answer.refund),
            "order": OrderView::from(&answer.order),
        })),
    )
        .into_response();
    if answer.repeated {
        res.headers_mut().insert(
            IDEMPOTENT_REPLAYED.clone(),
            HeaderValue::from_static("true"),
        );
    }
    Ok(res)
}

/// The order's owner, a guest with its `X-Order-Token`, or an admin cancels it: `200` with the
/// order (unchanged if it was already cancelled); anyone else gets `404` as on reads.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam(order_id): PathParam<String>,
    JsonBody(body): JsonBody<CancelBody>,
) -> Result<Json<Value>, ApiError> {
    let reason = body.reason().map_err(|e| ApiError::validation(&e))?;
    let (viewer, by) = acting(&caller, &headers);
    let answer = cancel::cancel_order(&state.services, &viewer, &by, &order_id, &reason).await?;
    Ok(Json(json!(OrderView::from(&answer.order))))
}

/// The guest's `X-Order-Token`, if given.
fn order_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(&X_ORDER_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Who is acting on an order: the reader the rules check, and how the timeline names them
/// (`admin:<sub>`, `user:<sub>`, `guest`).
fn acting(caller: &Caller, headers: &HeaderMap) -> (oms_core::order::Viewer, String) {
    let by = match caller.claims() {
        Some(c) if c.is_admin() => format!("admin:{}", c.sub),
        Some(c) => format!("user:{}", c.sub),
        None => "guest".to_owned(),
    };
    (caller.viewer(order_token(headers)), by)
}

/// The order's owner, a guest with its `X-Order-Token`, or an admin gets a short-lived link to
/// a digital product's file on a paid order: `200 {"sku","url","expiresAt"}`. Anyone else, an
/// unknown order and a SKU the order does not hold digitally get `404` as on reads.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam((order_id, sku)): PathParam<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (viewer, by) = acting(&caller, &headers);
    let link = downloads::grant_download(&state.services, &viewer, &by, &order_id, &sku).await?;
    Ok(Json(json!({
        "sku": link.sku,
        "url": link.url,
        "expiresAt": link.expires_at,
    })))
}

/// Admins only: orders by status, review hold, open dispute and creation time, newest first,
/// from an index (`docs/data-model.md`).
async fn search_orders(
    State(state): State<AppState>,
    Admin(_): Admin,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut q = SearchQuery::parse(
        query.as_deref(),
        &[
            "status",
            "requiresReview",
            "disputed",
            "paymentRef",
            "provider",
            "awb",
        ],
    )?;
    let provider = q
        .take("provider")
        .map(|v| {
            ProviderKind::parse(&v)
                .ok_or_else(|| ApiError::field("provider", "must be stripe or razorpay"))
        })
        .transpose()?;
    let payment_ref = q.take("paymentRef");
    let awb = q.take("awb");
    let search = OrderSearch {
        status: q
            .take("status")
            .map(|v| {
                OrderStatus::parse(&v).ok_or_else(|| {
                    ApiError::field("status", "is not an order status (see the API reference)")
                })
            })
            .transpose()?,
        requires_review: q.flag("requiresReview")?,
        disputed: q.flag("disputed")?,
        from: q.from,
        to: q.to,
    };
    if let Some(awb) = awb {
        // A lookup by the carrier's tracking number: at most one order, never a next page.
        if payment_ref.is_some() || provider.is_some() {
            return Err(ApiError::field(
                "awb",
                "is a lookup of its own: give it without paymentRef or provider",
            ));
        }
        if !oms_core::tracking::is_awb(&awb) {
            return Err(ApiError::field(
                "awb",
                "must be a tracking number: 1 to 40 letters, digits or -",
            ));
        }
        if q.cursor.is_some() {
            return Err(ApiError::field("cursor", "an awb lookup has no next page"));
        }
        let found = ops::find_order_by_awb(&state.services, &awb).await?;
        return Ok(lookup_answer(found, &search));
    }
    let Some(reference) = payment_ref else {
        if provider.is_some() {
            return Err(ApiError::field(
                "provider",
                "narrows a paymentRef lookup: give paymentRef too",
            ));
        }
        let page =
            ops::search_orders(&state.services, &search, q.limit, q.cursor.as_deref()).await?;
        let orders: Vec<OrderView> = page.orders.iter().map(OrderView::from).collect();
        return Ok(Json(
            json!({ "orders": orders, "nextCursor": page.next_cursor }),
        ));
    };
    // A lookup by the provider's id: at most one order, never a next page.
    if !ops::is_payment_ref(&reference) {
        return Err(ApiError::field(
            "paymentRef",
            "must be a provider id (cs_…, pi_…, order_…, pay_…): letters, digits and _, at most 255",
        ));
    }
    if q.cursor.is_some() {
        return Err(ApiError::field(
            "cursor",
            "a paymentRef lookup has no next page",
        ));
    }
    let found = ops::find_order_by_payment_ref(&state.services, provider, &reference).await?;
    Ok(lookup_answer(found, &search))
}

/// A lookup's answer (by a provider's id or an AWB): at most one order, the other filters
/// applied to it, never a next page.
fn lookup_answer(found: Option<oms_core::Order>, search: &OrderSearch) -> Json<Value> {
    let orders: Vec<OrderView> = found
        .iter()
        .filter(|o| search.matches(o))
        .map(OrderView::from)
        .collect();
    Json(json!({ "orders": orders, "nextCursor": null }))
}

/// Admins only: recorded provider events by outcome and time received, newest first (e.g.
/// `?outcome=unmatched`: every event no order could be found for).
async fn search_events(
    State(state): State<AppState>,
    Admin(_): Admin,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut q = SearchQuery::parse(query.as_deref(), &["outcome"])?;
    let search = EventSearch {
        outcome: q
            .take("outcome")
            .map(|v| {
                EventOutcome::parse(&v).ok_or_else(|| {
                    ApiError::field(
                        "outcome",
                        "must be one of applied, no_change, ignored, unmatched",
                    )
                })
            })
            .transpose()?,
        from: q.from,
        to: q.to,
    };
    let page = ops::search_events(&state.services, &search, q.limit, q.cursor.as_deref()).await?;
    let events: Vec<EventView> = page.events.iter().map(EventView::from).collect();
    Ok(Json(
        json!({ "events": events, "nextCursor": page.next_cursor }),
    ))
}

/// A search's query string: `limit`, `cursor`, the window `from` (inclusive) … `to`
/// (exclusive) as RFC 3339 date-times, and the search's own `fields`, each at most once.
/// Anything else is refused, so a misspelt filter never silently widens a search.
struct SearchQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    fields: Vec<(String, String)>,
}

impl SearchQuery {
    fn parse(raw: Option<&str>, fields: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        let mut seen = std::collections::HashSet::new();
        let mut q = Self {
            limit: None,
            cursor: None,
            from: None,
            to: None,
            fields: Vec::new(),
        };
        for (k, v) in pairs {
            if !seen.insert(k.clone()) {
                return Err(ApiError::field(&k, "is given more than once"));
            }
            let when = |name: &str| {
                Timestamp::parse_rfc3339(&v).map_err(|_| {
                    ApiError::field(
                        name,
                        "must be an RFC 3339 date-time like 2026-12-01T00:00:00Z",
                    )
                })
            };
            match k.as_str() {
                "limit" => {
                    q.limit = Some(page_limit(&v).ok_or_else(|| {
                        ApiError::field("limit", "must be a whole number of at least 1")
                    })?);
                }
                "cursor" if !v.is_empty() => q.cursor = Some(v),
                "cursor" => {}
                "from" => q.from = Some(when("from")?),
                "to" => q.to = Some(when("to")?),
                f if fields.contains(&f) => q.fields.push((k, v)),
                _ => {
                    return Err(ApiError::field(
                        &k,
                        &format!(
                            "is not a search parameter (limit, cursor, from, to, {})",
                            fields.join(", ")
                        ),
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (q.from, q.to)
            && from >= to
        {
            return Err(ApiError::field("to", "must be later than from"));
        }
        Ok(q)
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.fields.iter().position(|(k, _)| k == name)?;
        Some(self.fields.swap_remove(i).1)
    }

    fn flag(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        self.take(name)
            .map(|v| match v.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::field(name, "must be true or false")),
            })
            .transpose()
    }
}

/// Admins only: every provider event recorded for the order, newest first.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
async fn order_events(
    State(state): State<AppState>,
    Admin(_): Admin,
    PathParam(order_id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let (order, events) = ops::order_events(&state.services, &order_id).await?;
    let summaries: Vec<EventSummary> = events.iter().map(EventSummary::from).collect();
    let views: Vec<EventView> = summaries.iter().map(EventView::from).collect();
    Ok(Json(json!({ "orderId": order.id(), "events": views })))
}

/// Admins only: one recorded provider event with its raw body as received (JSON when it reads
/// as JSON): what an investigation needs without the AWS CLI.
#[tracing::instrument(skip_all, fields(provider = %provider, event_id = %event_id))]
async fn get_event(
    State(state): State<AppState>,
    Admin(_): Admin,
    PathParam((provider, event_id)): PathParam<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let record = ops::event(&state.services, &provider, &event_id).await?;
    let summary = EventSummary::from(&record);
    let mut view = json!(EventView::from(&summary));
    view["payload"] = serde_json::from_str::<Value>(&record.payload)
        .unwrap_or_else(|_| Value::String(record.payload.clone()));
    Ok(Json(view))
}

/// Admins only: re-applies a stored provider event through the same at-most-once path.
#[tracing::instrument(skip_all, fields(provider = %provider, event_id = %event_id))]
async fn replay_event(
    State(state): State<AppState>,
    Admin(_): Admin,
    PathParam((provider, event_id)): PathParam<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let replayed = ops::replay(&state.services, &provider, &event_id).await?;
    Ok(Json(json!({
        "provider": provider,
        "eventId": event_id,
        "outcome": replayed.outcome,
        "orderId": replayed.order_id,
    })))
}

/// Admins only: the fulfilment jobs that failed for good (the post-payment dead-letter queue),
/// at most `limit` (default and cap 100). Looking leaves them where they are.
#[tracing::instrument(skip_all)]
async fn dead_jobs(
    State(state): State<AppState>,
    Admin(_): Admin,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (limit, _) = page_params(query.as_deref())?;
    let jobs = ops::dead_jobs(&state.services, limit).await?;
    let views: Vec<DeadJobView> = jobs.iter().map(DeadJobView::from).collect();
    Ok(Json(json!({ "jobs": views, "count": views.len() })))
}

/// `POST /admin/jobs/dead/redrive`'s optional body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveBody {
    #[serde(default)]
    limit: Option<serde_json::Number>,
}

/// The redrive's `limit`: none without a body (or without `limit`); a whole number of at least
/// 1, capped at 100 like a query's `limit`.
fn redrive_limit(headers: &HeaderMap, body: &[u8]) -> Result<Option<u32>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::unsupported_media_type());
    }
    let parsed: RedriveBody = oms_http::json::parse(body)?;
    // serde would read a struct from an array too: only an object is this body.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let body = parsed;
    let Some(n) = body.limit else {
        return Ok(None);
    };
    let bad = || ApiError::field("limit", "must be a whole number of at least 1");
    let cap = u64::from(read::MAX_PAGE);
    match (n.as_u64(), n.as_f64()) {
        (Some(0), _) => Err(bad()),
        (Some(n), _) => Ok(Some(n.min(cap) as u32)),
        // Written as a float (`5.0`, `1e3`): still a whole number if it has no fraction.
        (None, Some(f)) if f >= 1.0 && f.fract() == 0.0 => Ok(Some(f.min(cap as f64) as u32)),
        _ => Err(bad()),
    }
}

/// Admins only: moves up to `limit` (default and cap 100) dead fulfilment jobs back to the
/// queue the worker reads; the worker skips every step already done.
#[tracing::instrument(skip_all)]
async fn redrive_dead_jobs(
    State(state): State<AppState>,
    Admin(admin): Admin,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let limit = redrive_limit(&headers, &body)?;
    let redriven = ops::redrive_dead_jobs(&state.services, limit).await?;
    tracing::info!(by = %admin.sub, redriven, "dead jobs redriven");
    Ok(Json(json!({ "redriven": redriven })))
}

/// Admins only: one page of what the provider holds since a time, each event whose webhook
/// never arrived applied through the same at-most-once path (`docs/operations.md`, "Backfill
/// missed events"). Call again with `nextCursor` until it is `null`.
#[tracing::instrument(skip_all)]
async fn backfill(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(body): JsonBody<BackfillBody>,
) -> Result<Json<Value>, ApiError> {
    let request = body
        .validate(state.services.clock.now())
        .map_err(|e| ApiError::validation(&e))?;
    let provider = request.provider.as_str();
    tracing::info!(admin = %admin.sub, provider, "backfill requested");
    let report = backfill::backfill(&state.services, &request).await?;
    if report.applied > 0 {
        metrics::counter!("backfill_corrections", "provider" => provider)
            .increment(u64::from(report.applied));
    }
    let corrections: Vec<Value> = report
        .corrections
        .iter()
        .map(|c| json!({"eventId": c.event_id, "type": c.event_type, "orderId": c.order_id}))
        .collect();
    Ok(Json(json!({
        "provider": provider,
        "listed": report.listed,
        "applied": report.applied,
        "alreadyKnown": report.already_known,
        "unmatched": report.unmatched,
        "ignored": report.ignored,
        "corrections": corrections,
        "nextCursor": report.next_cursor,
    })))
}

async fn health(request_id: RequestId) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "request": { "requestId": request_id.0 },
    }))
}

async fn products(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let products = state.services.store.list_products().await?;
    let views: Vec<ProductView> = products.iter().map(ProductView::from).collect();
    Ok(Json(json!({ "products": views })))
}

#[tracing::instrument(skip_all, fields(order_id = %order_id))]
async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam(order_id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let order = read::get_order(
        state.services.store.as_ref(),
        &caller.viewer(order_token(&headers)),
        &order_id,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(Json(json!(OrderView::from(&order))))
}

/// A `limit` value: a whole number of at least 1, with everything above [`read::MAX_PAGE`]
/// capped to it — including a number too large for any integer type, which is still a number
/// above the cap, not nonsense.
fn page_limit(v: &str) -> Option<u32> {
    match v.parse::<u32>() {
        Ok(0) => None,
        Ok(n) => Some(n.min(read::MAX_PAGE)),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Some(read::MAX_PAGE),
        Err(_) => None,
    }
}

/// `limit` (1 or more; above 100 is capped) and `cursor` from the query string.
fn page_params(raw: Option<&str>) -> Result<(Option<u32>, Option<String>), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
    let mut limit = None;
    let mut cursor = None;
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => {
                limit = Some(page_limit(&v).ok_or_else(|| {
                    ApiError::field("limit", "must be a whole number of at least 1")
                })?);
            }
            "cursor" if !v.is_empty() => cursor = Some(v),
            _ => {}
        }
    }
    Ok((limit, cursor))
}

async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let claims = caller
        .claims()
        .ok_or_else(|| ApiError::unauthorized("sign in to list your orders"))?;
    let (limit, cursor) = page_params(query.as_deref())?;
    let page = read::list_orders(
        state.services.store.as_ref(),
        &claims.sub,
        limit,
        cursor.as_deref(),
    )
    .await?;
    let orders: Vec<OrderView> = page.orders.iter().map(OrderView::from).collect();
    Ok(Json(
        json!({ "orders": orders, "nextCursor": page.next_cursor }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameters_default_cap_and_refuse_nonsense() {
        assert_eq!(page_params(None).unwrap(), (None, None));
        assert_eq!(
            page_params(Some("limit=5&cursor=abc")).unwrap(),
            (Some(5), Some("abc".into()))
        );
        assert_eq!(page_params(Some("limit=1000")).unwrap().0, Some(100));
        for bad in [
            "limit=0",
            "limit=00000000000000000000000",
            "limit=-1",
            "limit=-99999999999999999999",
            "limit=ten",
            "limit=1.5",
            "limit=",
            "limit=1e3",
        ] {
            assert_eq!(
                page_params(Some(bad)).unwrap_err().code,
                "validation_failed",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_redrive_limit_is_optional_whole_capped_and_json() {
        let json = {
            let mut h = HeaderMap::new();
            h.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h
        };
        assert_eq!(redrive_limit(&HeaderMap::new(), b"").unwrap(), None);
        assert_eq!(redrive_limit(&json, b"  ").unwrap(), None);
        assert_eq!(redrive_limit(&json, b"{}").unwrap(), None);
        assert_eq!(redrive_limit(&json, br#"{"limit":null}"#).unwrap(), None);
        assert_eq!(redrive_limit(&json, br#"{"limit":7}"#).unwrap(), Some(7));
        assert_eq!(redrive_limit(&json, br#"{"limit":7.0}"#).unwrap(), Some(7));
        assert_eq!(
            redrive_limit(&json, br#"{"limit":1000}"#).unwrap(),
            Some(100)
        );
        assert_eq!(
            redrive_limit(&json, br#"{"limit":100000000000000000000000}"#).unwrap(),
            Some(100)
        );
        for bad in [
            r#"{"limit":0}"#,
            r#"{"limit":-1}"#,
            r#"{"limit":1.5}"#,
            r#"{"limit":"5"}"#,
            r#"{"limit":5,"all":true}"#,
            "[]",
        ] {
            assert_eq!(
                redrive_limit(&json, bad.as_bytes()).unwrap_err().code,
                "validation_failed",
                "{bad}"
            );
        }
        assert_eq!(redrive_limit(&json, b"{").unwrap_err().code, "invalid_json");
        assert_eq!(
            redrive_limit(&HeaderMap::new(), br#"{"limit":1}"#)
                .unwrap_err()
                .code,
            "unsupported_media_type"
        );
    }

    #[test]
    fn a_limit_too_large_for_any_integer_is_capped_like_any_other_large_limit() {
        for big in [
            "limit=4294967296",
            "limit=18446744073709551616",
            "limit=99999999999999999999",
            "limit=99999999999999999999999999999999999999999999999999",
        ] {
            assert_eq!(page_params(Some(big)).unwrap().0, Some(100), "{big}");
        }
        assert_eq!(
            page_params(Some("limit=0000000000000000000007")).unwrap().0,
            Some(7)
        );
    }
}
