//! The fulfilment job queue on SQS (`POST_PAYMENT_QUEUE_URL`), and its dead-letter queue
//! (`DEAD_LETTER_QUEUE_URL`) as the ops console sees it. A job's body is its JSON
//! (`{"orderId":…}`); its trace travels as the message attributes `requestId` and `eventId`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use oms_core::Timestamp;
use oms_core::ports::{
    DeadJob, DeadJobs, FulfilmentJob, JobQueue, MAX_DEAD_JOBS, QueueError, Trace,
};

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

/// The job's trace as SQS message attributes (`requestId`, `eventId`, strings, each only when
/// known): the worker's span reads them back.
pub fn trace_attributes(
    trace: &Trace,
) -> Result<HashMap<String, MessageAttributeValue>, QueueError> {
    trace
        .attributes()
        .map(|(name, value)| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map(|v| (name.to_owned(), v))
                .map_err(|e| QueueError(e.to_string()))
        })
        .collect()
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, job: &FulfilmentJob) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))?;
        let attributes = trace_attributes(&job.trace)?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .set_message_attributes((!attributes.is_empty()).then_some(attributes))
            .send()
            .await
            .map_err(|e| QueueError(crate::error_text(&e)))?;
        Ok(())
    }
}

/// SQS's most messages per receive and per batch call.
const BATCH: u32 = 10;
/// The most receive calls one list or redrive makes: enough for [`MAX_DEAD_JOBS`], plus a few
/// answers short of their ten.
const MAX_RECEIVES: u32 = MAX_DEAD_JOBS / BATCH + 3;

/// The post-payment queue's dead-letter queue, and the queue its jobs go back to.
///
/// SQS has no way to look at a message without receiving it, so listing receives with a short
/// visibility timeout ([`SqsDeadJobs::PEEK`]) and at once makes what it received visible again
/// (`ChangeMessageVisibilityBatch` to 0): if that fails, the messages reappear by themselves
/// after the timeout. Moving back receives from the dead-letter queue, sends each body to the
/// main queue (`SendMessageBatch`) and deletes from the dead-letter queue only what was sent,
/// so a failure between the two leaves a job in both queues (at least once; the worker skips
/// steps already done), never in neither. Not `StartMessageMoveTask`: it is asynchronous,
/// moves everything rather than a bounded number, and the local AWS API server does not
/// implement it (`docs/decisions.md`).
pub struct SqsDeadJobs {
    client: aws_sdk_sqs::Client,
    dead_letter_url: String,
    queue_url: String,
}

impl SqsDeadJobs {
    /// How long a message received to be listed stays hidden if it cannot be made visible again.
    pub const PEEK: Duration = Duration::from_secs(20);
    /// How long a message being moved back stays hidden from another move.
    pub const MOVE: Duration = Duration::from_secs(30);

