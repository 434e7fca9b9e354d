//! What the ops console searches by (`GET /admin/orders`, `GET /admin/events`), what a match is,
//! and the page position both stores hand out: the same rules whichever store answers.
//!
//! Results are newest first. A position is the sort key of the last result returned
//! (`<createdAt>#<orderId>` or `<receivedAt>#<provider>#<eventId>`: fixed-width timestamps, so
//! the strings order by time), and the next page is everything strictly older; a cursor carries
//! it with the search it belongs to, so it is refused for another search.

use crate::ids::OrderId;
use crate::order::{Order, OrderStatus, ProviderKind};
use crate::ports::{EventOutcome, EventRecord, EventSource, StoreError};
use crate::time::Timestamp;

/// Default and largest page of a search.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 100;

/// Orders matching every given field, created in `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderSearch {
    pub status: Option<OrderStatus>,
    /// Held for a person (any reason).
    pub requires_review: Option<bool>,
    /// With a dispute not yet won or lost.
    pub disputed: Option<bool>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl OrderSearch {
    pub fn matches(&self, o: &Order) -> bool {
        self.status.is_none_or(|s| o.status() == s)
            && self
                .requires_review
                .is_none_or(|r| o.requires_review() == r)
            && self.disputed.is_none_or(|d| o.has_open_dispute() == d)
            && in_window(o.created_at(), self.from, self.to)
    }

    /// Where `o` sorts in a search: newest first by this key.
    pub fn position(o: &Order) -> String {
        format!("{}#{}", o.created_at(), o.id())
    }

    /// The search a cursor belongs to, as text.
    fn scope(&self) -> String {
        format!(
            "orders|{}|{:?}|{:?}|{}|{}",
            self.status.map_or("", OrderStatus::as_str),
            self.requires_review,
            self.disputed,
            self.from.map(|t| t.to_string()).unwrap_or_default(),
            self.to.map(|t| t.to_string()).unwrap_or_default(),
        )
    }

    pub fn cursor(&self, position: &str) -> String {
        encode(&self.scope(), position)
    }

    /// The position a cursor of this search carries; [`StoreError::InvalidCursor`] for anything
    /// else (another search's cursor, a forged one).
    pub fn position_of(&self, cursor: &str) -> Result<String, StoreError> {
        decode(&self.scope(), cursor, |p| {
            let (t, id) = p.split_once('#')?;
            Timestamp::parse(t).ok()?;
            OrderId::parse(id).ok()
        })
    }
}

/// Recorded provider events with the given outcome, received in `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSearch {
    pub outcome: Option<EventOutcome>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl EventSearch {
    pub fn matches(&self, e: &EventSummary) -> bool {
        self.outcome.is_none_or(|o| e.outcome == o) && in_window(e.received_at, self.from, self.to)
    }

    /// Where an event sorts in a search: newest first by this key.
    pub fn position(provider: ProviderKind, event_id: &str, received_at: Timestamp) -> String {
        format!("{received_at}#{}#{event_id}", provider.as_str())
    }

    fn scope(&self) -> String {
        format!(
            "events|{}|{}|{}",
            self.outcome.map_or("", EventOutcome::as_str),
            self.from.map(|t| t.to_string()).unwrap_or_default(),
            self.to.map(|t| t.to_string()).unwrap_or_default(),
        )
    }

    pub fn cursor(&self, position: &str) -> String {
        encode(&self.scope(), position)
    }

    pub fn position_of(&self, cursor: &str) -> Result<String, StoreError> {
        decode(&self.scope(), cursor, |p| {
            let (t, rest) = p.split_once('#')?;
            Timestamp::parse(t).ok()?;
            let (provider, id) = rest.split_once('#')?;
            (ProviderKind::parse(provider).is_some() && !id.is_empty()).then_some(())
        })
    }
}

/// A recorded provider event without its raw body: what a list of events shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    pub provider: ProviderKind,
    pub event_id: String,
    pub event_type: String,
    pub received_at: Timestamp,
    pub order_id: Option<OrderId>,
    pub outcome: EventOutcome,
    pub detail: String,
    pub source: EventSource,
}

impl From<&EventRecord> for EventSummary {
    fn from(e: &EventRecord) -> Self {
        Self {
            provider: e.provider,
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone(),
            received_at: e.received_at,
            order_id: e.order_id.clone(),
            outcome: e.outcome,
            detail: e.detail.clone(),
            source: e.source,
        }
    }
}

/// A page of events found by an [`EventSearch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<EventSummary>,
    /// Opaque; hand back unchanged (with the same search) to get the next page.
    pub next_cursor: Option<String>,
}

fn in_window(t: Timestamp, from: Option<Timestamp>, to: Option<Timestamp>) -> bool {
    from.is_none_or(|f| t >= f) && to.is_none_or(|end| t < end)
}

fn encode(scope: &str, position: &str) -> String {
    hex::encode(format!("{scope}\n{position}"))
}

fn decode<T>(
    scope: &str,
    cursor: &str,
    valid: impl Fn(&str) -> Option<T>,
) -> Result<String, StoreError> {
    let raw = hex::decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(raw).map_err(|_| StoreError::InvalidCursor)?;
    match text.split_once('\n') {
        Some((s, position)) if s == scope && valid(position).is_some() => Ok(position.to_owned()),
        _ => Err(StoreError::InvalidCursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn a_cursor_is_refused_for_another_search_or_when_forged() {
        let paid = OrderSearch {
            status: Some(OrderStatus::Paid),
            ..OrderSearch::default()
        };
        let id = OrderId::from_ulid("01JABCDEFGHJKMNPQRSTVWXYZ0").unwrap();
        let position = format!("{}#{id}", at("2026-12-01T10:00:00.000Z"));
        let cursor = paid.cursor(&position);
        assert_eq!(paid.position_of(&cursor).unwrap(), position);
        let held = OrderSearch {
            requires_review: Some(true),
            ..OrderSearch::default()
        };
        assert_eq!(held.position_of(&cursor), Err(StoreError::InvalidCursor));
        for forged in ["", "zz", &hex::encode("orders|paid\nnot a position")] {
            assert_eq!(
                paid.position_of(forged),
                Err(StoreError::InvalidCursor),
                "{forged}"
            );
        }
        let events = EventSearch::default();
        let e = EventSearch::position(
            ProviderKind::Stripe,
            "evt_1",
            at("2026-12-01T10:00:00.000Z"),
        );
        assert_eq!(events.position_of(&events.cursor(&e)).unwrap(), e);
        assert_eq!(
            events.position_of(&paid.cursor(&position)),
            Err(StoreError::InvalidCursor)
        );
    }

    #[test]
    fn the_window_includes_from_and_excludes_to() {
        let from = at("2026-12-01T00:00:00.000Z");
        let to = at("2026-12-02T00:00:00.000Z");
        assert!(in_window(from, Some(from), Some(to)));
        assert!(!in_window(to, Some(from), Some(to)));
        assert!(in_window(
            at("2026-12-01T23:59:59.999Z"),
            Some(from),
            Some(to)
        ));
        assert!(!in_window(at("2026-11-30T23:59:59.999Z"), Some(from), None));
        assert!(in_window(at("1999-01-01T00:00:00.000Z"), None, None));
    }
}
