//! The offline **stand-in** for both providers, for the dev server and tests: no network, ids
//! shaped like the real ones (`order_…`, `cs_test_…`) derived from our order id, and a checkout
//! URL on the local server. It never takes money; payments are simulated by signed webhooks
//! (`cargo run -p dev-server -- pay …`).
//!
//! Refunds are answered as the providers answer them: a `re_test_…` or `rfnd_…` id derived
//! from our refund id, `Pending` (settling it is the refund webhook's job), and idempotent by
//! refund id. Every call is recorded so tests can count what reached the "provider". A refund
//! it made is looked up (`get_refund`) as it stands: pending until it is settled
//! ([`OfflineProvider::settle_refund`], which the dev server's stand-in does as it sends the
//! refund's webhook).
//!
//! Payments simulated through it are remembered ([`OfflineProvider::record_payment`]) so that
//! `find_payments` reports them as the providers' lookups would, and so are the webhooks it
//! sent or would have sent ([`OfflineProvider::record_event`], delivered or lost), which
//! `backfill_page` lists as the providers' list APIs would: Stripe's events as they are,
//! Razorpay's payments and refunds read out of them and wrapped as the live client does.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use oms_core::ports::{
    BACKFILL_PAGE, BackfillItem, BackfillPage, BackfillQuery, CheckoutClosed, CheckoutRequest,
    FoundPayment, PaymentProvider, ProviderError, ProviderRefund, ProviderRefundStatus, RefundCall,
};
use oms_core::{PaymentInfo, ProviderKind, Timestamp};

use crate::derived;

pub struct OfflineProvider {
    kind: ProviderKind,
    razorpay_key_id: String,
    checkout_base: String,
    refunds: Mutex<Refunds>,
    payments: Mutex<Payments>,
    sent: Mutex<Sent>,
}

/// A webhook the provider sent, or would have sent had it not been lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEvent {
    /// Stripe's `evt_…` (in the body too); for Razorpay the `X-Razorpay-Event-Id`.
    pub event_id: String,
    /// The webhook body, as signed and posted.
    pub body: String,
    pub created: Timestamp,
    /// Whether the server acknowledged it (Stripe's `delivery_success`).
    pub delivered: bool,
}

#[derive(Default)]
struct Sent {
    /// Oldest first.
    events: Vec<SentEvent>,
    /// While set, every `backfill_page` fails with it.
    fail: Option<ProviderError>,
}

#[derive(Default)]
struct Payments {
    /// By provider order id (Razorpay `order_…`, Stripe `cs_test_…`), in the order first seen.
    found: HashMap<String, Vec<FoundPayment>>,
    /// While set, every `find_payments` fails with it.
    fail: Option<ProviderError>,
}

#[derive(Default)]
struct Refunds {
    /// Every call received, in order, answered or failed.
    calls: Vec<RefundCall>,
    /// The first accepted call of each refund id and the answer it got: what a retry replays.
    made: HashMap<String, (RefundCall, ProviderRefund)>,
    /// While set, every refund call fails with it.
    fail: Option<ProviderError>,
    /// While set, every refund lookup fails with it.
    fail_lookups: Option<ProviderError>,
    /// Every refund lookup received, in order: `(payment id, provider refund id)`.
    lookups: Vec<(String, String)>,
    /// Where refunds stand since they were settled, by provider refund id (a retried call is
    /// still answered with the first answer, as idempotency keys replay it).
    settled: HashMap<String, ProviderRefundStatus>,
}

impl OfflineProvider {
    /// `checkout_base` is the local page that stands in for the hosted checkout.
    pub fn new(kind: ProviderKind, razorpay_key_id: &str, checkout_base: &str) -> Self {
        Self {
            kind,
            razorpay_key_id: razorpay_key_id.to_owned(),
            checkout_base: checkout_base.trim_end_matches('/').to_owned(),
            refunds: Mutex::default(),
            payments: Mutex::default(),
            sent: Mutex::default(),
        }
    }

    /// Remembers a webhook sent (or lost), for `backfill_page` to list. An event id recorded
    /// again replaces the earlier record (a redelivery that succeeded this time).
    pub fn record_event(&self, event: SentEvent) {
        let mut sent = self.sent();
        sent.events.retain(|e| e.event_id != event.event_id);
        sent.events.push(event);
    }

    /// Every webhook recorded so far, oldest first.
    pub fn sent_events(&self) -> Vec<SentEvent> {
        self.sent().events.clone()
    }

    /// From now on, every `backfill_page` fails with `mode`; `None` lets them through again.
    pub fn fail_backfills(&self, mode: Option<ProviderError>) {
        self.sent().fail = mode;
    }

