//! The `create-order` Lambda: `POST /orders` behind the HTTP API.

#[tokio::main]
async fn main() -> Result<(), oms_http::lambda::Error> {
    oms_http::lambda::init_tracing();
    let function = oms_http::lambda::Function::CreateOrder;
    let state = oms_http::lambda::state_from_env(function).await?;
    oms_http::lambda::run(function, oms_http::mount(create_order::routes(), state)).await
}
