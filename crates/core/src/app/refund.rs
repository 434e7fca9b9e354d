//! Refunds started here (`POST /admin/orders/{orderId}/refunds`; `docs/decisions.md`,
//! "Refunds started here").
//!
//! The refund is first written to the order as a `requested` ledger entry, conditioned on the
//! version read, under the request's `Idempotency-Key`: of any number of concurrent identical
//! requests exactly one writes it and calls the provider; the others read it back and answer
//! with it. Then the provider is called with an idempotency key derived from the refund id, and
//! its answer recorded. If the provider cannot be reached the entry stays `requested`, and the
//! sweep ([`resend_owed`]) calls again with the same key when the send lease has run out: a
//! refund is never lost and never sent twice.

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ids::{OrderId, UserId};
use crate::money::MAX_MINOR;
use crate::order::{NewRefund, Order, RefundRefusal, RefundRequest, TransitionError};
use crate::ports::{ProviderError, RefundCall, StoreError, Topic};
use crate::time::Timestamp;
use crate::validation::{Collector, ValidationErrors, bounded_text};

use super::RefusedTransition;
use super::Services;
use super::outbox::{publish, publish_entries};
use super::reconcile::{RefundChecked, reconcile_refund};
use super::retry::{Contended, MAX_ATTEMPTS, Retry};

/// How long one caller may hold a refund's send: longer than a provider call with its retries.
pub const REFUND_SEND_LEASE: Duration = Duration::from_secs(60);

/// The longest `reason` kept with a refund.
pub const MAX_REASON_CHARS: usize = 500;

/// The JSON body of `POST /admin/orders/{orderId}/refunds`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl RefundBody {
    /// A well-formed request under `idempotency_key` (already checked by the caller).
    pub fn validate(self, idempotency_key: &str) -> Result<RefundInput, ValidationErrors> {
        let mut c = Collector::new();
        let amount = match self.amount {
            Some(a) if !(1..=MAX_MINOR).contains(&a) => {
                c.push(
                    "amount",
                    format!("must be a whole number of minor units from 1 to {MAX_MINOR}"),
                );
                None
            }
            a => a,
        };
        let reason = match &self.reason {
            Some(r) => c.take("reason", bounded_text(r, MAX_REASON_CHARS)),
            None => None,
        };
        c.finish()?;
        Ok(RefundInput {
            idempotency_key: idempotency_key.to_owned(),
            amount,
            reason,
        })
    }
}

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct RefundInput {
    pub idempotency_key: String,
    /// Minor units; `None` = the whole refundable balance.
    pub amount: Option<i64>,
    pub reason: Option<String>,
}

