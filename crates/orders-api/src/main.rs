//! The `orders-api` Lambda: the storefront's read routes behind the HTTP API.

#[tokio::main]
async fn main() -> Result<(), oms_http::lambda::Error> {
    oms_http::lambda::init_tracing();
    let function = oms_http::lambda::Function::OrdersApi;
    let state = oms_http::lambda::state_from_env(function).await?;
    oms_http::lambda::run(function, oms_http::mount(orders_api::routes(), state)).await
}
