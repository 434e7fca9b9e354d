//! The `payment-webhook` Lambda: signed provider events and Razorpay checkout confirmations.

#[tokio::main]
async fn main() -> Result<(), oms_http::lambda::Error> {
    oms_http::lambda::init_tracing();
    let function = oms_http::lambda::Function::PaymentWebhook;
    let state = oms_http::lambda::state_from_env(function).await?;
    oms_http::lambda::run(function, oms_http::mount(payment_webhook::routes(), state)).await
}
