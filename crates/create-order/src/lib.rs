//! `POST /orders`: a thin adapter from HTTP to [`oms_core::app::create_order`].

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oms_core::IdempotencyKey;
use oms_core::app::create_order::{CreateOrderDeps, CreateOrderInput, create_order};
use oms_http::views::CreatedOrderView;
use oms_http::{ApiError, AppState, Caller, JsonBody};

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub fn routes() -> Router<AppState> {
    Router::new().route("/orders", post(create))
}

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(input): JsonBody<CreateOrderInput>,
) -> Result<Response, ApiError> {
    let key = match headers.get(&IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| IdempotencyKey::parse(s).ok())
                .ok_or_else(|| {
                    ApiError::field(
                        "Idempotency-Key",
                        "must be 1 to 255 visible ASCII characters",
                    )
                })?,
        ),
    };
    let request = input.parse().map_err(|e| ApiError::validation(&e))?;
    let provider = request.provider.as_str();
    let created = create_order(
        CreateOrderDeps {
            store: state.services.store.as_ref(),
            providers: &state.services.providers,
            clock: state.services.clock.as_ref(),
            ids: state.services.ids.as_ref(),
            policy: &state.services.policy,
        },
        &caller.buyer(),
        request,
        key.as_ref(),
        &CreatedOrderView::render,
    )
    .await?;

    if !created.replayed {
        metrics::counter!("orders_created", "provider" => provider).increment(1);
    }
    let mut res = (StatusCode::CREATED, created.body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(loc) =
        HeaderValue::from_str(&format!("{}/orders/{}", state.api_prefix, created.order_id))
    {
        h.insert(header::LOCATION, loc);
    }
    if created.replayed {
        h.insert(
            IDEMPOTENT_REPLAYED.clone(),
            HeaderValue::from_static("true"),
        );
    }
    Ok(res)
}
