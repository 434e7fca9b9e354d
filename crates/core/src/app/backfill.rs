//! Backfill (`docs/decisions.md`, "Backfill"): an operator lists what a provider holds since a
//! time and every event whose webhook never arrived is applied through the webhook's own
//! at-most-once path. Stripe's events keep their own `evt_…` ids, so an event the webhook did
//! deliver is a duplicate and one applied here makes a late webhook a duplicate; Razorpay, which
//! lists payments and refunds rather than events, gets stable ids of their own
//! (`backfill:<id>#<status>`). Running it twice changes nothing the second time.
//!
//! One call reads one page of the provider's list (at most [`MAX_ITEMS`]) and hands back the
//! provider's cursor: a caller (`POST /admin/backfill`, `dev-server backfill`) loops until there
//! is none. A failure part-way loses nothing: what was applied is recorded, and the same call
//! again applies the rest.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::ids::OrderId;
use crate::order::ProviderKind;
use crate::ports::{BACKFILL_PAGE, BackfillItem, BackfillQuery, ProviderError, Topic};
use crate::time::Timestamp;
use crate::validation::{Collector, ValidationErrors};
use crate::webhook::{PaymentEvent, razorpay, stripe};

use super::Services;
use super::outbox::{OutboxError, publish};
use super::refund::send_recorded;
use super::webhook::{EventSource, Handled, handle_event_with};

/// The most items one call applies: one page of either provider's list.
pub const MAX_ITEMS: usize = BACKFILL_PAGE as usize;

/// How far back Stripe lists events.
pub const STRIPE_EVENT_WINDOW: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The longest cursor accepted (Stripe ids are far shorter).
const MAX_CURSOR_CHARS: usize = 200;

/// The most corrections one alert names.
const ALERT_CORRECTIONS: usize = 20;

/// `POST /admin/backfill`'s body, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackfillBody {
    #[serde(default)]
    pub provider: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub since: Option<String>,
    /// RFC 3339; now when absent.
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub undelivered_only: Option<bool>,
    /// The `nextCursor` of the previous call.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A well-formed backfill request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillRequest {
    pub provider: ProviderKind,
    pub query: BackfillQuery,
}

/// An RFC 3339 date-time (any offset) as an instant.
fn rfc3339(s: &str) -> Option<Timestamp> {
    let dt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let millis = dt.unix_timestamp_nanos() / 1_000_000;
    Some(Timestamp::from_unix_millis(i64::try_from(millis).ok()?))
}

