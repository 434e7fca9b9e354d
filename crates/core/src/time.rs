//! Instants in UTC with millisecond precision. The core never reads a clock: the current
//! instant always arrives from [`crate::ports::Clock`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Fixed-width RFC 3339 (`2026-11-23T11:08:00.123Z`): sorts lexically in time order, which the
/// "my orders" index relies on.
const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, thiserror::Error)]
#[error("not a UTC timestamp like 2026-11-23T11:08:00.123Z")]
pub struct TimestampError;

impl Timestamp {
    /// Milliseconds since the Unix epoch; values outside years 1970..=9999 are clamped.
    pub fn from_unix_millis(ms: i64) -> Self {
        Self(ms.clamp(0, 253_402_300_799_999))
    }

    pub fn unix_millis(self) -> i64 {
        self.0
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus(self, d: Duration) -> Self {
        Self::from_unix_millis(
            self.0
                .saturating_add(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    pub fn minus(self, d: Duration) -> Self {
        Self::from_unix_millis(
            self.0
                .saturating_sub(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `YYYYMMDD`, used in human-facing order numbers.
    pub fn compact_date(self) -> String {
        let d = self.datetime();
        format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
    }

    /// Any RFC 3339 date-time (`2026-12-01T00:00:00Z`, `2026-12-01T05:30:00+05:30`, …), as
    /// people write them in query strings and commands; sub-millisecond digits are dropped.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let dt = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| TimestampError)?;
        let ms = dt.unix_timestamp_nanos().div_euclid(1_000_000);
        if !(0..=253_402_300_799_999).contains(&ms) {
            return Err(TimestampError);
        }
        Ok(Self::from_unix_millis(ms as i64))
    }

    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let dt = PrimitiveDateTime::parse(s, FORMAT).map_err(|_| TimestampError)?;
        let nanos = dt.assume_offset(UtcOffset::UTC).unix_timestamp_nanos();
        Ok(Self::from_unix_millis((nanos / 1_000_000) as i64))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.datetime().format(FORMAT) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_rfc3339_date_time_reads_as_the_same_instant() {
        let t = Timestamp::parse("2026-12-01T00:00:00.000Z").unwrap();
        for s in [
            "2026-12-01T00:00:00Z",
            "2026-12-01T00:00:00.000Z",
            "2026-12-01T05:30:00+05:30",
            "2026-11-30T19:00:00-05:00",
            "2026-12-01T00:00:00.0004Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(s).unwrap(), t, "{s}");
        }
        for bad in [
            "",
            "2026-12-01",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_timestamp_prints_fixed_width_utc_and_parses_back() {
        let t = Timestamp::from_unix_millis(1_795_000_000_123);
        let s = t.to_string();
        assert_eq!(s, "2026-11-18T11:06:40.123Z");
        assert_eq!(Timestamp::parse(&s).unwrap(), t);
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn later_instants_sort_after_earlier_ones_as_text() {
        let a = Timestamp::from_unix_millis(999);
        let b = Timestamp::from_unix_millis(1_000);
        let c = Timestamp::from_unix_millis(10_000_000_000_000);
        assert!(a.to_string() < b.to_string());
        assert!(b.to_string() < c.to_string());
    }

    #[test]
    fn malformed_timestamps_are_rejected() {
        for s in [
            "",
            "2026-11-18",
            "2026-11-18T08:26:40Z",
            "2026-13-01T00:00:00.000Z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
    }
}
