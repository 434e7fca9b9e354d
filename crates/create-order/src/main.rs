//! The `create-order` Lambda: `POST /orders` behind the HTTP API.

use std::process::ExitCode;

use oms_app::lambda::{Function, exit, serve_http};

#[tokio::main]
async fn main() -> ExitCode {
    exit(serve_http(Function::CreateOrder, create_order::routes()).await)
}
