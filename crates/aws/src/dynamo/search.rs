//! The ops console's searches on `GSI3` (`docs/data-model.md`, "Searching orders and events"):
//! never a scan.
//!
//! Every order is in one `GSI3` partition: `ATTENTION` while it is held for review or has an
//! open dispute, `STATUS#<status>` otherwise; every event in `OUTCOME#<outcome>`. The sort key
//! is the search position (`<createdAt>#<orderId>`, `<receivedAt>#<provider>#<eventId>`), so a
//! time window and a page position are key conditions. A search reads the partitions that can
//! hold a match — one for `requiresReview=true`, `disputed=true` or a status without flags, the
//! status's and `ATTENTION` for a status, all of them when nothing narrows it — newest first,
//! filters what the partition does not decide on the index's own attributes, and merges them.
//! The index projects only keys and the few attributes filters and event lists need
//! (`INCLUDE`), so an order update that changes none of them writes nothing to it; the orders
//! found are then read whole in one consistent `BatchGetItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use oms_core::OrderStatus;
use oms_core::ports::{EventOutcome, OrderPage, StoreError};
use oms_core::search::{EventPage, EventSearch, EventSummary, OrderSearch};

use super::errors::{corrupt, sdk_error};
use super::items::{event_summary_from, order_from};
use super::keys::{ATTENTION, outcome_pk, status_pk};
use super::{DynamoStore, Item, s};

