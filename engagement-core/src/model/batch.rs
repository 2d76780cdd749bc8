//! [`EventBatch`]: a run of events in three contiguous buffers, lent out as [`EventRef`]s.
//!
//! An export moves millions of events from a store to a CSV file. As owned [`Event`]s each one
//! costs about a dozen allocations (one per text field and the metadata map) on the store's side
//! and as many frees on the writer's; in a batch the text of every event lies back to back in one
//! buffer, so filling and reading a batch allocates nothing per event.

use std::net::IpAddr;

use super::event::{Actor, Device, Event, EventKey, Geo, Metadata, Page};
use super::ids::{CustomerId, EventId};
use crate::time::Timestamp;

/// The text fields of an event, in the order a batch keeps them.
const TEXT_FIELDS: usize = 11;

/// A borrowed view of one event: what a batch lends out and what it copies in.
///
/// The fields are those of [`Event`], with the metadata as its compact JSON text (`{}` when
/// empty), as [`serde_json`] writes a [`Metadata`] map.
///
/// ```
/// use engagement_core::{CustomerId, Event, EventBatch, Timestamp};
///
/// let mut event = Event::new("e1", CustomerId(7), "Page Viewed", Timestamp::from_micros(5));
/// event.page.path = "/pricing".into();
/// let mut batch = EventBatch::new();
/// batch.push_event(&event);
/// let row = batch.get(0).unwrap();
/// assert_eq!((row.id, row.path, row.metadata), ("e1", "/pricing", "{}"));
/// assert_eq!(row.to_event()?, event);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// The event id.
    pub id: &'a str,
    /// The customer the event belongs to.
    pub customer: CustomerId,
    /// Who performed it.
    pub actor: Actor,
    /// The event name.
    pub name: &'a str,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// When the system accepted it.
    pub received_at: Timestamp,
    /// Full URL.
    pub url: &'a str,
    /// Path part of the URL.
    pub path: &'a str,
    /// Host part of the URL.
    pub domain: &'a str,
    /// Referrer URL; empty for direct traffic.
    pub referrer: &'a str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'a str,
    /// Region or state.
    pub region: &'a str,
    /// City.
    pub city: &'a str,
    /// IANA time-zone name.
    pub zone: &'a str,
    /// Device class, if known.
    pub device: Option<Device>,
    /// Originating IP address, if known.
    pub ip: Option<IpAddr>,
    /// The metadata as compact JSON (an object, `{}` when empty).
    pub metadata: &'a str,
}

impl<'a> EventRef<'a> {
    /// The view of `event` whose metadata is `metadata_json` (its compact JSON).
    pub(crate) fn of(event: &'a Event, metadata_json: &'a str) -> Self {
        Self {
            id: event.id.as_str(),
            customer: event.customer,
            actor: event.actor,
            name: &event.name,
            occurred_at: event.occurred_at,
            received_at: event.received_at,
            url: &event.page.url,
            path: &event.page.path,
            domain: &event.page.domain,
            referrer: &event.page.referrer,
            country: &event.geo.country,
            region: &event.geo.region,
            city: &event.geo.city,
            zone: &event.geo.zone,
            device: event.device,
            ip: event.ip,
            metadata: metadata_json,
        }
    }

    /// The event-log order key: (occurred_at, id).
    pub fn key(&self) -> EventKey {
        EventKey {
            at: self.occurred_at,
            id: EventId::new(self.id),
        }
    }

    /// The metadata, parsed.
    ///
    /// # Errors
    /// The parser's error when [`metadata`](Self::metadata) is not a JSON object.
    pub fn parse_metadata(&self) -> serde_json::Result<Metadata> {
        if self.metadata == EMPTY_METADATA {
            return Ok(Metadata::new());
        }
        serde_json::from_str(self.metadata)
    }

    /// The event as an owned [`Event`].
    ///
    /// # Errors
    /// The parser's error when [`metadata`](Self::metadata) is not a JSON object.
    pub fn to_event(&self) -> serde_json::Result<Event> {
        Ok(Event {
            id: EventId::new(self.id),
            customer: self.customer,
            actor: self.actor,
            name: self.name.to_owned(),
            occurred_at: self.occurred_at,
            received_at: self.received_at,
            page: Page {
                url: self.url.to_owned(),
                path: self.path.to_owned(),
                domain: self.domain.to_owned(),
                referrer: self.referrer.to_owned(),
            },
            geo: Geo {
                country: self.country.to_owned(),
                region: self.region.to_owned(),
                city: self.city.to_owned(),
                zone: self.zone.to_owned(),
            },
            device: self.device,
            ip: self.ip,
            metadata: self.parse_metadata()?,
        })
    }

