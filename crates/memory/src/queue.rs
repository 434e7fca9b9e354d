//! In-memory job queue and event publisher: what the dev server and tests use in place of SQS
//! and SNS. Both keep everything they were given so tests can assert on it.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use oms_core::ports::{
    EventPublisher, FulfilmentJob, JobQueue, Message, PublishError, QueueError, Topic,
};
use tokio::sync::Notify;

/// A FIFO of fulfilment jobs with a wake-up for a consumer.
#[derive(Default)]
pub struct InMemoryQueue {
    jobs: Mutex<VecDeque<FulfilmentJob>>,
    sent: Mutex<Vec<FulfilmentJob>>,
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