    fn sent(&self) -> MutexGuard<'_, Sent> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the provider's list APIs hold for `query`, newest first: Stripe's events; Razorpay's
    /// payments, then its refunds, each in its latest state.
    fn listed(&self, query: &BackfillQuery) -> Vec<BackfillItem> {
        let (since, until) = (query.since.unix_seconds(), query.until.unix_seconds());
        let mut events: Vec<SentEvent> = self
            .sent()
            .events
            .iter()
            .filter(|e| (since..=until).contains(&e.created.unix_seconds()))
            .filter(|e| !(query.undelivered_only && e.delivered))
            .cloned()
            .collect();
        events.reverse();
        events.sort_by_key(|e| std::cmp::Reverse(e.created.unix_seconds()));
        match self.kind {
            ProviderKind::Stripe => events
                .into_iter()
                .map(|e| BackfillItem {
                    event_id: e.event_id,
                    body: e.body,
                })
                .collect(),
            ProviderKind::Razorpay => {
                use crate::razorpay::{Entity, backfill_item};
                let mut payments: Vec<BackfillItem> = Vec::new();
                let mut refunds: Vec<BackfillItem> = Vec::new();
                let mut seen: Vec<String> = Vec::new();
                for e in &events {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.body) else {
                        continue;
                    };
                    let kind = v["event"].as_str().unwrap_or_default();
                    let (entity, list, pointer) = if kind.starts_with("refund.") {
                        (Entity::Refund, &mut refunds, "/payload/refund/entity")
                    } else if kind.starts_with("payment.") && !kind.contains("dispute") {
                        (Entity::Payment, &mut payments, "/payload/payment/entity")
                    } else {
                        continue;
                    };
                    // The newest state of each entity is what its list shows.
                    let Some(id) = v.pointer(pointer).and_then(|x| x["id"].as_str()) else {
                        continue;
                    };
                    if seen.iter().any(|s| s == id) {
                        continue;
                    }
                    seen.push(id.to_owned());
                    list.extend(v.pointer(pointer).and_then(|x| backfill_item(entity, x)));
                }
                payments.extend(refunds);
                payments
            }
        }
    }

    /// Remembers a payment made on the checkout `provider_order_id`, for `find_payments` to
    /// report. A payment id recorded again replaces its earlier state (an authorised payment
    /// later captured), keeping its place.
    pub fn record_payment(&self, provider_order_id: &str, found: FoundPayment) {
        let mut payments = self.payments();
        let list = payments
            .found
            .entry(provider_order_id.to_owned())
            .or_default();
        match list.iter_mut().find(|p| p.payment_id == found.payment_id) {
            Some(earlier) => *earlier = found,
            None => list.push(found),
        }
    }

    /// From now on, every `find_payments` fails with `mode`; `None` lets them through again.
    pub fn fail_finds(&self, mode: Option<ProviderError>) {
        self.payments().fail = mode;
    }

    fn payments(&self) -> MutexGuard<'_, Payments> {
        self.payments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every refund call received so far, oldest first, including retries answered from an
    /// earlier call and calls that failed: two entries with one refund id are two provider
    /// calls, deduplicated by the provider.
    pub fn refund_calls(&self) -> Vec<RefundCall> {
        self.refunds().calls.clone()
    }

    /// From now on, every refund call fails with `mode` (still recorded, nothing refunded);
    /// `None` lets them through again. For tests of outages (`Unavailable`) and refusals
    /// (`Rejected`).
    pub fn fail_refunds(&self, mode: Option<ProviderError>) {
        self.refunds().fail = mode;
    }

    /// The provider finishes a refund it made (`Succeeded` or `Failed`): from now on
    /// `get_refund` reports it so (a retried call under its refund id is still answered with
    /// the first answer, as the providers' idempotency keys replay it). `false` when no refund
    /// has that provider id.
    pub fn settle_refund(&self, provider_refund_id: &str, status: ProviderRefundStatus) -> bool {
        let mut refunds = self.refunds();
        let made = refunds
            .made
            .values()
            .any(|(_, r)| r.provider_refund_id == provider_refund_id);
        if made {
            refunds
                .settled
                .insert(provider_refund_id.to_owned(), status);
        }
        made
    }

    /// From now on, every `get_refund` fails with `mode`; `None` lets them through again.
    pub fn fail_refund_lookups(&self, mode: Option<ProviderError>) {
        self.refunds().fail_lookups = mode;
    }

    /// Every `get_refund` received so far, oldest first: `(payment id, provider refund id)`.
    pub fn refund_lookups(&self) -> Vec<(String, String)> {
        self.refunds().lookups.clone()
    }

    fn refunds(&self) -> MutexGuard<'_, Refunds> {
        // A test that panicked while holding the lock left consistent data behind.
        self.refunds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the provider answers a new refund: ids derived from ours, money not yet returned.
    fn new_refund(&self, call: &RefundCall) -> ProviderRefund {
        let seed = call.refund_id.as_str();
        match self.kind {
            ProviderKind::Stripe => ProviderRefund {
                provider_refund_id: format!("re_test_{}", derived(seed, 24)),
                status: ProviderRefundStatus::Pending,
                amount: call.amount,
                charge_id: Some(format!("ch_test_{}", derived(&call.payment_id, 24))),
            },
            ProviderKind::Razorpay => ProviderRefund {
                provider_refund_id: format!("rfnd_{}", derived(seed, 14)),
                status: ProviderRefundStatus::Pending,
                amount: call.amount,
                charge_id: None,
            },
        }
    }
}

