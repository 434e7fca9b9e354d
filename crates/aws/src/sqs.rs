//! The fulfilment job queue on SQS (`POST_PAYMENT_QUEUE_URL`).

use async_trait::async_trait;
use oms_core::ports::{FulfilmentJob, JobQueue, QueueError};

pub struct SqsJobQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsJobQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, job: &FulfilmentJob) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError(crate::error_text(&e)))?;
        Ok(())
    }
}
