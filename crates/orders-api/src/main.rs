//! The `orders-api` Lambda: the storefront's read routes and the admin routes behind the HTTP API.

use std::process::ExitCode;

use oms_app::lambda::{Function, exit, serve_http};

#[tokio::main]
async fn main() -> ExitCode {
    exit(serve_http(Function::OrdersApi, orders_api::routes()).await)
}