#[async_trait]
impl PaymentProvider for OfflineProvider {
    fn kind(&self) -> ProviderKind {
        self.kind
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<PaymentInfo, ProviderError> {
        let seed = req.order_id.as_str();
        Ok(match self.kind {
            ProviderKind::Razorpay => PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: format!("order_{}", derived(seed, 14)),
                provider_payment_id: None,
                checkout_url: None,
                key_id: Some(self.razorpay_key_id.clone()),
                captured: None,
            },
            ProviderKind::Stripe => {
                let session = format!("cs_test_{}", derived(seed, 58));
                PaymentInfo {
                    provider: ProviderKind::Stripe,
                    checkout_url: Some(format!("{}/{session}", self.checkout_base)),
                    provider_order_id: session,
                    provider_payment_id: None,
                    key_id: None,
                    captured: None,
                }
            }
        })
    }

    /// What was recorded for the checkout; empty when nothing was.
    async fn find_payments(
        &self,
        payment: &PaymentInfo,
    ) -> Result<Vec<FoundPayment>, ProviderError> {
        let payments = self.payments();
        if let Some(e) = &payments.fail {
            return Err(e.clone());
        }
        Ok(payments
            .found
            .get(&payment.provider_order_id)
            .cloned()
            .unwrap_or_default())
    }

    /// Pages of [`OfflineProvider::listed`]; the cursor is the last item's event id, as
    /// Stripe's `starting_after`.
    async fn backfill_page(&self, query: &BackfillQuery) -> Result<BackfillPage, ProviderError> {
        if let Some(e) = &self.sent().fail {
            return Err(e.clone());
        }
        let listed = self.listed(query);
        let start = match &query.cursor {
            None => 0,
            Some(c) => {
                listed
                    .iter()
                    .position(|i| &i.event_id == c)
                    .ok_or_else(|| ProviderError::Rejected {
                        status: 400,
                        message: "offline: the cursor is not one this backfill returned".into(),
                    })?
                    + 1
            }
        };
        let items: Vec<BackfillItem> = listed
            .iter()
            .skip(start)
            .take(BACKFILL_PAGE as usize)
            .cloned()
            .collect();
        let more = start + items.len() < listed.len();
        Ok(BackfillPage {
            next_cursor: items.last().filter(|_| more).map(|i| i.event_id.clone()),
            items,
        })
    }

    async fn close_checkout(&self, _: &PaymentInfo) -> Result<CheckoutClosed, ProviderError> {
        Ok(match self.kind {
            ProviderKind::Stripe => CheckoutClosed::Expired,
            ProviderKind::Razorpay => CheckoutClosed::NotApplicable,
        })
    }
    /// Records the call, then answers like the providers' idempotency keys do: the first call
    /// of a refund id makes the refund, a retry of the same call gets the same answer, and
    /// another call under that refund id is refused (Stripe and Razorpay both answer 400).
    async fn refund(&self, call: &RefundCall) -> Result<ProviderRefund, ProviderError> {
        let mut refunds = self.refunds();
        refunds.calls.push(call.clone());
        if let Some(e) = &refunds.fail {
            return Err(e.clone());
        }
        match refunds.made.get(&call.refund_id) {
            Some((first, answer)) if first == call => Ok(answer.clone()),
            Some(_) => Err(ProviderError::Rejected {
                status: 400,
                message: "offline: another request was made with this idempotency key".into(),
            }),
            None => {
                let answer = self.new_refund(call);
                refunds
                    .made
                    .insert(call.refund_id.clone(), (call.clone(), answer.clone()));
                Ok(answer)
            }
        }
    }

    /// The refund as it stands, if this provider made it for that payment; otherwise refused
    /// as the providers refuse an unknown id (404).
    async fn get_refund(
        &self,
        payment_id: &str,
        provider_refund_id: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let mut refunds = self.refunds();
        refunds
            .lookups
            .push((payment_id.to_owned(), provider_refund_id.to_owned()));
        if let Some(e) = &refunds.fail_lookups {
            return Err(e.clone());
        }
        refunds
            .made
            .values()
            .find(|(call, r)| {
                r.provider_refund_id == provider_refund_id && call.payment_id == payment_id
            })
            .map(|(_, r)| ProviderRefund {
                status: refunds
                    .settled
                    .get(provider_refund_id)
                    .copied()
                    .unwrap_or(r.status),
                ..r.clone()
            })
            .ok_or_else(|| ProviderError::Rejected {
                status: 404,
                message: format!("offline: no refund {provider_refund_id}"),
            })
    }
}
