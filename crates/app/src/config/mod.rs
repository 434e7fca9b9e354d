//! Typed configuration, read from the environment once at start-up: a function refuses to start
//! on any unset required or invalid variable, naming it. Every variable and default is listed in
//! the README's configuration table. Each section reads its own variables through [`Env`].

mod aws;
mod cleanup;
mod env;
mod fulfilment;
mod http;
mod payments;
mod secrets;
mod shipping;

pub use aws::AwsResources;
pub use cleanup::CleanupConfig;
pub use env::{ConfigError, Env};
pub use fulfilment::FulfilmentConfig;
pub use http::HttpConfig;
pub use payments::{
    PaymentsConfig, ProviderMode, RAZORPAY_API_BASE, RazorpayConfig, STRIPE_API_BASE, StripeConfig,
};
pub use secrets::{
    DEV_RAZORPAY_KEY_SECRET, DEV_RAZORPAY_WEBHOOK_SECRET, DEV_STRIPE_WEBHOOK_SECRET, EnvSecrets,
    OFFLINE_RAZORPAY_KEY_ID, SecretsConfig,
};
pub use shipping::{DEV_SHIPROCKET_WEBHOOK_TOKEN, ShippingConfig};

/// What every function and the dev server read.
#[derive(Debug, Clone)]
pub struct Config {
    /// `APP_ENV` (`dev` by default; `prod` turns on the production gate).
    pub production: bool,
    pub http: HttpConfig,
    pub payments: PaymentsConfig,
    pub secrets: SecretsConfig,
    pub cleanup: CleanupConfig,
    /// The carrier: the worker ships with it, the cancel route cancels with it.
    pub shipping: ShippingConfig,
}

impl Config {
    /// A Lambda's configuration: it must be told its payment mode.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Env::process(), None)
    }

    /// `mode` is the host's default payment mode (the dev server and tests: offline).
    pub fn read(env: &Env, mode: Option<ProviderMode>) -> Result<Self, ConfigError> {
        let mode = ProviderMode::read(env, mode)?;
        let secrets = SecretsConfig::read(env, mode == ProviderMode::Offline)?;
        let envs = [("dev", false), ("prod", true)];
        Ok(Self {
            production: env.choice("APP_ENV", &envs, Some(false))?,
            http: HttpConfig::read(env)?,
            payments: PaymentsConfig::read(env, mode, &secrets)?,
            secrets,
            cleanup: CleanupConfig::read(env)?,
            shipping: ShippingConfig::read(env, mode == ProviderMode::Offline)?,
        })
    }

    /// The offline configuration with nothing set: what handler tests run on.
    pub fn offline() -> Self {
        match Self::read(&Env::from_pairs(&[]), Some(ProviderMode::Offline)) {
            Ok(c) => c,
            Err(e) => unreachable!("the offline defaults are a valid configuration: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