    /// The text fields in batch order.
    fn texts(&self) -> [&'a str; TEXT_FIELDS] {
        [
            self.id,
            self.name,
            self.url,
            self.path,
            self.domain,
            self.referrer,
            self.country,
            self.region,
            self.city,
            self.zone,
            self.metadata,
        ]
    }
}

/// The compact JSON of empty metadata.
pub(crate) const EMPTY_METADATA: &str = "{}";

/// The fixed-size part of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fixed {
    customer: CustomerId,
    occurred_at: Timestamp,
    received_at: Timestamp,
    actor: Actor,
    device: Option<Device>,
    ip: Option<IpAddr>,
}

/// Events in the order they were pushed, kept in three buffers: the fixed-size fields, the text
/// of every event back to back, and where each text field ends. What
/// [`EventStore::export`](crate::EventStore::export) streams.
///
/// Pushing copies an [`EventRef`]'s text into the batch; [`get`](Self::get) and
/// [`iter`](Self::iter) lend views that borrow from it. Neither allocates per event once the
/// buffers have grown, and [`clear`](Self::clear) keeps them for reuse.
///
/// ```
/// use engagement_core::{CustomerId, Event, EventBatch, Timestamp};
///
/// let events: Vec<Event> = (0..3)
///     .map(|i| Event::new(format!("e{i}"), CustomerId(i), "Page Viewed", Timestamp::from_micros(i)))
///     .collect();
/// let batch = EventBatch::from_events(&events);
/// assert_eq!(batch.len(), 3);
/// assert_eq!(batch.iter().map(|e| e.id).collect::<Vec<_>>(), ["e0", "e1", "e2"]);
/// assert_eq!(batch.to_events()?, events);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventBatch {
    fixed: Vec<Fixed>,
    /// For event `i`, `ends[i * TEXT_FIELDS + f]` is where its text field `f` ends in `text`;
    /// the field starts where the one before it (in this event or the previous one) ends.
    ends: Vec<usize>,
    text: String,
}

impl EventBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `events` events of about `text_bytes` bytes of text each.
    #[must_use]
    pub fn with_capacity(events: usize, text_bytes: usize) -> Self {
        Self {
            fixed: Vec::with_capacity(events),
            ends: Vec::with_capacity(events * TEXT_FIELDS),
            text: String::with_capacity(events * text_bytes),
        }
    }

    /// The batch holding `events`, in order.
    #[must_use]
    pub fn from_events<'e>(events: impl IntoIterator<Item = &'e Event>) -> Self {
        let mut batch = Self::new();
        for event in events {
            batch.push_event(event);
        }
        batch
    }

    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.fixed.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty()
    }

    /// Bytes of text the batch holds (ids, names, page, geo and metadata of every event).
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Removes every event, keeping the buffers.
    pub fn clear(&mut self) {
        self.fixed.clear();
        self.ends.clear();
        self.text.clear();
    }

    /// Copies `event` in at the end.
    pub fn push(&mut self, event: EventRef<'_>) {
        let texts = event.texts();
        self.text.reserve(texts.iter().map(|t| t.len()).sum());
        let mut ends = [0; TEXT_FIELDS];
        for (end, field) in ends.iter_mut().zip(texts) {
            self.text.push_str(field);
            *end = self.text.len();
        }
        self.ends.extend_from_slice(&ends);
        self.fixed.push(Fixed {
            customer: event.customer,
            occurred_at: event.occurred_at,
            received_at: event.received_at,
            actor: event.actor,
            device: event.device,
            ip: event.ip,
        });
    }

    /// Copies `event` in at the end, its metadata written as compact JSON.
    pub fn push_event(&mut self, event: &Event) {
        if event.metadata.is_empty() {
            return self.push(EventRef::of(event, EMPTY_METADATA));
        }
        // Serializing a map of JSON values with string keys into a `String` cannot fail: the
        // only failures serde_json has are the writer's and those of foreign `Serialize` impls.
        let json = serde_json::to_string(&event.metadata).expect("a JSON map always serializes");
        self.push(EventRef::of(event, &json));
    }

    /// The event at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<EventRef<'_>> {
        let fixed = self.fixed.get(index)?;
        let first = index * TEXT_FIELDS;
        let ends: &[usize; TEXT_FIELDS] =
            self.ends.get(first..first + TEXT_FIELDS)?.try_into().ok()?;
        let mut start = match first.checked_sub(1) {
            Some(before) => self.ends[before],
            None => 0,
        };
        let texts: [&str; TEXT_FIELDS] = ends.map(|end| {
            let text = &self.text[start..end];
            start = end;
            text
        });
        let [
            id,
            name,
            url,
            path,
            domain,
            referrer,
            country,
            region,
            city,
            zone,
            metadata,
        ] = texts;
        Some(EventRef {
            id,
            customer: fixed.customer,
            actor: fixed.actor,
            name,
            occurred_at: fixed.occurred_at,
            received_at: fixed.received_at,
            url,
            path,
            domain,
            referrer,
            country,
            region,
            city,
            zone,
            device: fixed.device,
            ip: fixed.ip,
            metadata,
        })
    }

    /// The last event, if any.
    pub fn last(&self) -> Option<EventRef<'_>> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The events in order.
    pub fn iter(&self) -> EventBatchIter<'_> {
        EventBatchIter {
            batch: self,
            next: 0,
        }
    }

    /// The events as owned [`Event`]s, in order.
    ///
    /// # Errors
    /// The parser's error when an event's metadata is not a JSON object.
    pub fn to_events(&self) -> serde_json::Result<Vec<Event>> {
        self.iter().map(|e| e.to_event()).collect()
    }
}

