//! The `create-order` Lambda: `POST /orders` behind the HTTP API.

use oms_app::lambda::{Error, Function, serve_http};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_http(Function::CreateOrder, create_order::routes()).await
}
