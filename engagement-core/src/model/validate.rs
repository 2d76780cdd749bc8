//! Validation of everything that comes in, before anything is written.

use chrono::TimeDelta;
use serde_json::Value;

use super::customer::Customer;
use super::event::Event;
use super::printable::is_printable_ascii;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The deepest metadata the library takes: serde_json, which parses the stored JSON, an NDJSON
/// import's lines and a host's cached reports, stops at 128 nested levels in all, and the
/// levels around the metadata count too (an event-log page holds it five levels down, a host's
/// own envelope adds more), so 100 leaves room for them.
pub const MAX_READABLE_METADATA_DEPTH: usize = 100;

/// Limits applied to incoming events and customers.
///
/// ```
/// use engagement_core::{CustomerId, Event, Limits, Timestamp, names};
///
/// let now: Timestamp = "2026-11-20T00:00:00Z".parse()?;
/// let ok = Event::new("e1", CustomerId(1), names::PAGE_VIEWED, now);
/// assert!(Limits::default().validate_batch(&[ok], now).is_ok());
///
/// let blank = Event::new("e2", CustomerId(1), "   ", now);
/// assert!(Limits::default().validate_batch(&[blank], now).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest event name, in bytes.
    pub max_name_bytes: usize,
    /// Longest text field (URL, path, referrer, names, email), in bytes.
    pub max_text_bytes: usize,
    /// Largest metadata object, as compact JSON, in bytes.
    pub max_metadata_bytes: usize,
    /// Deepest nesting of metadata objects and arrays (the top-level object is depth 1). A
    /// setting above [`MAX_READABLE_METADATA_DEPTH`] still refuses deeper metadata: no store
    /// could read it back.
    pub max_metadata_depth: usize,
    /// How far past "now" an event may be stamped (client clock skew).
    pub max_future_skew: TimeDelta,
    /// Most events one append may carry.
    pub max_batch_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_name_bytes: 128,
            max_text_bytes: 2048,
            max_metadata_bytes: 16 * 1024,
            max_metadata_depth: 8,
            max_future_skew: TimeDelta::minutes(15),
            max_batch_events: 100_000,
        }
    }
}

impl Limits {
    /// Validates a whole batch; the first failure is reported with its index.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for the first offending event, or [`Error::InvalidQuery`] when the
    /// batch is larger than [`Limits::max_batch_events`].
    pub fn validate_batch(&self, events: &[Event], now: Timestamp) -> Result<()> {
        if events.len() > self.max_batch_events {
            return Err(Error::invalid_query(
                "events",
                format!(
                    "a batch holds at most {} events, this one has {}; split it",
                    self.max_batch_events,
                    events.len()
                ),
            ));
        }
        events
            .iter()
            .enumerate()
            .try_for_each(|(i, e)| self.validate_event(i, e, now))
    }

    /// Validates customer records (every text field, see [`Customer::validate`]); the first
    /// failure is reported with its index. Every store's
    /// [`upsert_customers`](crate::EventStore::upsert_customers) applies it with the default
    /// limits before writing anything.
    ///
    /// ```
    /// use engagement_core::{Customer, CustomerId, Error, Limits};
    ///
    /// let mut bad = Customer::new(CustomerId(2), "Ada", "Lovelace");
    /// bad.email = "ada\0@example.com".into();
    /// let batch = [Customer::new(CustomerId(1), "Alan", "Turing"), bad];
    /// let err = Limits::default().validate_customers(&batch).unwrap_err();
    /// assert!(matches!(err, Error::InvalidEvent { index: 1, field: "email", .. }));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for the first offending record, naming its field.
    pub fn validate_customers(&self, customers: &[Customer]) -> Result<()> {
        customers
            .iter()
            .enumerate()
            .try_for_each(|(i, c)| c.validate(i, self))
    }

    /// Checks a configured batch size (the setting `setting`): 1 to
    /// [`Limits::max_batch_events`], so that the store takes every batch of that size.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming `setting`.
    pub(crate) fn check_batch_size(&self, setting: &'static str, size: usize) -> Result<()> {
        let most = self.max_batch_events;
        if (1..=most).contains(&size) {
            return Ok(());
        }
        Err(Error::invalid_config(
            setting,
            format!("{size} events per batch: it takes 1 to {most} (Limits::max_batch_events)"),
        ))
    }

