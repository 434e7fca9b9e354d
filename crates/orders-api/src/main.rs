//! The `orders-api` Lambda: the storefront's read routes and the admin routes behind the HTTP API.

use oms_app::lambda::{Error, Function, serve_http};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_http(Function::OrdersApi, orders_api::routes()).await
}
