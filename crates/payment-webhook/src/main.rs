//! The `payment-webhook` Lambda: signed provider events and Razorpay checkout confirmations.

use oms_app::lambda::{Error, Function, serve_http};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_http(Function::PaymentWebhook, payment_webhook::routes()).await
}