impl RefundInput {
    /// The fingerprint of the body: the same key with another body is refused.
    fn fingerprint(&self) -> String {
        let canonical = json!({ "amount": self.amount, "reason": self.reason }).to_string();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no such order")]
    NotFound,
    #[error("the Idempotency-Key was used for another refund request")]
    KeyReused,
    #[error(transparent)]
    Refused(#[from] RefundRefusal),
    /// The provider could not be reached: the refund is kept `requested` (in `order`) and
    /// retried by the sweep with the same idempotency key.
    #[error("payment provider unavailable: {message}")]
    ProviderUnavailable {
        order: Box<Order>,
        refund_id: String,
        message: String,
    },
    /// The provider refused the refund: it is recorded `failed` (in `order`).
    #[error("payment provider refused the refund: {message}")]
    ProviderRejected {
        order: Box<Order>,
        refund_id: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the order kept changing")]
    Contention,
    #[error(transparent)]
    Invariant(#[from] RefusedTransition),
}

impl From<Contended> for RefundError {
    fn from(_: Contended) -> Self {
        Self::Contention
    }
}

/// A refund recorded (and sent, unless the provider was down).
#[derive(Debug, Clone)]
pub struct RefundAnswer {
    pub order: Order,
    pub refund: RefundRequest,
    /// An earlier request under the same key made it; this one changed nothing.
    pub repeated: bool,
}

impl RefundAnswer {
    fn new(order: Order, refund_id: &str, repeated: bool) -> Result<Self, RefundError> {
        let refund = order.refund_request(refund_id).cloned().ok_or_else(|| {
            RefusedTransition::new(
                order.id(),
                TransitionError::NotAllowed {
                    from: order.status(),
                    action: "answer a refund it does not hold",
                },
            )
        })?;
        Ok(Self {
            order,
            refund,
            repeated,
        })
    }
}

/// Records and sends a refund an admin asked for.
pub async fn request_refund(
    services: &Services,
    admin: &UserId,
    raw_id: &str,
    input: &RefundInput,
) -> Result<RefundAnswer, RefundError> {
    let id = OrderId::parse(raw_id).map_err(|_| RefundError::NotFound)?;
    let hash = input.fingerprint();
    let mut retry = Retry::new(MAX_ATTEMPTS);
    let (order, refund_id) = loop {
        let now = services.clock.now();
        let order = services
            .store
            .get_order(&id)
            .await?
            .ok_or(RefundError::NotFound)?;
        if let Some(existing) = order.refund_request_by_key(&input.idempotency_key) {
            if existing.request_hash.as_deref() != Some(hash.as_str()) {
                return Err(RefundError::KeyReused);
            }
            let refund_id = existing.refund_id.clone();
            return RefundAnswer::new(order, &refund_id, true);
        }
        let mut next = order.clone();
        let refund_id = format!("rf_{}", services.ids.ulid(now));
        let (_, entry) = next.request_refund(
            NewRefund {
                refund_id: refund_id.clone(),
                amount: input.amount,
                reason: input.reason.clone(),
                requested_by: admin.as_str().to_owned(),
                idempotency_key: Some(input.idempotency_key.clone()),
                request_hash: Some(hash.clone()),
            },
            now,
            now.plus(REFUND_SEND_LEASE),
        )?;
        if services
            .store
            .save_order(&next, order.version(), None)
            .await?
        {
            tracing::info!(order_id = %id, refund_id = %refund_id, by = %admin, "refund requested");
            publish_entries(
                services.publisher.as_ref(),
                &next,
                std::slice::from_ref(&entry),
            )
            .await;
            break (next, refund_id);
        }
        retry.lost_race()?;
    };
    let order = send(services, order, &refund_id).await?;
    RefundAnswer::new(order, &refund_id, false)
}

/// Calls the provider for a refund this caller holds the send of, and records the answer.
async fn send(services: &Services, order: Order, refund_id: &str) -> Result<Order, RefundError> {
    let request = order.refund_request(refund_id).cloned().ok_or_else(|| {
        RefusedTransition::new(
            order.id(),
            TransitionError::NotAllowed {
                from: order.status(),
                action: "send a refund it does not hold",
            },
        )
    })?;
    let payment = order.payment();
    let call = RefundCall {
        refund_id: refund_id.to_owned(),
        order_id: order.id().clone(),
        payment_id: payment.provider_payment_id.clone().unwrap_or_default(),
        amount: request.amount,
        reason: request.reason.clone(),
    };
    let answer = match services.providers.get(payment.provider) {
        Some(provider) => provider.refund(&call).await,
        None => Err(ProviderError::Unavailable(format!(
            "{} is not configured in this deployment",
            payment.provider.as_str()
        ))),
    };
    let id = order.id().clone();
    let mut order = order;
    let mut retry = Retry::new(MAX_ATTEMPTS);
    loop {
        let now = services.clock.now();
        let mut next = order.clone();
        let recorded = match &answer {
            Ok(refund) => next.record_refund_sent(
                refund_id,
                refund,
                now,
                now.plus(services.policy.reconcile_after),
            ),
            Err(ProviderError::Rejected { message, .. }) => next
                .record_refund_rejected(refund_id, message, now)
                .map(|e| vec![e]),
            Err(ProviderError::Unavailable(message)) => {
                tracing::warn!(order_id = %id, refund_id, error = %message, "refund call failed; the sweep retries it");
                return Err(RefundError::ProviderUnavailable {
                    order: Box::new(order),
                    refund_id: refund_id.to_owned(),
                    message: message.clone(),
                });
            }
        };
        let entries = match recorded {
            Ok(entries) => entries,
            // Settled meanwhile (the webhook came first): nothing left to record.
            Err(TransitionError::AlreadyApplied) => return finish(order, refund_id, &answer),
            Err(e) => return Err(RefusedTransition::new(&id, e).into()),
        };
        if services
            .store
            .save_order(&next, order.version(), None)
            .await?
        {
            tracing::info!(order_id = %id, refund_id, status = ?next.refund_request(refund_id).map(|r| r.status), "refund answer recorded");
            publish_entries(services.publisher.as_ref(), &next, &entries).await;
            return finish(next, refund_id, &answer);
        }
        retry.lost_race()?;
        order = services
            .store
            .get_order(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("order {id} vanished")))?;
    }
}

fn finish(
    order: Order,
    refund_id: &str,
    answer: &Result<crate::ports::ProviderRefund, ProviderError>,
) -> Result<Order, RefundError> {
    match answer {
        Err(ProviderError::Rejected { message, .. }) => Err(RefundError::ProviderRejected {
            order: Box::new(order),
            refund_id: refund_id.to_owned(),
            message: message.clone(),
        }),
        _ => Ok(order),
    }
}

/// Sends a refund recorded `requested` in the caller's own write (which took its send lease):
/// a late payment's, recorded by the webhook that applied the payment. A provider failure
/// leaves it `requested` for the sweep.
pub async fn send_recorded(
    services: &Services,
    order_id: &OrderId,
    refund_id: &str,
) -> Result<Order, RefundError> {
    let order = services
        .store
        .get_order(order_id)
        .await?
        .ok_or(RefundError::NotFound)?;
    send(services, order, refund_id).await
}

/// Calls after which a refund the provider keeps refusing to take is brought to a person
/// (about half an hour of sweeps), and again after as many more.
pub const STUCK_AFTER_ATTEMPTS: u32 = 6;

/// Alerts `ops.refund_not_sent` when a refund has failed to reach its provider
/// [`STUCK_AFTER_ATTEMPTS`] times (and every as many times after): it stays `requested` and
/// is still sent at every sweep, but the customer is waiting.
async fn alert_if_stuck(services: &Services, order: &Order, refund_id: &str, why: &str) {
    let Some(r) = order.refund_request(refund_id) else {
        return;
    };
    if r.attempts == 0 || r.attempts % STUCK_AFTER_ATTEMPTS != 0 {
        return;
    }
    tracing::warn!(order_id = %order.id(), refund_id, attempts = r.attempts, "refund still not accepted by the provider");
    publish(
        services.publisher.as_ref(),
        Topic::OpsAlerts,
        "ops.refund_not_sent",
        json!({
            "category": "payment",
            "severity": "high",
            "title": "Refund not yet accepted by the provider; still retried",
            "orderId": order.id(),
            "refundId": refund_id,
            "amount": r.amount.minor(),
            "attempts": r.attempts,
            "detail": why,
            "at": services.clock.now(),
        }),
    )
    .await;
}

/// What one pass of the sweep did with owed refund work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResendReport {
    /// Calls made whose answer was recorded.
    pub sent: u32,
    /// Calls that failed again (still owed).
    pub failed: u32,
    /// Refunds someone else held, or already settled.
    pub skipped: u32,
    /// `pending` refunds the provider was asked about and answered for (whatever it said).
    pub checked: u32,
    /// Of those, refunds the provider had settled whose webhook never came: settled here.
    pub corrected: u32,
    /// Checks the provider could not answer (left due: the next sweep asks again).
    pub check_failed: u32,
}

/// The sweep's part: sends again every `requested` refund asked for before `before` whose
/// send lease has run out, with the same idempotency key; and asks the provider about every
/// `pending` refund whose check is due now, settling those it reports final through the
/// webhook's own path ([`super::reconcile::reconcile_refund`]). Both come from one listing of
/// the store's refund index, at most `limit` orders, the earliest due first.
pub async fn resend_owed(
    services: &Services,
    before: Timestamp,
    limit: u32,
) -> Result<ResendReport, StoreError> {
    let now = services.clock.now();
    let mut report = ResendReport::default();
    for order_id in services.store.owed_refunds(now.max(before), limit).await? {
        let Some(order) = services.store.get_order(&order_id).await? else {
            continue;
        };
        let owed: Vec<String> = order
            .refund_requests()
            .iter()
            .filter(|r| r.status == crate::order::RefundState::Requested)
            .filter(|r| r.requested_at < before)
            .map(|r| r.refund_id.clone())
            .collect();
        for refund_id in owed {
            match resend_one(services, &order_id, &refund_id, now).await {
                Ok(true) => report.sent += 1,
                Ok(false) => report.skipped += 1,
                Err(e) => {
                    tracing::warn!(order_id = %order_id, refund_id, error = %e, "owed refund not sent");
                    report.failed += 1;
                }
            }
        }
        for (refund_id, provider_refund_id) in order.refund_checks_due(now) {
            match reconcile_refund(services, &order, &refund_id, &provider_refund_id).await {
                Ok(checked) => {
                    report.checked += 1;
                    if matches!(checked, RefundChecked::Corrected(_)) {
                        report.corrected += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(order_id = %order_id, refund_id, error = %e, "pending refund not checked; the next sweep asks again");
                    report.check_failed += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Takes one refund's send lease and sends it. `false` when someone else holds it or it was
/// settled meanwhile.
async fn resend_one(
    services: &Services,
    order_id: &OrderId,
    refund_id: &str,
    now: Timestamp,
) -> Result<bool, RefundError> {
    let mut retry = Retry::new(MAX_ATTEMPTS);
    loop {
        let order = services
            .store
            .get_order(order_id)
            .await?
            .ok_or(RefundError::NotFound)?;
        let mut next = order.clone();
        match next.claim_refund_send(refund_id, now, now.plus(REFUND_SEND_LEASE)) {
            Ok(_) => {}
            Err(TransitionError::Busy | TransitionError::AlreadyApplied) => return Ok(false),
            Err(e) => return Err(RefusedTransition::new(order_id, e).into()),
        }
        if services
            .store
            .save_order(&next, order.version(), None)
            .await?
        {
            return match send(services, next, refund_id).await {
                Ok(_) | Err(RefundError::ProviderRejected { .. }) => Ok(true),
                Err(e @ RefundError::ProviderUnavailable { .. }) => {
                    if let RefundError::ProviderUnavailable { order, message, .. } = &e {
                        alert_if_stuck(services, order, refund_id, message).await;
                    }
                    Err(e)
                }
                Err(e) => Err(e),
            };
        }
        retry.lost_race()?;
    }
}
