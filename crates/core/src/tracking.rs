//! Shipment tracking from the carrier (`docs/decisions.md`, "Shipment tracking"): Shiprocket's
//! tracking webhook read into a [`TrackingUpdate`], its status ids mapped to our
//! [`ShipmentState`]s, and the token it authenticates with checked in constant time.
//!
//! Shiprocket signs nothing: it sends a token of our choosing in `x-api-key`. States only move
//! forward: each has a rank, and the shipment's state is the highest-ranked (then latest, then
//! highest id) of the updates seen, so duplicated and out-of-order deliveries end in the same
//! state whatever order they arrive in.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;
use time::macros::{format_description, offset};
use time::{PrimitiveDateTime, UtcOffset};

use crate::secret::Secret;
use crate::time::Timestamp;

/// Where a shipment is, as this service tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentState {
    /// The carrier cancelled the shipment before pickup.
    Cancelled,
    /// Picked up and on its way (Shiprocket 42 picked up, 6 shipped, 18, 38).
    InTransit,
    OutForDelivery,
    /// A delivery attempt failed (Shiprocket 21, an NDR): the carrier tries again or returns it.
    Undelivered,
    /// Return to origin started (RTO: 9, 14, 40, 41, 46).
    Returning,
    Lost,
    Damaged,
    /// Back at the seller (RTO delivered, 10): the stock comes back.
    Returned,
    Delivered,
}

impl ShipmentState {
    pub const ALL: [Self; 9] = [
        Self::Cancelled,
        Self::InTransit,
        Self::OutForDelivery,
        Self::Undelivered,
        Self::Returning,
        Self::Lost,
        Self::Damaged,
        Self::Returned,
        Self::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Undelivered => "undelivered",
            Self::Returning => "returning",
            Self::Lost => "lost",
            Self::Damaged => "damaged",
            Self::Returned => "returned",
            Self::Delivered => "delivered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// How far along: a state is only left for a higher rank (or, at the same rank, a later
    /// scan — a delivery re-attempted after an NDR), and never once it [`is_final`].
    ///
    /// [`is_final`]: ShipmentState::is_final
    pub fn rank(self) -> u8 {
        match self {
            Self::Cancelled => 1,
            Self::InTransit => 2,
            Self::OutForDelivery | Self::Undelivered => 3,
            Self::Returning => 4,
            Self::Lost | Self::Damaged => 5,
            Self::Returned => 6,
            Self::Delivered => 7,
        }
    }

    /// The ends of the two branches: never left once reached.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Returned)
    }

    /// Whether operators are alerted when a shipment enters this state, and how urgently.
    pub fn alert_severity(self) -> Option<&'static str> {
        match self {
            Self::Lost | Self::Damaged => Some("high"),
            Self::Undelivered | Self::Returning | Self::Returned | Self::Cancelled => {
                Some("medium")
            }
            _ => None,
        }
    }

    /// Whether the customer gets a message when the shipment enters this state.
    pub fn notifies_customer(self) -> bool {
        matches!(self, Self::OutForDelivery | Self::Delivered)
    }
}

/// Shiprocket's shipment status ids and the state each means; ids not listed are recorded and
/// shown as the carrier sent them but move nothing.
pub const SHIPROCKET_STATUSES: [(u32, ShipmentState); 19] = [
    (6, ShipmentState::InTransit),
    (18, ShipmentState::InTransit),
    (38, ShipmentState::InTransit),
    (42, ShipmentState::InTransit),
    (17, ShipmentState::OutForDelivery),
    (7, ShipmentState::Delivered),
    (21, ShipmentState::Undelivered),
    (9, ShipmentState::Returning),
    (14, ShipmentState::Returning),
    (40, ShipmentState::Returning),
    (41, ShipmentState::Returning),
    (46, ShipmentState::Returning),
    (10, ShipmentState::Returned),
    (12, ShipmentState::Lost),
    (25, ShipmentState::Damaged),
    (8, ShipmentState::Cancelled),
    (45, ShipmentState::Cancelled),
    // Not in the list but unambiguous in Shiprocket's table: "RTO OFD" is a return
    // on its way back, "RTO NDR" a return that could not be handed over.
    (15, ShipmentState::Returning),
    (16, ShipmentState::Returning),
];

/// The state a Shiprocket status id means, if it is one this service acts on.
pub fn shiprocket_state(status_id: u32) -> Option<ShipmentState> {
    SHIPROCKET_STATUSES
        .iter()
        .find(|(id, _)| *id == status_id)
        .map(|(_, s)| *s)
}

