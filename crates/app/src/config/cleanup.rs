//! The order rules the sweep enforces: how long an order may stay unpaid, and how much one
//! scheduled run may do.

use std::time::Duration;

use oms_core::app::OrderPolicy;
use oms_core::order::{LatePaymentPolicy, RtoRefundPolicy};

use super::env::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct CleanupConfig {
    /// `CLEANUP_FAILED_PAYMENT_MINUTES` (30, up to a week) becomes the policy's payment window;
    /// `LATE_PAYMENT_POLICY` (`refund`, or `review`) what becomes of a payment for a cancelled
    /// order that is not reinstated; `RECONCILE_AFTER_MINUTES` (10, up to a day) when the sweep
    /// starts asking the provider about an unpaid order; `RTO_REFUND_POLICY` (`review`, or
    /// `refund`) what becomes of a returned parcel's money.
    pub policy: OrderPolicy,
    /// `CLEANUP_BATCH_LIMIT` (100): orders and jobs one sweep handles at most.
    pub batch_limit: u32,
}

impl CleanupConfig {
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        let minutes = env.number(
            "CLEANUP_FAILED_PAYMENT_MINUTES",
            30,
            0..=7 * 24 * 60,
            "minutes",
        )?;
        let late_payment = env.choice(
            "LATE_PAYMENT_POLICY",
            &[
                ("refund", LatePaymentPolicy::Refund),
                ("review", LatePaymentPolicy::Review),
            ],
            Some(LatePaymentPolicy::Refund),
        )?;
        let rto_refund = env.choice(
            "RTO_REFUND_POLICY",
            &[
                ("refund", RtoRefundPolicy::Refund),
                ("review", RtoRefundPolicy::Review),
            ],
            Some(RtoRefundPolicy::Review),
        )?;
        let reconcile = env.number("RECONCILE_AFTER_MINUTES", 10, 0..=24 * 60, "minutes")?;
        // Past Stripe's 30-day window for listing events, so a backfill finds what it applied.
        let retention = env.number("EVENT_RETENTION_DAYS", 35, 4..=400, "days")?;
        Ok(Self {
            policy: OrderPolicy {
                payment_window: Duration::from_secs(minutes * 60),
                reconcile_after: Duration::from_secs(reconcile * 60),
                event_retention: Duration::from_secs(retention * 24 * 60 * 60),
                late_payment,
                rto_refund,
                ..OrderPolicy::default()
            },
            batch_limit: env.number("CLEANUP_BATCH_LIMIT", 100, 1..=1000, "orders")?,
        })
    }
}