/// A partition to read and the filter (on projected attributes) a match must also pass.
struct Part {
    pk: String,
    filter: Vec<(&'static str, AttributeValue)>,
}

/// Index entries evaluated per `Query` page of a filtered partition, and pages read per
/// partition before a search answers with what it has (and a cursor to go on).
pub(super) const BUDGET: (i32, usize) = (200, 5);

impl DynamoStore {
    pub(super) async fn search_orders_index(
        &self,
        search: &OrderSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError> {
        let before = cursor.map(|c| search.position_of(c)).transpose()?;
        let parts = order_parts(search);
        let (found, last) = self
            .merged(&parts, search.from, search.to, before, limit)
            .await?;
        let keys: Vec<Item> = found
            .iter()
            .map(|it| {
                let pk = it
                    .get("PK")
                    .cloned()
                    .ok_or_else(|| corrupt("GSI3", "no PK"))?;
                Ok(HashMap::from([
                    ("PK".to_owned(), pk),
                    ("SK".to_owned(), s("ORDER")),
                ]))
            })
            .collect::<Result<_, StoreError>>()?;
        let mut orders = Vec::with_capacity(keys.len());
        if !keys.is_empty() {
            for item in self.batch_get(keys, "read the orders found").await? {
                let order = order_from(item)?;
                // It may have changed between the index read and this one.
                if search.matches(&order) {
                    orders.push(order);
                }
            }
        }
        orders.sort_by(|a, b| OrderSearch::position(b).cmp(&OrderSearch::position(a)));
        Ok(OrderPage {
            orders,
            next_cursor: last.map(|p| search.cursor(&p)),
        })
    }

    pub(super) async fn search_events_index(
        &self,
        search: &EventSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        let before = cursor.map(|c| search.position_of(c)).transpose()?;
        let outcomes = match search.outcome {
            Some(o) => vec![o],
            None => EventOutcome::ALL.to_vec(),
        };
        let parts: Vec<Part> = outcomes
            .into_iter()
            .map(|o| Part {
                pk: outcome_pk(o),
                filter: Vec::new(),
            })
            .collect();
        let (found, last) = self
            .merged(&parts, search.from, search.to, before, limit)
            .await?;
        let events = found
            .into_iter()
            .map(event_summary_from)
            .collect::<Result<Vec<EventSummary>, _>>()?;
        Ok(EventPage {
            events,
            next_cursor: last.map(|p| search.cursor(&p)),
        })
    }

    /// The newest `limit` index entries over `parts` in `[from, to)` and older than `before`,
    /// and the position to go on from when there may be more.
    async fn merged(
        &self,
        parts: &[Part],
        from: Option<oms_core::Timestamp>,
        to: Option<oms_core::Timestamp>,
        before: Option<String>,
        limit: u32,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let lo = from.map(|t| t.to_string()).unwrap_or_default();
        // Exclusive upper bounds: the cursor's position and `to` (a key `<to>#…` sorts after
        // `<to>`, so `< to` keeps it out).
        let hi = match (before, to.map(|t| t.to_string())) {
            (Some(b), Some(t)) => Some(b.min(t)),
            (b, t) => b.or(t),
        };
        let want = limit as usize + 1;
        let mut found: Vec<(String, Item)> = Vec::new();
        // The lowest position a partition was read down to while it may hold more: below it,
        // that partition's entries are unknown, so nothing below it is answered on this page.
        let mut floor: Option<String> = None;
        for part in parts {
            let (items, unread_below) = self.read_part(part, &lo, hi.as_deref(), want).await?;
            found.extend(items);
            if let Some(p) = unread_below {
                floor = Some(floor.map_or(p.clone(), |f: String| f.max(p)));
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some(f) = &floor {
            found.retain(|(p, _)| p >= f);
        }
        let more = found.len() > limit as usize || floor.is_some();
        found.truncate(limit as usize);
        let last = if more {
            found.last().map(|(p, _)| p.clone()).or(floor)
        } else {
            None
        };
        Ok((found.into_iter().map(|(_, it)| it).collect(), last))
    }

    /// Up to `want` matching entries of one partition, newest first, and — when it stopped
    /// before the end — the position it read down to.
    async fn read_part(
        &self,
        part: &Part,
        lo: &str,
        hi: Option<&str>,
        want: usize,
    ) -> Result<(Vec<(String, Item)>, Option<String>), StoreError> {
        if hi.is_some_and(|h| h <= lo) {
            return Ok((Vec::new(), None));
        }
        let mut cond = "GSI3PK = :p".to_owned();
        let mut values: HashMap<String, AttributeValue> =
            HashMap::from([(":p".to_owned(), s(&part.pk))]);
        match hi {
            Some(hi) if lo.is_empty() => {
                cond.push_str(" AND GSI3SK < :hi");
                values.insert(":hi".into(), s(hi));
            }
            Some(hi) => {
                cond.push_str(" AND GSI3SK BETWEEN :lo AND :hi");
                values.insert(":lo".into(), s(lo));
                values.insert(":hi".into(), s(hi));
            }
            None if !lo.is_empty() => {
                cond.push_str(" AND GSI3SK >= :lo");
                values.insert(":lo".into(), s(lo));
            }
            None => {}
        }
        let mut names = HashMap::new();
        let mut filter = Vec::new();
        for (i, (attr, value)) in part.filter.iter().enumerate() {
            names.insert(format!("#f{i}"), (*attr).to_owned());
            values.insert(format!(":f{i}"), value.clone());
            filter.push(format!("#f{i} = :f{i}"));
        }
        let (filtered_page, pages) = self.search_budget;
        let page = if filter.is_empty() {
            want as i32
        } else {
            filtered_page
        };
        let mut out = Vec::new();
        let mut start = None;
        let mut last_read = None;
        for _ in 0..pages {
            let res = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI3")
                .key_condition_expression(&cond)
                .set_filter_expression((!filter.is_empty()).then(|| filter.join(" AND ")))
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("search the ops index", e))?;
            for item in res.items.unwrap_or_default() {
                let position = position_of(&item)?;
                // The cursor's own entry was answered on the page before (BETWEEN is inclusive).
                if hi.is_some_and(|h| position.as_str() >= h) {
                    continue;
                }
                out.push((position, item));
            }
            let Some(next) = res.last_evaluated_key else {
                return Ok((out, None));
            };
            if out.len() >= want {
                out.truncate(want);
                let reached = out.last().map(|(p, _)| p.clone());
                return Ok((out, reached));
            }
            last_read = Some(position_of(&next)?);
            start = Some(next);
        }
        Ok((out, last_read))
    }
}

/// The partitions an order search reads, with what each must still filter.
fn order_parts(search: &OrderSearch) -> Vec<Part> {
    let flags = |p: &mut Vec<(&'static str, AttributeValue)>| {
        if let Some(r) = search.requires_review {
            p.push(("requiresReview", AttributeValue::Bool(r)));
        }
        if let Some(d) = search.disputed {
            p.push(("disputed", AttributeValue::Bool(d)));
        }
    };
    let mut attention = Vec::new();
    if let Some(st) = search.status {
        attention.push(("status", s(st.as_str())));
    }
    flags(&mut attention);
    let attention = Part {
        pk: ATTENTION.to_owned(),
        filter: attention,
    };
    // Only an order held or disputed can match a `true` flag.
    if search.requires_review == Some(true) || search.disputed == Some(true) {
        return vec![attention];
    }
    let statuses = match search.status {
        Some(st) => vec![st],
        None => OrderStatus::ALL.to_vec(),
    };
    let mut parts: Vec<Part> = statuses
        .into_iter()
        .map(|st| Part {
            pk: status_pk(st),
            filter: Vec::new(),
        })
        .collect();
    // Every order in ATTENTION is held or disputed: none can pass both flags `false`.
    if !(search.requires_review == Some(false) && search.disputed == Some(false)) {
        parts.push(attention);
    }
    parts
}

/// An index entry's (or a page key's) search position.
fn position_of(item: &Item) -> Result<String, StoreError> {
    item.get("GSI3SK")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| corrupt("GSI3", "no GSI3SK"))
}