/// One tracking delivery, as read from Shiprocket's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingUpdate {
    pub awb: String,
    pub courier: Option<String>,
    /// `shipment_status_id` (or `current_status_id` when the former is absent).
    pub status_id: u32,
    /// The carrier's words for it (`shipment_status`, or `current_status`).
    pub label: String,
    /// `current_timestamp`: when the carrier recorded it.
    pub at: Timestamp,
    /// Where and what the latest scan says, if the delivery carries scans.
    pub location: Option<String>,
    pub activity: Option<String>,
    /// The expected delivery date as Shiprocket wrote it.
    pub etd: Option<String>,
    /// `order_id`: the channel order id this service sent (its own order id), if any.
    pub channel_order_id: Option<String>,
    pub sr_order_id: Option<String>,
    pub is_return: bool,
}

/// The longest text kept from a delivery's free-text fields.
const MAX_TEXT: usize = 200;
/// The longest AWB accepted (carriers use 8–20 characters).
pub const MAX_AWB: usize = 40;

fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if s.is_empty() {
        return None;
    }
    Some(s.chars().take(MAX_TEXT).collect())
}

fn number(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// India Standard Time: Shiprocket writes its times without an offset, in IST.
const IST: UtcOffset = offset!(+5:30);

/// A Shiprocket time: `23 05 2023 11:43:52` (`current_timestamp`), `2023-05-23 11:43:52`
/// (scans, `etd`), both IST, or RFC 3339.
pub fn parse_shiprocket_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Some(t);
    }
    let formats = [
        format_description!("[day] [month] [year] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[day]-[month]-[year] [hour]:[minute]:[second]"),
    ];
    let dt = formats
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(s, f).ok())?;
    let ms = dt.assume_offset(IST).unix_timestamp_nanos() / 1_000_000;
    (0..=253_402_300_799_999)
        .contains(&ms)
        .then(|| Timestamp::from_unix_millis(ms as i64))
}

/// Why a delivery could not be read. Answered 400: an authentic delivery this service cannot
/// read is a contract change, for a person to see in the logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable tracking update: {0}")]
pub struct TrackingError(pub String);

/// Reads Shiprocket's tracking body (`awb`, `courier_name`, `current_status`,
/// `current_status_id`, `shipment_status`, `shipment_status_id`, `current_timestamp`,
/// `order_id`, `sr_order_id`, `etd`, `scans[]`, `is_return`).
pub fn parse_shiprocket(body: &[u8]) -> Result<TrackingUpdate, TrackingError> {
    let err = |m: &str| TrackingError(m.to_owned());
    let v: Value = serde_json::from_slice(body).map_err(|_| err("the body is not JSON"))?;
    if !v.is_object() {
        return Err(err("the body is not a JSON object"));
    }
    let awb = text(&v["awb"]).ok_or_else(|| err("awb is missing"))?;
    if awb.len() > MAX_AWB || !awb.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(err("awb is not a tracking number"));
    }
    let (status_id, label) = match number(&v["shipment_status_id"]) {
        Some(id) => (id, text(&v["shipment_status"])),
        None => (
            number(&v["current_status_id"]).ok_or_else(|| err("shipment_status_id is missing"))?,
            text(&v["current_status"]),
        ),
    };
    let at = v["current_timestamp"]
        .as_str()
        .and_then(parse_shiprocket_time)
        .ok_or_else(|| err("current_timestamp is missing or not a time"))?;
    // The latest scan says where the parcel is.
    let latest_scan = v["scans"].as_array().and_then(|scans| {
        scans
            .iter()
            .filter(|s| s.is_object())
            .max_by_key(|s| s["date"].as_str().and_then(parse_shiprocket_time))
    });
    let is_return = match &v["is_return"] {
        Value::Bool(b) => *b,
        other => number(other).is_some_and(|n| n != 0),
    };
    Ok(TrackingUpdate {
        awb,
        courier: text(&v["courier_name"]),
        status_id,
        label: label
            .or_else(|| text(&v["current_status"]))
            .unwrap_or_else(|| format!("status {status_id}")),
        at,
        location: latest_scan.and_then(|s| text(&s["location"])),
        activity: latest_scan.and_then(|s| text(&s["activity"])),
        etd: text(&v["etd"]),
        channel_order_id: text(&v["order_id"]),
        sr_order_id: text(&v["sr_order_id"]),
        is_return,
    })
}

/// Whether `presented` (the `x-api-key` header) is one of the configured tokens (the current
/// one and, during a rotation, the previous one), compared in constant time. No token
/// configured accepts nothing.
pub fn token_matches(presented: Option<&str>, tokens: &[Secret]) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    let mut ok = subtle::Choice::from(0);
    for t in tokens.iter().filter(|t| !t.expose().is_empty()) {
        ok |= presented.as_bytes().ct_eq(t.expose().as_bytes());
    }
    ok.into()
}

