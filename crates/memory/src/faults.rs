//! Fault injection: wrappers that make a port fail on demand, around any adapter (in memory or
//! AWS), for tests of what happens when a dependency is down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use oms_core::ports::{FulfilmentJob, JobQueue, QueueError};

/// A job queue whose next `n` sends fail as an unreachable queue would.
pub struct FaultyQueue {
    inner: Arc<dyn JobQueue>,
    failures: AtomicUsize,
}

impl FaultyQueue {
    pub fn new(inner: Arc<dyn JobQueue>) -> Self {
        Self {
            inner,
            failures: AtomicUsize::new(0),
        }
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl JobQueue for FaultyQueue {
    async fn send(&self, job: &FulfilmentJob) -> Result<(), QueueError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(QueueError("injected failure".into()));
        }
        self.inner.send(job).await
    }
}
