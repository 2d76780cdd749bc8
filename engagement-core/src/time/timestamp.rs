//! [`Timestamp`]: a UTC instant with microsecond precision, the unit every backend stores.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A UTC instant, counted in microseconds since 1970-01-01T00:00:00Z.
///
/// This is the precision of every backend (BIGINT microseconds), so an instant survives a round
/// trip through any store unchanged. Instants before the epoch are representable (for arithmetic),
/// but events are refused if they fall before it.
///
/// ```
/// use engagement_core::Timestamp;
///
/// let t: Timestamp = "2024-03-10T06:59:59.999999Z".parse()?;
/// assert_eq!(t.to_string(), "2024-03-10T06:59:59.999999Z");
/// // The same instant written with another offset is the same timestamp.
/// assert_eq!(t, "2024-03-10T01:59:59.999999-05:00".parse()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);
    /// The smallest representable instant.
    pub const MIN: Self = Self(i64::MIN);
    /// The largest representable instant.
    pub const MAX: Self = Self(i64::MAX);

    /// A timestamp from microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The instant of a `DateTime`, truncated to the microsecond (storage precision).
    pub fn from_datetime<Tz: chrono::TimeZone>(dt: &DateTime<Tz>) -> Self {
        Self(dt.timestamp_micros())
    }

    /// The instant as a `DateTime<Utc>`.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or(if self.0 < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// This instant moved by `delta`, or `None` on overflow.
    pub fn checked_add(self, delta: TimeDelta) -> Option<Self> {
        let micros = delta.num_microseconds()?;
        self.0.checked_add(micros).map(Self)
    }

    /// This instant moved back by `delta`, or `None` on overflow.
    pub fn checked_sub(self, delta: TimeDelta) -> Option<Self> {
        let micros = delta.num_microseconds()?;
        self.0.checked_sub(micros).map(Self)
    }

    /// The time from `earlier` to `self` (negative when `earlier` is later).
    pub fn since(self, earlier: Self) -> TimeDelta {
        TimeDelta::microseconds(self.0.saturating_sub(earlier.0))
    }
}

/// RFC 3339 in UTC with six fraction digits (`2026-11-20T11:45:03.000000Z`); years outside
/// 0000–9999 carry a sign (`+10000-…`). Instants beyond chrono's calendar (±262,000 years;
/// [`Timestamp::MIN`] and [`Timestamp::MAX`]) are written as `@` and their microseconds since
/// the epoch (`@-9223372036854775808`). [`FromStr`] reads every such text back (so does serde,
/// which writes this text), so no instant changes on its way through a text.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DateTime::from_timestamp_micros(self.0) {
            Some(at) => f.write_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true)),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Timestamp {
    type Err = Error;

    /// Parses RFC 3339 (any offset), and the signed years beyond 0000–9999 that [`Display`]
    /// writes for such instants (`+10000-01-01T00:00:00.000000Z`); sub-microsecond digits are
    /// refused rather than rounded, and a leap second (`:60`) rather than moved into the next
    /// second, which can be the next day. `@` and microseconds since the epoch
    /// (`@-9223372036854775808`) is read too: [`Display`] writes the instants beyond chrono's
    /// calendar so.
    ///
    /// [`Display`]: fmt::Display
    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        if let Some(micros) = text.strip_prefix('@') {
            return beyond_the_calendar(micros).ok_or_else(|| {
                Error::invalid_query(
                    "timestamp",
                    format!(
                        "{s:?}: `@` and microseconds name only instants beyond the calendar, \
                         which RFC 3339 cannot write"
                    ),
                )
            });
        }
        let dt = DateTime::parse_from_rfc3339(text)
            .or_else(|e| signed_year(text).ok_or(e))
            .map_err(|e| {
                Error::invalid_query("timestamp", format!("{s:?} is not RFC 3339: {e}"))
            })?;
        if dt.timestamp_subsec_nanos() >= NANOS_PER_SECOND {
            return Err(Error::invalid_query(
                "timestamp",
                format!("{s:?} is a leap second (:60); instants are counted without leap seconds"),
            ));
        }
        // chrono reads nine digits and skips the rest, so the text is checked, not the value.
        if sub_micro_digits(s).bytes().any(|digit| digit != b'0') {
            return Err(Error::invalid_query(
                "timestamp",
                format!("{s:?} has sub-microsecond digits; microseconds are the finest precision"),
            ));
        }
        Ok(Self::from_datetime(&dt))
    }
}

/// The instant `micros` (digits, after an optional `-`) names, when chrono's calendar has no
/// date for it: the only ones [`Display`](fmt::Display) writes as `@` and microseconds.
fn beyond_the_calendar(micros: &str) -> Option<Timestamp> {
    let digits = micros.strip_prefix('-').unwrap_or(micros);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = micros.parse().ok()?;
    DateTime::from_timestamp_micros(micros)
        .is_none()
        .then_some(Timestamp(micros))
}