impl<'a> IntoIterator for &'a EventBatch {
    type Item = EventRef<'a>;
    type IntoIter = EventBatchIter<'a>;

    fn into_iter(self) -> EventBatchIter<'a> {
        self.iter()
    }
}

/// The events of a batch in order; see [`EventBatch::iter`].
#[derive(Debug, Clone)]
pub struct EventBatchIter<'a> {
    batch: &'a EventBatch,
    next: usize,
}

impl<'a> Iterator for EventBatchIter<'a> {
    type Item = EventRef<'a>;

    fn next(&mut self) -> Option<EventRef<'a>> {
        let event = self.batch.get(self.next)?;
        self.next += 1;
        Some(event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batch.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for EventBatchIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full_event(i: i64) -> Event {
        let mut e = Event::new(
            format!("id-{i}"),
            CustomerId(-i),
            "👍 Liked",
            Timestamp::from_micros(i),
        );
        e.actor = Actor::Staff;
        e.received_at = Timestamp::from_micros(i + 9);
        e.page = Page {
            url: "https://a.test/x".into(),
            path: "/x".into(),
            domain: "a.test".into(),
            referrer: String::new(),
        };
        e.geo = Geo {
            country: "DE".into(),
            region: "BE".into(),
            city: "Berlin".into(),
            zone: "Europe/Berlin".into(),
        };
        e.device = Some(Device::Mobile);
        e.ip = Some("2001:db8::1".parse().unwrap());
        e.metadata
            .insert("k".into(), serde_json::json!({"n": [1, 2.5, "ü"]}));
        e
    }

    #[test]
    fn every_field_round_trips_and_clear_keeps_the_buffers() {
        let events = [
            full_event(1),
            Event::new("", CustomerId(0), "", Timestamp::EPOCH),
        ];
        let mut batch = EventBatch::from_events(&events);
        assert_eq!(batch.to_events().unwrap(), events);
        assert_eq!(batch.get(1).unwrap().metadata, "{}");
        assert_eq!(batch.last().unwrap().id, "");
        assert_eq!(batch.get(2), None);
        assert_eq!(batch.get(0).unwrap().key(), events[0].key());
        let room = batch.text.capacity();
        batch.clear();
        assert!(batch.is_empty() && batch.text_len() == 0);
        assert_eq!(batch.text.capacity(), room);
        assert_eq!(batch.last(), None);
    }

    #[test]
    fn metadata_text_is_what_serde_json_writes() {
        let e = full_event(3);
        let batch = EventBatch::from_events([&e]);
        let row = batch.get(0).unwrap();
        assert_eq!(row.metadata, serde_json::to_string(&e.metadata).unwrap());
        assert_eq!(row.parse_metadata().unwrap(), e.metadata);
    }

    #[test]
    fn metadata_that_is_not_an_object_fails_to_parse() {
        let e = full_event(4);
        let mut batch = EventBatch::new();
        batch.push(EventRef {
            metadata: "[1]",
            ..EventRef::of(&e, "")
        });
        assert!(batch.get(0).unwrap().to_event().is_err());
        assert!(batch.to_events().is_err());
    }

    proptest! {
        #[test]
        fn any_text_round_trips(texts in proptest::collection::vec(".{0,12}", 1..40)) {
            let events: Vec<Event> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut e = Event::new(t.as_str(), CustomerId(i as i64), t.as_str(), Timestamp::EPOCH);
                    e.page.url = t.repeat(i % 3);
                    e.geo.zone = t.clone();
                    if i % 2 == 0 {
                        e.metadata.insert(t.clone(), serde_json::Value::String(t.clone()));
                    }
                    e
                })
                .collect();
            let batch = EventBatch::from_events(&events);
            prop_assert_eq!(batch.iter().len(), events.len());
            prop_assert_eq!(batch.to_events().unwrap(), events);
        }
    }
}
