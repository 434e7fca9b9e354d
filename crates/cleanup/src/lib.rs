//! The cleanup sweep as a Lambda handler: whatever the event (an EventBridge schedule, or `{}`
//! by hand), one bounded [`oms_core::app::sweep::sweep`], answered
//! `{"cancelled": n, "reenqueued": m, "refundsSent": k, "reconciled": r, "refundsChecked": c,
//! "refundsReconciled": f}`.

use oms_core::app::Services;
use oms_core::app::outbox::OutboxError;
use oms_core::app::sweep::{SweepReport, sweep};

/// One sweep of at most `limit` orders and jobs (`CLEANUP_BATCH_LIMIT`).
pub async fn run(services: &Services, limit: u32) -> Result<SweepReport, OutboxError> {
    sweep(services, limit).await
}
