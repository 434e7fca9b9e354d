//! The ports every entry point runs on, bundled once. The composition root (`oms-app`) builds
//! them — on AWS for a Lambda, in memory for the dev server and tests — and each host hands
//! them to the use cases.

use std::sync::Arc;

use crate::invoice::Seller;
use crate::ports::{
    Carrier, Clock, CredentialSource, DeadJobs, DownloadLinks, EventPublisher, IdGenerator,
    InvoiceStorage, JobQueue, Notifier, OrderStore, PaymentProviders, SecretSource,
};

use super::OrderPolicy;

#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn OrderStore>,
    pub queue: Arc<dyn JobQueue>,
    /// The jobs that failed for good (the queue's dead-letter queue), for the ops console.
    pub dead_jobs: Arc<dyn DeadJobs>,
    pub publisher: Arc<dyn EventPublisher>,
    pub secrets: Arc<dyn SecretSource>,
    pub providers: PaymentProviders,
    /// Creates shipments (the worker) and cancels them before pickup (the cancel route).
    pub carrier: Arc<dyn Carrier>,
    /// The tokens the carrier's tracking webhook must present (`token`, `previousToken`).
    pub tracking_tokens: Arc<dyn CredentialSource>,
    /// Short-lived links to digital products' files (`GET /orders/{orderId}/downloads/{sku}`).
    pub downloads: Arc<dyn DownloadLinks>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub policy: OrderPolicy,
}

impl Services {
    /// How an event this service found itself (reconciliation, backfill, replay) is applied:
    /// this deployment's policies, recorded as coming from `source`.
    pub fn delivery(&self, source: super::webhook::EventSource) -> super::webhook::Delivery {
        super::webhook::Delivery {
            late_payment: self.policy.late_payment,
            event_retention: self.policy.event_retention,
            source,
        }
    }

    /// How carrier tracking is applied: this deployment's `RTO_REFUND_POLICY`, and unmatched
    /// updates kept as long as provider events.
    pub fn tracking_policy(&self) -> super::tracking::TrackingPolicy {
        super::tracking::TrackingPolicy {
            rto_refund: self.policy.rto_refund,
            retention: self.policy.event_retention,
        }
    }

    /// The ports the use cases that write orders and send their effects (webhook, sweep,
    /// admin) need.
    pub fn outbox_ports(&self) -> super::outbox::OutboxPorts<'_> {
        super::outbox::OutboxPorts {
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            publisher: self.publisher.as_ref(),
            clock: self.clock.as_ref(),
            trace: crate::ports::Trace::default(),
        }
    }
}

/// What the post-payment worker needs beyond [`Services`]: where invoices go, the notifier,
/// the seller printed on invoices, and the queue's receive limit.
#[derive(Clone)]
pub struct FulfilmentServices {
    pub invoices: Arc<dyn InvoiceStorage>,
    pub notifier: Arc<dyn Notifier>,
    pub seller: Seller,
    /// The queue's `maxReceiveCount`: the receive on which a failure is final.
    pub max_receives: u32,
}
