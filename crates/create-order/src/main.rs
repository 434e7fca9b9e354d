//! The `create-order` Lambda: `POST /orders` behind the HTTP API.

#[tokio::main]
async fn main() -> Result<(), oms_http::lambda::Error> {
    oms_http::lambda::init_tracing();
    let state = oms_http::lambda::state_from_env().await?;
    oms_http::lambda::run(
        "create-order",
        oms_http::mount(create_order::routes(), state),
    )
    .await
}