/// Shiprocket-shaped tracking bodies, as the carrier would send them: for tests, benchmarks and
/// the dev server's `ship` command (feature `simulate`).
#[cfg(any(test, feature = "simulate"))]
pub mod simulate {
    use serde_json::json;
    use time::OffsetDateTime;
    use time::macros::format_description;

    use super::{IST, ShipmentState};
    use crate::time::Timestamp;

    /// The status id and words the dev server's `ship --status` sends for each name.
    pub const NAMED: [(&str, u32, &str); 9] = [
        ("picked_up", 42, "PICKED UP"),
        ("in_transit", 18, "IN TRANSIT"),
        ("out_for_delivery", 17, "OUT FOR DELIVERY"),
        ("delivered", 7, "DELIVERED"),
        ("undelivered", 21, "UNDELIVERED"),
        ("rto", 9, "RTO INITIATED"),
        ("returned", 10, "RTO DELIVERED"),
        ("lost", 12, "LOST"),
        ("damaged", 25, "DAMAGED"),
    ];

    /// The id and words for a name of [`NAMED`], or a state's name.
    pub fn named(name: &str) -> Option<(u32, &'static str)> {
        NAMED
            .iter()
            .find(|(n, _, _)| *n == name)
            .or_else(|| {
                let state = ShipmentState::parse(name)?;
                NAMED
                    .iter()
                    .find(|(_, id, _)| super::shiprocket_state(*id) == Some(state))
            })
            .map(|(_, id, label)| (*id, *label))
    }

