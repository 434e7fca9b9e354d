//! Use cases: the sequences of rules and port calls behind each API operation. They decide;
//! the adapters they are handed do the I/O.

pub mod admin;
pub mod catalog;
pub mod checkout;
pub mod create_order;
pub mod fulfil;
pub mod read;
pub mod services;
pub mod sweep;
pub mod webhook;

pub use services::{FulfilmentServices, Services};

use std::time::Duration;

/// Business settings that shape orders.
#[derive(Debug, Clone)]
pub struct OrderPolicy {
    /// How long an order may stay unpaid before the sweep cancels it
    /// (`CLEANUP_FAILED_PAYMENT_MINUTES`).
    pub payment_window: Duration,
    /// How long an `Idempotency-Key` answers with the stored response.
    pub idempotency_ttl: Duration,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        Self {
            payment_window: Duration::from_secs(30 * 60),
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}
