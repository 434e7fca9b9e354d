//! The `payment-webhook` Lambda: signed provider events and Razorpay checkout confirmations.

use std::process::ExitCode;

use oms_app::lambda::{Function, exit, serve_http};

#[tokio::main]
async fn main() -> ExitCode {
    exit(serve_http(Function::PaymentWebhook, payment_webhook::routes()).await)
}
