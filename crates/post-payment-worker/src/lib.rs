//! The post-payment worker: SQS batches of fulfilment jobs, one span and one
//! [`oms_core::app::fulfil::fulfil`] call per message, failures reported per message
//! (`batchItemFailures`) so only they are retried. A message that fails on its last receive
//! (`MAX_RECEIVE_COUNT`, the queue's redrive setting) raises an ops alert as it moves to the
//! dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use oms_core::app::fulfil::{FulfilDeps, Fulfilment, fulfil};
use oms_core::app::{FulfilmentServices, Services};
use oms_core::ports::{Carrier, Clock, EventPublisher, FulfilmentJob, Message, OrderStore, Topic};
use serde_json::json;
use tracing::Instrument;

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

    /// Processes one job body.
    pub async fn process(&self, body: Option<&str>) -> Processed {
        let job: FulfilmentJob = match body.map(serde_json::from_str) {
            Some(Ok(job)) => job,
            _ => {
                return Processed::Failed {
                    category: "api",
                    error: "the message is not a fulfilment job".into(),
                };
            }
        };
        match fulfil(&self.deps(), &job.order_id).await {
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
        let outcome = self.process(m.body.as_deref()).await;
        if outcome == Processed::Done {
            metrics::histogram!("order_processing_time")
                .record(started.elapsed().as_secs_f64() * 1000.0);
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
            let span = tracing::info_span!("message", message_id = %id);
            let outcome = self.record(m).instrument(span).await;
            if matches!(outcome, Processed::Failed { .. }) {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }
}