    /// Validates one event; `index` is its position in its batch, used in the error.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] naming the field that failed.
    pub fn validate_event(&self, index: usize, event: &Event, now: Timestamp) -> Result<()> {
        let fail = |field: &'static str, reason: String| Error::InvalidEvent {
            index,
            field,
            reason,
        };
        event.id.check().map_err(|r| fail("id", r))?;
        if is_blank(&event.name) {
            return Err(fail(
                "name",
                "an event name must not be empty or blank".into(),
            ));
        }
        check_text(&event.name, self.max_name_bytes).map_err(|r| fail("name", r))?;
        if event.occurred_at < Timestamp::EPOCH {
            return Err(fail(
                "occurred_at",
                format!("{} is before 1970-01-01T00:00:00Z", event.occurred_at),
            ));
        }
        let latest = now
            .checked_add(self.max_future_skew)
            .unwrap_or(Timestamp::MAX);
        if event.occurred_at > latest {
            return Err(fail(
                "occurred_at",
                format!(
                    "{} is more than {} s in the future (now is {now}); check the sender's clock",
                    event.occurred_at,
                    self.max_future_skew.num_seconds()
                ),
            ));
        }
        let texts = [
            ("page.url", &event.page.url),
            ("page.path", &event.page.path),
            ("page.domain", &event.page.domain),
            ("page.referrer", &event.page.referrer),
            ("geo.country", &event.geo.country),
            ("geo.region", &event.geo.region),
            ("geo.city", &event.geo.city),
            ("geo.zone", &event.geo.zone),
        ];
        for (field, value) in texts {
            check_text(value, self.max_text_bytes).map_err(|r| fail(field, r))?;
        }
        self.check_metadata(&event.metadata)
            .map_err(|r| fail("metadata", r))
    }

    fn check_metadata(&self, metadata: &super::event::Metadata) -> std::result::Result<(), String> {
        let max_depth = self.max_metadata_depth.min(MAX_READABLE_METADATA_DEPTH);
        for (key, value) in metadata {
            check_json(key, value, 2, max_depth)?;
        }
        // Most events carry none: `{}` needs no serializing to know its size.
        let size = if metadata.is_empty() {
            "{}".len()
        } else {
            serde_json::to_vec(metadata)
                .map(|v| v.len())
                .map_err(|e| e.to_string())?
        };
        if size > self.max_metadata_bytes {
            return Err(format!(
                "metadata is {size} bytes as JSON, at most {} allowed",
                self.max_metadata_bytes
            ));
        }
        Ok(())
    }
}

/// Checks a text field: at most `max_bytes`, no control characters.
pub(crate) fn check_text(value: &str, max_bytes: usize) -> std::result::Result<(), String> {
    if value.len() > max_bytes {
        return Err(format!(
            "{} bytes, at most {max_bytes} allowed",
            value.len()
        ));
    }
    // Printable ASCII (the common case) is checked a word at a time; ASCII's only control
    // characters are below space and DEL.
    if is_printable_ascii(value.as_bytes()) {
        return Ok(());
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!("contains the control character {c:?}"));
    }
    Ok(())
}

/// Whether `name` is empty or only whitespace; a name starting with a visible ASCII character
/// (nearly every one) without looking further.
fn is_blank(name: &str) -> bool {
    match name.as_bytes().first() {
        Some(b) if b.is_ascii_graphic() => false,
        _ => name.trim().is_empty(),
    }
}

/// Metadata keys and strings may hold line breaks and tabs, but never NUL (no database stores it
/// in text) and never nest deeper than the limit.
fn check_json(
    key: &str,
    value: &Value,
    depth: usize,
    max_depth: usize,
) -> std::result::Result<(), String> {
    if key.contains('\0') {
        return Err(format!("the key {key:?} contains a NUL byte"));
    }
    match value {
        Value::String(s) if s.contains('\0') => {
            Err(format!("the value of {key:?} contains a NUL byte"))
        }
        Value::Array(items) => {
            check_depth(key, depth, max_depth)?;
            items
                .iter()
                .try_for_each(|v| check_json(key, v, depth + 1, max_depth))
        }
        Value::Object(map) => {
            check_depth(key, depth, max_depth)?;
            map.iter()
                .try_for_each(|(k, v)| check_json(k, v, depth + 1, max_depth))
        }
        _ => Ok(()),
    }
}

