//! The operators' catalog routes, admins only: create or reprice a product, adjust its stock,
//! list its stock records. Thin adapters from HTTP to [`oms_core::app::catalog`].

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Json;
use oms_core::app::catalog::{self, ProductInput, StockInput};
use oms_core::ports::Upserted;
use oms_http::views::{ProductView, StockRecordView};
use oms_http::{Admin, ApiError, AppState, JsonBody, PathParam};
use serde_json::{Value, json};

/// `PUT /admin/products/{sku}`: `201` with the product when it is new, `200` when its name and
/// price were replaced (its stock is left alone).
#[tracing::instrument(skip_all, fields(sku = %sku))]
pub(crate) async fn put_product(
    State(state): State<AppState>,
    Admin(admin): Admin,
    PathParam(sku): PathParam<String>,
    JsonBody(input): JsonBody<ProductInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (status, product) =
        match catalog::put_product(state.services.store.as_ref(), &admin.sub, &sku, input).await? {
            Upserted::Created(p) => (StatusCode::CREATED, p),
            Upserted::Updated(p) => (StatusCode::OK, p),
        };
    Ok((status, Json(json!(ProductView::from(&product)))))
}

/// `POST /admin/products/{sku}/stock`: the product after the adjustment and its record.
#[tracing::instrument(skip_all, fields(sku = %sku))]
pub(crate) async fn adjust_stock(
    State(state): State<AppState>,
    Admin(admin): Admin,
    PathParam(sku): PathParam<String>,
    JsonBody(input): JsonBody<StockInput>,
) -> Result<Json<Value>, ApiError> {
    let adjusted = catalog::adjust_stock(
        state.services.store.as_ref(),
        state.services.clock.as_ref(),
        &admin.sub,
        &sku,
        input,
    )
    .await?;
    Ok(Json(json!({
        "product": ProductView::from(&adjusted.product),
        "record": StockRecordView::from(&adjusted.record),
    })))
}

/// `GET /admin/products/{sku}/stock`: the product and its stock records, newest first.
#[tracing::instrument(skip_all, fields(sku = %sku))]
pub(crate) async fn stock_records(
    State(state): State<AppState>,
    Admin(_): Admin,
    PathParam(sku): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = super::page_params(query.as_deref())?;
    let page = catalog::stock_records(
        state.services.store.as_ref(),
        &sku,
        limit,
        cursor.as_deref(),
    )
    .await?;
    let records: Vec<StockRecordView> = page.records.iter().map(StockRecordView::from).collect();
    Ok(Json(json!({
        "product": ProductView::from(&page.product),
        "records": records,
        "nextCursor": page.next_cursor,
    })))
}
