//! In-memory job queue (with its dead-letter list) and event publisher: what the dev server and
//! tests use in place of SQS and SNS. Both keep everything they were given so tests can assert
//! on it.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use oms_core::ports::{
    DeadJob, DeadJobs, EventPublisher, FulfilmentJob, JobQueue, MAX_DEAD_JOBS, Message,
    PublishError, QueueError, Topic,
};
use tokio::sync::Notify;

/// A FIFO of fulfilment jobs with a wake-up for a consumer, and its dead-letter list: the
/// jobs a consumer gave up on (the dev server's worker loop, after `MAX_RECEIVE_COUNT` failed
/// attempts), as SQS's redrive policy moves them to the dead-letter queue.
#[derive(Default)]
pub struct InMemoryQueue {
    jobs: Mutex<VecDeque<FulfilmentJob>>,
    sent: Mutex<Vec<FulfilmentJob>>,
    dead: Mutex<VecDeque<(DeadJob, FulfilmentJob)>>,
    /// Numbers the dead letters' message ids.
    buried: std::sync::atomic::AtomicU64,
    notify: Notify,
}

impl InMemoryQueue {
    /// Every job ever sent, in order (including ones already taken).
    pub fn sent(&self) -> Vec<FulfilmentJob> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes the next job, if any.
    pub fn try_take(&self) -> Option<FulfilmentJob> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// Sets `job` aside after it failed on each of its `receives`: it stays in the dead-letter
    /// list until it is moved back ([`DeadJobs::redrive`]).
    pub fn bury(&self, job: &FulfilmentJob, receives: u32) {
        let n = self
            .buried
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let dead = DeadJob {
            order_id: Some(job.order_id.clone()),
            message_id: format!("dead-{n}"),
            receive_count: receives,
            sent_at: None,
        };
        lock(&self.dead).push_back((dead, job.clone()));
    }

    /// Waits for the next job.
    pub async fn take(&self) -> FulfilmentJob {
        loop {
            let notified = self.notify.notified();
            if let Some(job) = self.try_take() {
                return job;
            }
            notified.await;
        }
    }
}

#[async_trait]
impl JobQueue for InMemoryQueue {
    async fn send(&self, job: &FulfilmentJob) -> Result<(), QueueError> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(job.clone());
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job.clone());
        self.notify.notify_one();
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl DeadJobs for InMemoryQueue {
    async fn list(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError> {
        let limit = limit.min(MAX_DEAD_JOBS) as usize;
        Ok(lock(&self.dead)
            .iter()
            .take(limit)
            .map(|(dead, _)| dead.clone())
            .collect())
    }

    async fn redrive(&self, limit: u32) -> Result<u32, QueueError> {
        let mut moved = 0;
        while moved < limit.min(MAX_DEAD_JOBS) {
            let Some((_, job)) = lock(&self.dead).pop_front() else {
                break;
            };
            self.send(&job).await?;
            moved += 1;
        }
        Ok(moved)
    }
}

/// Keeps every published message; logs each at info so the dev server shows them.
#[derive(Default)]
pub struct InMemoryPublisher {
    messages: Mutex<Vec<(Topic, Message)>>,
}

impl InMemoryPublisher {
    pub fn messages(&self) -> Vec<(Topic, Message)> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn of_type(&self, event_type: &str) -> Vec<Message> {
        self.messages()
            .into_iter()
            .filter(|(_, m)| m.event_type == event_type)
            .map(|(_, m)| m)
            .collect()
    }
}

#[async_trait]
impl EventPublisher for InMemoryPublisher {
    async fn publish(&self, topic: Topic, message: &Message) -> Result<(), PublishError> {
        tracing::info!(topic = ?topic, event_type = %message.event_type, "published");
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((topic, message.clone()));
        Ok(())
    }
}