    pub fn new(
        client: aws_sdk_sqs::Client,
        dead_letter_url: impl Into<String>,
        queue_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            dead_letter_url: dead_letter_url.into(),
            queue_url: queue_url.into(),
        }
    }

    /// Up to `max` messages of the dead-letter queue, hidden for `hide`.
    async fn receive(
        &self,
        max: u32,
        hide: Duration,
    ) -> Result<Vec<aws_sdk_sqs::types::Message>, QueueError> {
        let got = self
            .client
            .receive_message()
            .queue_url(&self.dead_letter_url)
            .max_number_of_messages(max.clamp(1, BATCH) as i32)
            .visibility_timeout(hide.as_secs() as i32)
            // Long polling asks every SQS server, so an empty answer means an empty queue.
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            // A job moved back keeps its trace (`requestId`, `eventId`).
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| QueueError(crate::error_text(&e)))?;
        Ok(got.messages.unwrap_or_default())
    }

    /// Makes received messages visible again at once. A failure is logged, not returned: the
    /// messages come back by themselves when their visibility timeout ends.
    async fn release(&self, handles: &[String]) {
        for chunk in handles.chunks(BATCH as usize) {
            let entries: Result<Vec<_>, _> = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .visibility_timeout(0)
                        .build()
                })
                .collect();
            let result = match entries {
                Ok(entries) => self
                    .client
                    .change_message_visibility_batch()
                    .queue_url(&self.dead_letter_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map(|out| out.failed.len())
                    .map_err(|e| crate::error_text(&e)),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(0) => {}
                Ok(failed) => {
                    tracing::warn!(
                        failed,
                        "dead letters not made visible again; they reappear by themselves"
                    )
                }
                Err(error) => {
                    tracing::warn!(%error, "dead letters not made visible again; they reappear by themselves")
                }
            }
        }
    }

    /// Deletes moved messages from the dead-letter queue. A failure is logged, not returned:
    /// the job is in both queues, and moving it again is harmless.
    async fn delete(&self, handles: &[String]) {
        let entries: Result<Vec<_>, _> = handles
            .iter()
            .enumerate()
            .map(|(i, h)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
            })
            .collect();
        let result = match entries {
            Ok(entries) => self
                .client
                .delete_message_batch()
                .queue_url(&self.dead_letter_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map(|out| out.failed.len())
                .map_err(|e| crate::error_text(&e)),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(0) => {}
            Ok(failed) => tracing::warn!(
                failed,
                "moved dead letters not deleted; they will be moved again"
            ),
            Err(error) => {
                tracing::warn!(%error, "moved dead letters not deleted; they will be moved again")
            }
        }
    }

    /// One receive's worth of dead letters sent back to the queue and deleted from the
    /// dead-letter queue; how many (0: the dead-letter queue is empty).
    async fn move_batch(&self, max: u32) -> Result<u32, QueueError> {
        let messages = self.receive(max, Self::MOVE).await?;
        // Each receipt handle with its message's batch entry (one entry per message id: a
        // message received twice is sent once).
        let mut handles: Vec<(String, String)> = Vec::new();
        let mut entries = Vec::new();
        let mut entry_of = std::collections::HashMap::new();
        for m in &messages {
            let (Some(handle), Some(message_id)) = (m.receipt_handle(), m.message_id()) else {
                continue;
            };
            let id = match entry_of.get(message_id) {
                Some(id) => String::clone(id),
                None => {
                    let id = entries.len().to_string();
                    entries.push(
                        SendMessageBatchRequestEntry::builder()
                            .id(&id)
                            .message_body(m.body().unwrap_or_default())
                            .set_message_attributes(m.message_attributes().cloned())
                            .build()
                            .map_err(|e| QueueError(e.to_string()))?,
                    );
                    entry_of.insert(message_id.to_owned(), id.clone());
                    id
                }
            };
            handles.push((id, handle.to_owned()));
        }
        if entries.is_empty() {
            return Ok(0);
        }
        let count = entries.len();
        let sent = match self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let all: Vec<String> = handles.into_iter().map(|(_, h)| h).collect();
                self.release(&all).await;
                return Err(QueueError(crate::error_text(&e)));
            }
        };
        let ok: HashSet<&str> = sent.successful.iter().map(|s| s.id.as_str()).collect();
        let (done, back): (Vec<_>, Vec<_>) = handles
            .into_iter()
            .partition(|(id, _)| ok.contains(id.as_str()));
        let done: Vec<String> = done.into_iter().map(|(_, h)| h).collect();
        let back: Vec<String> = back.into_iter().map(|(_, h)| h).collect();
        if !done.is_empty() {
            self.delete(&done).await;
        }
        self.release(&back).await;
        if ok.is_empty() {
            let codes: Vec<&str> = sent.failed.iter().map(|f| f.code.as_str()).collect();
            return Err(QueueError(format!(
                "no dead letter could be sent back to the queue: {codes:?}"
            )));
        }
        if ok.len() < count {
            tracing::warn!(
                sent = ok.len(),
                of = count,
                "some dead letters not sent back; they stay in the dead-letter queue"
            );
        }
        Ok(ok.len() as u32)
    }

    async fn list_into(
        &self,
        limit: usize,
        jobs: &mut Vec<DeadJob>,
        handles: &mut Vec<String>,
    ) -> Result<(), QueueError> {
        let mut seen = HashSet::new();
        for _ in 0..MAX_RECEIVES {
            if jobs.len() >= limit {
                break;
            }
            let want = (limit - jobs.len()) as u32;
            let messages = self.receive(want, Self::PEEK).await?;
            let mut fresh = 0;
            for m in &messages {
                handles.extend(m.receipt_handle().map(str::to_owned));
                let id = m.message_id().unwrap_or_default().to_owned();
                if seen.insert(id) && jobs.len() < limit {
                    jobs.push(dead_job(m));
                    fresh += 1;
                }
            }
            if fresh == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// What SQS says about one dead message.
fn dead_job(m: &aws_sdk_sqs::types::Message) -> DeadJob {
    let attribute = |name: MessageSystemAttributeName| {
        m.attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<i64>().ok())
    };
    let order_id = m
        .body()
        .and_then(|b| serde_json::from_str::<FulfilmentJob>(b).ok())
        .map(|job| job.order_id);
    let receives = attribute(MessageSystemAttributeName::ApproximateReceiveCount).unwrap_or(1);
    DeadJob {
        order_id,
        message_id: m.message_id().unwrap_or_default().to_owned(),
        // Less the receive that listed it.
        receive_count: u32::try_from(receives.saturating_sub(1)).unwrap_or(0),
        sent_at: attribute(MessageSystemAttributeName::SentTimestamp)
            .map(Timestamp::from_unix_millis),
    }
}

#[async_trait]
impl DeadJobs for SqsDeadJobs {
    async fn list(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError> {
        let limit = limit.min(MAX_DEAD_JOBS) as usize;
        let mut jobs = Vec::new();
        let mut handles = Vec::new();
        let listed = self.list_into(limit, &mut jobs, &mut handles).await;
        self.release(&handles).await;
        listed.map(|()| jobs)
    }

    async fn redrive(&self, limit: u32) -> Result<u32, QueueError> {
        let limit = limit.min(MAX_DEAD_JOBS);
        let mut moved = 0;
        for _ in 0..MAX_RECEIVES {
            if moved >= limit {
                break;
            }
            match self.move_batch(limit - moved).await {
                Ok(0) => break,
                Ok(n) => moved += n,
                // What was moved stays moved: the answer says how many, and a listing what is left.
                Err(e) if moved > 0 => {
                    tracing::warn!(error = %e, moved, "moving dead letters back stopped early");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(moved)
    }
}
