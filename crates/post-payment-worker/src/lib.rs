//! The post-payment worker: SQS batches of fulfilment jobs, one span and one
//! [`oms_core::app::fulfil::fulfil`] call per message, failures reported per message
//! (`batchItemFailures`) so only they are retried. A message that fails on its last receive
//! (`MAX_RECEIVE_COUNT`, the queue's redrive setting) raises an ops alert as it moves to the
//! dead-letter queue.
//!
//! Each message's span (`message`) carries `message_id`, `order_id` and the job's trace —
//! `request_id` and `event_id`, from the message attributes `requestId` and `eventId` — so
//! every line the job logs names the webhook delivery that paid the order.

use std::sync::Arc;

use aws_lambda_events::sqs::{
    BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute,
};
use oms_core::app::fulfil::{FulfilDeps, Fulfilment, fulfil_job};
use oms_core::app::{FulfilmentServices, Services};
use oms_core::ports::{
    Carrier, Clock, EventPublisher, FulfilmentJob, Message, OrderStore, Topic, Trace,
};
use serde_json::json;
use tracing::Instrument;

/// The trace a message's attributes carry (`requestId`, `eventId`; empty when it has none).
pub fn trace_of(m: &SqsMessage) -> Trace {
    Trace::from_attributes(|name| {
        m.message_attributes
            .get(name)
            .and_then(|a| a.string_value.as_deref())
    })
}

/// The record SQS would deliver to the worker for `job`: its JSON body, its trace as string
/// message attributes, and how many times it has been received. For hosts that queue jobs
/// without SQS (the dev server's in-memory queue) and for tests.
pub fn sqs_message(job: &FulfilmentJob, message_id: &str, receives: u32) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(message_id.to_owned());
    m.body = serde_json::to_string(job).ok();
    m.attributes
        .insert("ApproximateReceiveCount".into(), receives.to_string());
    for (name, value) in job.trace.attributes() {
        m.message_attributes
            .insert(name.to_owned(), string_attribute(value));
    }
    m
}

/// A `String` message attribute as Lambda's SQS event carries it.
pub fn string_attribute(value: &str) -> SqsMessageAttribute {
    let mut a = SqsMessageAttribute::default();
    a.string_value = Some(value.to_owned());
    a.data_type = Some("String".into());
    a
}

/// The span of one message: `message_id`, the job's `request_id` and `event_id`, and its
/// `order_id`, recorded once the body is read.
pub fn message_span(m: &SqsMessage) -> tracing::Span {
    let trace = trace_of(m);
    tracing::info_span!(
        "message",
        message_id = m.message_id.as_deref().unwrap_or_default(),
        order_id = tracing::field::Empty,
        request_id = trace.request_id.as_deref(),
        event_id = trace.event_id.as_deref(),
    )
}

/// Everything the worker needs, built once per cold start: the shared ports it uses (the
/// carrier among them), and its own (invoices, notifier, seller, the queue's receive limit).
#[derive(Clone)]
pub struct Worker {
    pub store: Arc<dyn OrderStore>,
    pub publisher: Arc<dyn EventPublisher>,
    pub carrier: Arc<dyn Carrier>,
    pub clock: Arc<dyn Clock>,
    pub ports: FulfilmentServices,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    Done,
    Skipped(String),
    /// Left on the queue for a retry (and, on its last receive, the dead-letter queue).
    Failed {
        category: &'static str,
        error: String,
    },
}

impl Worker {
    /// The worker on the shared ports and its own.
    pub fn new(services: &Services, fulfilment: FulfilmentServices) -> Self {
        Self {
            store: services.store.clone(),
            publisher: services.publisher.clone(),
            carrier: services.carrier.clone(),
            clock: services.clock.clone(),
            ports: fulfilment,
        }
    }

    fn deps(&self) -> FulfilDeps<'_> {
        FulfilDeps {
            store: self.store.as_ref(),
            invoices: self.ports.invoices.as_ref(),
            carrier: self.carrier.as_ref(),
            publisher: self.publisher.as_ref(),
            notifier: self.ports.notifier.as_ref(),
            clock: self.clock.as_ref(),
            seller: &self.ports.seller,
        }
    }

    /// Processes one message in its span ([`message_span`]), without the ops alert of a last
    /// receive: for hosts that count receives themselves.
    pub async fn process(&self, m: &SqsMessage) -> Processed {
        self.run(m).instrument(message_span(m)).await
    }

    /// Processes one message in the current span, recording its order id there.
    async fn run(&self, m: &SqsMessage) -> Processed {
        let mut job: FulfilmentJob = match m.body.as_deref().map(serde_json::from_str) {
            Some(Ok(job)) => job,
            _ => {
                return Processed::Failed {
                    category: "api",
                    error: "the message is not a fulfilment job".into(),
                };
            }
        };
        job.trace = trace_of(m);
        tracing::Span::current().record("order_id", job.order_id.as_str());
        match fulfil_job(&self.deps(), &job).await {
            Ok(Fulfilment::Done) => Processed::Done,
            Ok(Fulfilment::Skipped(why)) => Processed::Skipped(why),
            Err(e) => Processed::Failed {
                category: e.category(),
                error: e.to_string(),
            },
        }
    }

    async fn record(&self, m: &SqsMessage) -> Processed {
        let started = std::time::Instant::now();
        let outcome = self.run(m).await;
        if outcome == Processed::Done {
            let elapsed = started.elapsed();
            metrics::histogram!("order_processing_time").record(elapsed.as_secs_f64() * 1000.0);
            tracing::info!(
                elapsed_ms = elapsed.as_millis() as u64,
                "fulfilment job done"
            );
        }
        if let Processed::Failed { category, error } = &outcome {
            let receives: u32 = m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            tracing::warn!(category, error = %error, receives, "fulfilment failed");
            metrics::counter!("fulfilment_failures", "category" => *category).increment(1);
            if receives >= self.ports.max_receives {
                let alert = Message {
                    event_type: "ops.fulfilment_failed".into(),
                    body: json!({
                        "category": category,
                        "severity": "high",
                        "title": "Fulfilment failed for good; the job moves to the dead-letter queue",
                        "error": error,
                        "messageId": m.message_id,
                        "body": m.body,
                        "receives": receives,
                        "at": self.clock.now(),
                    }),
                    trace: trace_of(m),
                };
                if let Err(e) = self.publisher.publish(Topic::OpsAlerts, &alert).await {
                    tracing::error!(error = %e, "ops alert not published");
                }
            }
        }
        outcome
    }

    /// One batch: every message processed, the failed ones reported by id.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for m in &event.records {
            let id = m.message_id.clone().unwrap_or_default();
            let outcome = self.record(m).instrument(message_span(m)).await;
            if matches!(outcome, Processed::Failed { .. }) {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }
}
