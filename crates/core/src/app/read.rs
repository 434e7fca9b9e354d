//! `GET /orders/{id}` and `GET /orders`: reads, with the visibility rule applied.

use crate::ids::{OrderId, UserId};
use crate::order::{Order, Viewer};
use crate::ports::{OrderPage, OrderStore, StoreError};

/// Default and maximum page sizes for "my orders".
pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

/// The order if it exists and `viewer` may see it. A malformed id, a missing order and someone
/// else's order all answer `None`, so a caller cannot tell them apart.
pub async fn get_order(
    store: &dyn OrderStore,
    viewer: &Viewer,
    raw_id: &str,
) -> Result<Option<Order>, StoreError> {
    let Ok(id) = OrderId::parse(raw_id) else {
        return Ok(None);
    };
    Ok(store
        .get_order(&id)
        .await?
        .filter(|order| order.visible_to(viewer)))
}

/// The signed-in user's orders, newest first. `limit` is clamped to 1..=[`MAX_PAGE`].
pub async fn list_orders(
    store: &dyn OrderStore,
    user: &UserId,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<OrderPage, StoreError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    store.list_orders_for_user(user, limit, cursor).await
}
