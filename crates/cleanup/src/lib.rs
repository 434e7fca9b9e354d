//! The cleanup sweep as a Lambda handler: whatever the event (an EventBridge schedule, or `{}`
//! by hand), one bounded [`oms_core::app::sweep::sweep`], answered
//! `{"cancelled": n, "reenqueued": m}`.

use oms_core::app::outbox::OutboxError;
use oms_core::app::sweep::{SweepReport, sweep};
use oms_http::AppState;

/// Orders and jobs handled per run at most (`CLEANUP_BATCH_LIMIT`, default 100).
pub fn batch_limit() -> u32 {
    std::env::var("CLEANUP_BATCH_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(100)
}

pub async fn run(state: &AppState, limit: u32) -> Result<SweepReport, OutboxError> {
    sweep(&state.outbox_ports(), &state.providers, limit).await
}