fn check_depth(key: &str, depth: usize, max_depth: usize) -> std::result::Result<(), String> {
    if depth > max_depth {
        return Err(format!(
            "{key:?} nests {depth} levels deep, at most {max_depth} allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::CustomerId;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-11-20T00:00:00Z".parse().unwrap()
    }

    fn event() -> Event {
        Event::new("e", CustomerId(1), "Page Viewed", now())
    }

    #[test]
    fn text_may_hold_any_printable_character_and_no_control_character() {
        for ok in ["", "shop.acme.test", "/caf\u{e9}", "~ !", "\u{1F44D}"] {
            assert_eq!(check_text(ok, 64), Ok(()), "{ok:?}");
        }
        for bad in ["a\tb", "\u{7f}", "x\u{0}", "\u{85}", "line\n"] {
            assert!(check_text(bad, 64).is_err(), "{bad:?}");
        }
        assert!(check_text("abc", 2).is_err());
    }

    #[test]
    fn empty_metadata_counts_as_its_two_bytes_of_json() {
        let tiny = Limits {
            max_metadata_bytes: 2,
            ..Limits::default()
        };
        assert!(tiny.validate_event(0, &event(), now()).is_ok());
        let none = Limits {
            max_metadata_bytes: 1,
            ..Limits::default()
        };
        assert!(none.validate_event(0, &event(), now()).is_err());
    }

    fn field_of(result: Result<()>) -> &'static str {
        match result {
            Err(Error::InvalidEvent { field, .. }) => field,
            other => panic!("expected InvalidEvent, got {other:?}"),
        }
    }

    #[test]
    fn bad_names_are_refused() {
        let limits = Limits::default();
        for name in [
            "",
            "   ",
            "\u{3000}\u{a0}",
            "Page\0Viewed",
            "tab\tname",
            &"x".repeat(129),
        ] {
            let mut e = event();
            e.name = name.into();
            assert_eq!(
                field_of(limits.validate_event(0, &e, now())),
                "name",
                "{name:?}"
            );
        }
        for name in ["👍 Liked", " Page Viewed", "x"] {
            let mut e = event();
            e.name = name.into();
            assert!(limits.validate_event(0, &e, now()).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn timestamps_outside_the_range_are_refused() {
        let limits = Limits::default();
        let mut e = event();
        e.occurred_at = Timestamp::from_micros(-1);
        assert_eq!(field_of(limits.validate_event(0, &e, now())), "occurred_at");
        e.occurred_at = now().checked_add(TimeDelta::minutes(15)).unwrap();
        assert!(limits.validate_event(0, &e, now()).is_ok());
        e.occurred_at = Timestamp::from_micros(e.occurred_at.as_micros() + 1);
        assert_eq!(field_of(limits.validate_event(0, &e, now())), "occurred_at");
        e.occurred_at = Timestamp::EPOCH;
        assert!(limits.validate_event(0, &e, now()).is_ok());
    }

    #[test]
    fn the_future_skew_is_the_configured_one() {
        let mut e = event();
        for skew in [
            TimeDelta::zero(),
            TimeDelta::seconds(1),
            TimeDelta::hours(6),
        ] {
            let limits = Limits {
                max_future_skew: skew,
                ..Limits::default()
            };
            let latest = now().checked_add(skew).unwrap();
            e.occurred_at = latest;
            assert!(limits.validate_event(0, &e, now()).is_ok(), "{skew}");
            e.occurred_at = Timestamp::from_micros(latest.as_micros() + 1);
            assert_eq!(
                field_of(limits.validate_event(0, &e, now())),
                "occurred_at",
                "{skew}"
            );
        }
    }

    #[test]
    fn metadata_is_bounded() {
        let limits = Limits::default();
        let mut e = event();
        e.metadata
            .insert("note".into(), json!("line one\nline two"));
        assert!(limits.validate_event(0, &e, now()).is_ok());

        e.metadata.insert("nul".into(), json!("a\u{0}b"));
        assert_eq!(field_of(limits.validate_event(0, &e, now())), "metadata");

        let mut deep = json!(1);
        for _ in 0..8 {
            deep = json!({ "d": deep });
        }
        let mut e = event();
        e.metadata.insert("deep".into(), deep);
        assert_eq!(field_of(limits.validate_event(0, &e, now())), "metadata");

        let mut e = event();
        e.metadata
            .insert("big".into(), json!("x".repeat(17 * 1024)));
        assert_eq!(field_of(limits.validate_event(0, &e, now())), "metadata");
    }

    /// Metadata nesting `depth` levels, the event's own object included.
    fn nested(depth: usize) -> super::super::event::Metadata {
        let mut value = json!(1);
        for _ in 1..depth {
            value = json!([value]);
        }
        [("deep".to_owned(), value)].into_iter().collect()
    }

    #[test]
    fn metadata_deeper_than_any_store_reads_back_is_refused_whatever_the_limit() {
        let limits = Limits {
            max_metadata_depth: 200,
            max_metadata_bytes: usize::MAX,
            ..Limits::default()
        };
        let mut e = event();
        e.metadata = nested(MAX_READABLE_METADATA_DEPTH);
        assert!(limits.validate_event(0, &e, now()).is_ok());
        // At this depth the event's JSON still parses inside 25 more levels (a page's, a
        // host's envelope), under serde_json's 128.
        let mut wrapped = serde_json::to_value(&e).unwrap();
        for _ in 0..25 {
            wrapped = json!([wrapped]);
        }
        let text = serde_json::to_string(&wrapped).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), wrapped);
        e.metadata = nested(MAX_READABLE_METADATA_DEPTH + 1);
        assert_eq!(field_of(limits.validate_event(0, &e, now())), "metadata");
    }

    #[test]
    fn batch_reports_the_index_and_its_size() {
        let limits = Limits {
            max_batch_events: 2,
            ..Limits::default()
        };
        let mut bad = event();
        bad.page.path = "/a\u{7}".into();
        match limits.validate_batch(&[event(), bad], now()) {
            Err(Error::InvalidEvent {
                index: 1,
                field: "page.path",
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            limits.validate_batch(&[event(), event(), event()], now()),
            Err(Error::InvalidQuery {
                field: "events",
                ..
            })
        ));
    }
}