/// An RFC 3339 instant whose year has a sign and may have more than four digits, as chrono
/// writes the years outside 0000–9999; `None` for anything else.
fn signed_year(text: &str) -> Option<DateTime<FixedOffset>> {
    if !text.starts_with(['+', '-']) {
        return None;
    }
    let utc = text
        .strip_suffix(['Z', 'z'])
        .map(|rest| format!("{rest}+00:00"));
    let text = utc.as_deref().unwrap_or(text);
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%:z").ok()
}

/// The digits of `text`'s fraction of a second after the sixth (the microseconds), if any.
fn sub_micro_digits(text: &str) -> &str {
    let fraction = text.split_once('.').map_or("", |(_, rest)| rest);
    let end = fraction
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(fraction.len());
    fraction[..end].get(6..).unwrap_or("")
}

/// chrono keeps a leap second (`:60`) as a second whose fraction reaches past one second.
const NANOS_PER_SECOND: u32 = 1_000_000_000;

impl<Tz: chrono::TimeZone> From<DateTime<Tz>> for Timestamp {
    fn from(dt: DateTime<Tz>) -> Self {
        Self::from_datetime(&dt)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_six_fraction_digits() {
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            Timestamp::from_micros(1).to_string(),
            "1970-01-01T00:00:00.000001Z"
        );
    }

    #[test]
    fn offsets_name_the_same_instant() {
        let a: Timestamp = "2024-03-10T12:00:00+05:30".parse().unwrap();
        let b: Timestamp = "2024-03-10T06:30:00Z".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn sub_microsecond_text_is_refused() {
        assert!("2024-03-10T12:00:00.0000001Z".parse::<Timestamp>().is_err());
        assert!("not a time".parse::<Timestamp>().is_err());
    }

    #[test]
    fn digits_past_the_ninth_are_refused_not_dropped() {
        // chrono reads nine fraction digits and skips any more without a look.
        for text in [
            "2024-03-10T12:00:00.0000000001Z",
            "2024-03-10T12:00:00.1234560009Z",
            "2024-03-10T23:59:59.999999000001-05:00",
        ] {
            let got = text.parse::<Timestamp>();
            assert!(
                matches!(got, Err(Error::InvalidQuery { .. })),
                "{text} gave {got:?}"
            );
        }
        // Zeros after the microseconds say nothing more: still accepted.
        assert_eq!(
            "2024-03-10T12:00:00.123456000000Z"
                .parse::<Timestamp>()
                .unwrap(),
            "2024-03-10T12:00:00.123456Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn leap_seconds_are_refused_not_moved_to_the_next_day() {
        // chrono reads `:60` as a leap second and its instant spills into the next second:
        // 23:59:60 on March 9 in New York would be stored as midnight, March 10.
        for text in [
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2024-03-09T23:59:60.999999-05:00",
            "2024-03-10T12:34:60Z",
        ] {
            let got = text.parse::<Timestamp>();
            assert!(
                matches!(got, Err(Error::InvalidQuery { .. })),
                "{text} gave {got:?}"
            );
        }
        assert_eq!(
            "2016-12-31T23:59:59.999999Z".parse::<Timestamp>().unwrap(),
            Timestamp::from_micros(1_483_228_799_999_999)
        );
    }

    #[test]
    fn years_beyond_9999_and_before_0000_read_back_as_written() {
        for text in [
            "+10000-01-01T00:00:00.000000Z",
            "+262142-12-31T23:59:59.999999Z",
            "-0001-12-31T23:59:59.999999Z",
            "+10000-01-01T01:00:00.000001+01:00",
        ] {
            let at: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(at.to_string().parse::<Timestamp>().unwrap(), at, "{text}");
        }
        let far = Timestamp::from_micros(253_402_300_800_000_000); // 10000-01-01
        assert_eq!(far.to_string(), "+10000-01-01T00:00:00.000000Z");
        let json = serde_json::to_string(&far).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), far);
        assert!(
            "+10000-01-01T00:00:00.0000001Z"
                .parse::<Timestamp>()
                .is_err()
        );
        assert!("+10000-13-01T00:00:00Z".parse::<Timestamp>().is_err());
    }

    #[test]
    fn serde_round_trip() {
        let t = Timestamp::from_micros(1_795_132_799_999_999);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-11-19T23:59:59.999999Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn instants_beyond_the_calendar_survive_json() {
        for at in [
            Timestamp::MIN,
            Timestamp::MAX,
            Timestamp::from_micros(i64::MAX - 1),
            Timestamp::from_micros(-8_334_601_228_800_000_001),
        ] {
            let json = serde_json::to_string(&at).unwrap();
            assert!(json.starts_with("\"@"), "{json}");
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).unwrap(),
                at,
                "{json}"
            );
            assert_eq!(at.to_string(), format!("@{}", at.as_micros()));
            assert_eq!(at.to_string().parse::<Timestamp>().unwrap(), at);
        }
        let inside: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&inside).unwrap(),
            "\"2026-11-20T12:00:00.000000Z\""
        );
        for text in [
            "@1.5",
            "@",
            "@0",
            "@+9223372036854775807",
            "@1763546400000000",
            "@-",
        ] {
            assert!(text.parse::<Timestamp>().is_err(), "{text}");
        }
    }
}