impl BackfillBody {
    /// A request that can be sent as it is, judged at `now`: a known provider, `since` in the
    /// past (for Stripe within its 30-day event window), `until` not before it, and no
    /// `undeliveredOnly` for Razorpay, which cannot tell.
    pub fn validate(self, now: Timestamp) -> Result<BackfillRequest, ValidationErrors> {
        let mut c = Collector::new();
        let provider = match self.provider.as_deref() {
            None => {
                c.push("provider", "is required");
                None
            }
            Some(p) => {
                let kind = ProviderKind::parse(p);
                if kind.is_none() {
                    c.push("provider", "must be stripe or razorpay");
                }
                kind
            }
        };
        const WHEN: &str = "must be an RFC 3339 date-time such as 2026-11-23T11:08:00Z";
        let since = match self.since.as_deref() {
            None => {
                c.push("since", "is required");
                None
            }
            Some(s) => match rfc3339(s) {
                None => {
                    c.push("since", WHEN);
                    None
                }
                Some(t) if t > now => {
                    c.push("since", "must not be in the future");
                    None
                }
                Some(t) => Some(t),
            },
        };
        let until = match self.until.as_deref() {
            None => Some(now),
            Some(s) => match rfc3339(s) {
                None => {
                    c.push("until", WHEN);
                    None
                }
                Some(t) => Some(t),
            },
        };
        if let (Some(since), Some(until)) = (since, until)
            && until < since
        {
            c.push("until", "must not be before since");
        }
        let oldest = now.minus(STRIPE_EVENT_WINDOW);
        if provider == Some(ProviderKind::Stripe)
            && let Some(since) = since
            && since < oldest
        {
            c.push(
                "since",
                format!("Stripe lists events for 30 days only: must be {oldest} or later"),
            );
        }
        let undelivered_only = self.undelivered_only.unwrap_or(false);
        if undelivered_only && provider == Some(ProviderKind::Razorpay) {
            c.push(
                "undeliveredOnly",
                "Razorpay cannot tell which webhooks were delivered: leave it out (everything is listed, and what arrived is a duplicate)",
            );
        }
        let cursor = match self.cursor {
            Some(cur)
                if cur.is_empty()
                    || cur.chars().count() > MAX_CURSOR_CHARS
                    || !cur.chars().all(|ch| ch.is_ascii_graphic()) =>
            {
                c.push("cursor", "must be a nextCursor this route returned");
                None
            }
            other => other,
        };
        c.finish()?;
        match (provider, since, until) {
            (Some(provider), Some(since), Some(until)) => Ok(BackfillRequest {
                provider,
                query: BackfillQuery {
                    since,
                    until,
                    undelivered_only,
                    cursor,
                },
            }),
            // Each missing value pushed an error above.
            _ => Err(ValidationErrors::single(
                "body",
                "is not a backfill request",
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The deployment has no client for this provider.
    #[error("{} is not configured in this deployment", .0.as_str())]
    NotConfigured(ProviderKind),
    /// The provider refused the query itself (a cursor it did not issue, a window it does not
    /// keep): the operator's to fix.
    #[error("the provider refused the query: {0}")]
    Refused(String),
    /// The provider could not be reached, or refused us (credentials): nothing was applied by
    /// this call.
    #[error(transparent)]
    Provider(ProviderError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// One event that changed an order: a webhook that had been missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub event_id: String,
    pub event_type: String,
    pub order_id: OrderId,
}

/// What one call did, item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub listed: u32,
    /// Changed an order: its webhook had been missed.
    pub applied: u32,
    /// Recorded before (the webhook, or an earlier backfill, brought it) or about an order that
    /// already has what it says.
    pub already_known: u32,
    /// About no order of ours (recorded, and an ops alert raised, as for a webhook).
    pub unmatched: u32,
    /// Of a type this service does not act on.
    pub ignored: u32,
    pub corrections: Vec<Correction>,
    /// Hand back as `cursor` for the next page; `None` when the provider has no more.
    pub next_cursor: Option<String>,
}

/// Reads one page of what the provider holds and applies each item, as its webhook would have
/// been applied.
#[tracing::instrument(skip_all, fields(provider = request.provider.as_str(), cursor = ?request.query.cursor))]
pub async fn backfill(
    services: &Services,
    request: &BackfillRequest,
) -> Result<BackfillReport, BackfillError> {
    let provider = services
        .providers
        .get(request.provider)
        .ok_or(BackfillError::NotConfigured(request.provider))?;
    let page = provider
        .backfill_page(&request.query)
        .await
        .map_err(|e| match e {
            ProviderError::Rejected {
                status: 400 | 404 | 422,
                message,
            } => BackfillError::Refused(message),
            e => BackfillError::Provider(e),
        })?;
    let mut report = BackfillReport {
        next_cursor: page.next_cursor,
        ..BackfillReport::default()
    };
    for item in page.items.iter().take(MAX_ITEMS) {
        report.listed += 1;
        let event = normalised(request.provider, item);
        let delivery = services.delivery(EventSource::Backfill);
        let handled = handle_event_with(
            &services.outbox_ports(),
            delivery,
            &event,
            item.body.as_bytes(),
        )
        .await?;
        match handled {
            Handled::Applied {
                order_id,
                refund_to_send,
            } => {
                if let Some(refund_id) = refund_to_send
                    && let Err(e) = send_recorded(services, &order_id, &refund_id).await
                {
                    tracing::warn!(order_id = %order_id, refund_id, error = %e, "late payment's refund not sent yet; the sweep will");
                }
                tracing::warn!(order_id = %order_id, event_id = %event.event_id, event_type = %event.event_type, provider = request.provider.as_str(), "webhook missed: event applied by backfill");
                report.applied += 1;
                report.corrections.push(Correction {
                    event_id: event.event_id.clone(),
                    event_type: event.event_type.clone(),
                    order_id,
                });
            }
            Handled::Duplicate | Handled::NoChange { .. } => report.already_known += 1,
            Handled::Unmatched => report.unmatched += 1,
            Handled::Ignored => report.ignored += 1,
        }
    }
    if !report.corrections.is_empty() {
        alert(services, request.provider, &report).await;
    }
    tracing::info!(
        listed = report.listed,
        applied = report.applied,
        already_known = report.already_known,
        unmatched = report.unmatched,
        ignored = report.ignored,
        more = report.next_cursor.is_some(),
        "backfill page done"
    );
    Ok(report)
}

/// The item as its webhook is read: Stripe's event by the Stripe normaliser, a Razorpay entity
/// (wrapped as its webhook) by the Razorpay one, under the id the provider port gave it. A body
/// that cannot be read is recorded as an unreadable event, as a webhook's would be.
fn normalised(provider: ProviderKind, item: &BackfillItem) -> PaymentEvent {
    let body = item.body.as_bytes();
    let read = match provider {
        ProviderKind::Stripe => stripe::normalise(body),
        ProviderKind::Razorpay => razorpay::normalise(body, Some(&item.event_id)),
    };
    let mut event = read.unwrap_or_else(|reason| {
        PaymentEvent::unreadable(provider, body, Some(&item.event_id), &reason)
    });
    event.event_id = item.event_id.clone();
    event
}

/// One `ops.webhook_missed` alert per call that corrected something: webhooks are being lost,
/// and someone should find out why.
async fn alert(services: &Services, provider: ProviderKind, report: &BackfillReport) {
    let named: Vec<_> = report
        .corrections
        .iter()
        .take(ALERT_CORRECTIONS)
        .map(|c| json!({"eventId": c.event_id, "eventType": c.event_type, "orderId": c.order_id}))
        .collect();
    publish(
        services.publisher.as_ref(),
        Topic::OpsAlerts,
        "ops.webhook_missed",
        json!({
            "category": "payment",
            "severity": "medium",
            "title": "Provider events whose webhook never arrived were found and applied by a backfill",
            "source": "backfill",
            "provider": provider.as_str(),
            "applied": report.applied,
            "corrections": named,
            "at": services.clock.now(),
        }),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        rfc3339("2027-01-31T12:00:00Z").unwrap()
    }

    fn body(provider: &str, since: &str) -> BackfillBody {
        BackfillBody {
            provider: Some(provider.into()),
            since: Some(since.into()),
            ..BackfillBody::default()
        }
    }

    fn fields(e: ValidationErrors) -> Vec<String> {
        e.fields().iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn a_request_reads_its_window_and_until_defaults_to_now() {
        let r = body("stripe", "2027-01-30T12:00:00+05:30")
            .validate(now())
            .unwrap();
        assert_eq!(r.provider, ProviderKind::Stripe);
        assert_eq!(r.query.since, rfc3339("2027-01-30T06:30:00Z").unwrap());
        assert_eq!(r.query.until, now());
        assert!(!r.query.undelivered_only);
        assert_eq!(r.query.cursor, None);
        let r = BackfillBody {
            until: Some("2027-01-31T00:00:00Z".into()),
            undelivered_only: Some(true),
            cursor: Some("evt_123".into()),
            ..body("stripe", "2027-01-30T00:00:00Z")
        }
        .validate(now())
        .unwrap();
        assert_eq!(r.query.until, rfc3339("2027-01-31T00:00:00Z").unwrap());
        assert!(r.query.undelivered_only);
        assert_eq!(r.query.cursor.as_deref(), Some("evt_123"));
    }

    #[test]
    fn stripe_is_asked_for_thirty_days_at_most_and_razorpay_for_any_past_window() {
        let e = body("stripe", "2026-12-31T11:59:59Z")
            .validate(now())
            .unwrap_err();
        assert_eq!(fields(e.clone()), ["since"]);
        assert!(e.fields()[0].message.contains("30 days"), "{e:?}");
        assert!(
            body("stripe", "2027-01-01T12:00:00Z")
                .validate(now())
                .is_ok()
        );
        assert!(
            body("razorpay", "2026-06-01T00:00:00Z")
                .validate(now())
                .is_ok()
        );
    }

    #[test]
    fn nonsense_is_refused_field_by_field() {
        let cases: Vec<(BackfillBody, &[&str])> = vec![
            (BackfillBody::default(), &["provider", "since"]),
            (body("paypal", "2027-01-30T00:00:00Z"), &["provider"]),
            (body("stripe", "yesterday"), &["since"]),
            (body("stripe", "2027-01-30"), &["since"]),
            (body("stripe", "2027-02-01T00:00:00Z"), &["since"]),
            (
                BackfillBody {
                    until: Some("2027-01-29T00:00:00Z".into()),
                    ..body("stripe", "2027-01-30T00:00:00Z")
                },
                &["until"],
            ),
            (
                BackfillBody {
                    until: Some("soon".into()),
                    ..body("stripe", "2027-01-30T00:00:00Z")
                },
                &["until"],
            ),
            (
                BackfillBody {
                    undelivered_only: Some(true),
                    ..body("razorpay", "2027-01-30T00:00:00Z")
                },
                &["undeliveredOnly"],
            ),
            (
                BackfillBody {
                    cursor: Some(String::new()),
                    ..body("stripe", "2027-01-30T00:00:00Z")
                },
                &["cursor"],
            ),
            (
                BackfillBody {
                    cursor: Some("evt 1".into()),
                    ..body("stripe", "2027-01-30T00:00:00Z")
                },
                &["cursor"],
            ),
            (
                BackfillBody {
                    cursor: Some("x".repeat(201)),
                    ..body("stripe", "2027-01-30T00:00:00Z")
                },
                &["cursor"],
            ),
        ];
        for (b, want) in cases {
            let shown = format!("{b:?}");
            let e = b.validate(now()).unwrap_err();
            assert_eq!(fields(e), want, "{shown}");
        }
    }
}