    fn ist(at: Timestamp, f: &[time::format_description::FormatItem<'_>]) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.unix_millis()) * 1_000_000)
            .map(|t| t.to_offset(IST))
            .ok()
            .and_then(|t| t.format(f).ok())
            .unwrap_or_default()
    }

    /// A tracking body for `awb` (our order `order_id`) at status `status_id` at `at`.
    pub fn shiprocket_body(
        awb: &str,
        order_id: &str,
        status_id: u32,
        label: &str,
        at: Timestamp,
    ) -> String {
        let current = ist(
            at,
            format_description!("[day] [month] [year] [hour]:[minute]:[second]"),
        );
        let scan = ist(
            at,
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        );
        json!({
            "awb": awb,
            "courier_name": "Delhivery Surface",
            "current_status": label,
            "current_status_id": status_id,
            "shipment_status": label,
            "shipment_status_id": status_id,
            "current_timestamp": current,
            "order_id": order_id,
            "sr_order_id": 348456385,
            "awb_assigned_date": scan,
            "pickup_scheduled_date": scan,
            "etd": scan,
            "scans": [
                {"date": scan, "status": "X-PPOM", "activity": label, "location": "Bengaluru Hub (Karnataka)", "sr-status": status_id.to_string(), "sr-status-label": label}
            ],
            "is_return": if matches!(status_id, 9 | 10 | 14 | 15 | 16 | 40 | 41 | 46) { 1 } else { 0 },
            "channel_id": 3422553,
            "pod_status": "",
            "pod": "Not Available"
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_status_id_maps_to_one_state_and_unknown_ids_to_none() {
        use ShipmentState::*;
        let expected = [
            (42, InTransit),
            (6, InTransit),
            (18, InTransit),
            (38, InTransit),
            (17, OutForDelivery),
            (7, Delivered),
            (21, Undelivered),
            (9, Returning),
            (14, Returning),
            (40, Returning),
            (41, Returning),
            (46, Returning),
            (10, Returned),
            (12, Lost),
            (25, Damaged),
            (8, Cancelled),
            (45, Cancelled),
        ];
        for (id, state) in expected {
            assert_eq!(shiprocket_state(id), Some(state), "id {id}");
        }
        for id in [0, 1, 13, 19, 20, 99, 1000] {
            assert_eq!(shiprocket_state(id), None, "id {id}");
        }
        let mut ids: Vec<u32> = SHIPROCKET_STATUSES.iter().map(|(i, _)| *i).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), SHIPROCKET_STATUSES.len(), "an id listed twice");
    }

    #[test]
    fn states_name_themselves_and_delivered_outranks_everything() {
        for s in ShipmentState::ALL {
            assert_eq!(ShipmentState::parse(s.as_str()), Some(s));
            assert!(s == ShipmentState::Delivered || s.rank() < ShipmentState::Delivered.rank());
        }
        assert!(ShipmentState::Returned.rank() > ShipmentState::Returning.rank());
        assert!(ShipmentState::Returning.rank() > ShipmentState::Undelivered.rank());
        assert!(ShipmentState::InTransit.rank() > ShipmentState::Cancelled.rank());
    }

    #[test]
    fn shiprocket_times_are_read_as_india_standard_time() {
        let t = parse_shiprocket_time("23 05 2023 11:43:52").unwrap();
        assert_eq!(t, Timestamp::parse_rfc3339("2023-05-23T06:13:52Z").unwrap());
        let scan = parse_shiprocket_time("2023-05-23 11:43:52").unwrap();
        assert_eq!(scan, t);
        assert_eq!(parse_shiprocket_time("2023-05-23T11:43:52+05:30"), Some(t));
        assert_eq!(parse_shiprocket_time("yesterday"), None);
        assert_eq!(parse_shiprocket_time("32 13 2023 11:43:52"), None);
    }

    fn sample() -> Value {
        serde_json::json!({
            "awb": 19041211125783u64,
            "courier_name": "Delhivery Surface",
            "current_status": "IN TRANSIT",
            "current_status_id": 20,
            "shipment_status": "IN TRANSIT",
            "shipment_status_id": 18,
            "current_timestamp": "23 05 2023 11:43:52",
            "order_id": "ord_01",
            "sr_order_id": 348456385,
            "awb_assigned_date": "2023-05-19 11:59:16",
            "etd": "2023-05-23 15:40:19",
            "scans": [
                {"date": "2023-05-19 11:59:16", "activity": "Manifested", "location": "Chomu (Rajasthan)"},
                {"date": "2023-05-20 09:00:00", "activity": "Bag Added To Trip", "location": "Jaipur Hub"},
                {"date": "2023-05-19 12:00:00", "activity": "Picked", "location": "Chomu"}
            ],
            "is_return": 0
        })
    }

    #[test]
    fn a_documented_delivery_reads_into_an_update() {
        let u = parse_shiprocket(sample().to_string().as_bytes()).unwrap();
        assert_eq!(u.awb, "19041211125783");
        assert_eq!(u.status_id, 18);
        assert_eq!(u.label, "IN TRANSIT");
        assert_eq!(u.courier.as_deref(), Some("Delhivery Surface"));
        assert_eq!(u.location.as_deref(), Some("Jaipur Hub"));
        assert_eq!(u.activity.as_deref(), Some("Bag Added To Trip"));
        assert_eq!(u.channel_order_id.as_deref(), Some("ord_01"));
        assert_eq!(u.sr_order_id.as_deref(), Some("348456385"));
        assert!(!u.is_return);
    }

    #[test]
    fn a_delivery_without_what_links_or_orders_it_is_refused() {
        let cases: [(&str, Value); 5] = [
            ("awb", Value::Null),
            ("awb", Value::from("AWB 1; DROP")),
            ("current_timestamp", Value::from("soon")),
            ("shipment_status_id", Value::Null),
            ("awb", Value::from("9".repeat(41))),
        ];
        for (field, value) in cases {
            let mut body = sample();
            body[field] = value.clone();
            if field == "shipment_status_id" {
                body["current_status_id"] = Value::Null;
            }
            assert!(
                parse_shiprocket(body.to_string().as_bytes()).is_err(),
                "{field} = {value}"
            );
        }
        assert!(parse_shiprocket(b"[]").is_err());
        assert!(parse_shiprocket(b"not json").is_err());
        let mut only_current = sample();
        only_current["shipment_status_id"] = Value::Null;
        let u = parse_shiprocket(only_current.to_string().as_bytes()).unwrap();
        assert_eq!(u.status_id, 20, "current_status_id stands in");
    }

    #[test]
    fn a_simulated_body_reads_back_as_what_was_asked() {
        let at = Timestamp::parse_rfc3339("2026-12-03T06:13:52Z").unwrap();
        for (name, id, label) in simulate::NAMED {
            let body = simulate::shiprocket_body("AWB123", "ord_1", id, label, at);
            let u = parse_shiprocket(body.as_bytes()).unwrap();
            assert_eq!(
                (u.status_id, u.at, u.awb.as_str()),
                (id, at, "AWB123"),
                "{name}"
            );
            assert_eq!(simulate::named(name), Some((id, label)));
        }
        assert_eq!(simulate::named("returning"), Some((9, "RTO INITIATED")));
        assert_eq!(simulate::named("teleported"), None);
    }

    #[test]
    fn the_token_is_one_of_the_configured_ones_or_nothing() {
        let tokens = [Secret::new("current-token"), Secret::new("previous-token")];
        assert!(token_matches(Some("current-token"), &tokens));
        assert!(token_matches(Some("previous-token"), &tokens));
        assert!(!token_matches(Some("current-toke"), &tokens));
        assert!(!token_matches(Some(""), &tokens));
        assert!(!token_matches(None, &tokens));
        assert!(!token_matches(Some(""), &[Secret::new("")]));
        assert!(!token_matches(Some("x"), &[]));
    }
}
