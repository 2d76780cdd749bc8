//! [`Freshness`]: the instant before which everything the ingestor accepted is stored, and the
//! earliest occurrence among what it has not stored yet.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::model::event::Event;
use crate::report::FreshnessSource;
use crate::time::{Clock, Timestamp};

/// Pending events are counted per millisecond of `received_at` (rounded down), so the map stays
/// small and the watermark is never later than the true one.
const BUCKET_MICROS: i64 = 1_000;

fn bucket(at: Timestamp) -> i64 {
    // Saturating: the first instant's millisecond starts before the first instant.
    at.as_micros()
        .div_euclid(BUCKET_MICROS)
        .saturating_mul(BUCKET_MICROS)
}

/// The events accepted in one `received_at` bucket and not yet stored.
#[derive(Debug, Clone, Copy)]
struct Pending {
    events: u64,
    /// The earliest `occurred_at` of any event admitted in the bucket, stored ones included
    /// until the bucket empties: never later than the earliest still waiting.
    earliest_occurrence: Timestamp,
}

/// Events accepted but not yet stored, counted per `received_at` bucket.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    pending: Mutex<BTreeMap<i64, Pending>>,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<i64, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads "now" from `clock` and registers `events` events received then, the earliest of
    /// which occurred at `earliest_occurrence`, in one step, so no watermark read after this
    /// call can pass the returned instant (nor that occurrence) before they are stored or
    /// released.
    pub(crate) fn admit(
        &self,
        clock: &dyn Clock,
        events: u64,
        earliest_occurrence: Timestamp,
    ) -> Timestamp {
        let mut pending = self.lock();
        let now = clock.now();
        let key = bucket(now);
        // Nearly every event lands in the newest millisecond, reached without a search.
        let bucket = match pending.last_entry() {
            Some(newest) if *newest.key() == key => newest.into_mut(),
            _ => pending.entry(key).or_insert(Pending {
                events: 0,
                earliest_occurrence,
            }),
        };
        bucket.events += events;
        bucket.earliest_occurrence = bucket.earliest_occurrence.min(earliest_occurrence);
        now
    }

    /// Forgets `events` events admitted at `received_at` (stored, given up, or never queued).
    pub(crate) fn release(&self, received_at: Timestamp, events: u64) {
        Self::release_in(&mut self.lock(), bucket(received_at), events);
    }

    /// Forgets every event of a batch that has been written (or given up). Events admitted in
    /// the same millisecond sit next to each other in a batch, so they are released per run.
    pub(crate) fn release_all(&self, events: &[Event]) {
        let mut pending = self.lock();
        let mut run: Option<(i64, u64)> = None;
        for key in events.iter().map(|e| bucket(e.received_at)) {
            match &mut run {
                Some((at, n)) if *at == key => *n += 1,
                _ => {
                    if let Some((at, n)) = run.replace((key, 1)) {
                        Self::release_in(&mut pending, at, n);
                    }
                }
            }
        }
        if let Some((at, n)) = run {
            Self::release_in(&mut pending, at, n);
        }
    }

    fn release_in(pending: &mut BTreeMap<i64, Pending>, key: i64, events: u64) {
        if let Some(bucket) = pending.get_mut(&key) {
            bucket.events = bucket.events.saturating_sub(events);
            if bucket.events == 0 {
                pending.remove(&key);
            }
        }
    }

    fn watermark(&self, clock: &dyn Clock) -> Timestamp {
        let pending = self.lock();
        match pending.first_key_value() {
            Some((&oldest, _)) => Timestamp::from_micros(oldest),
            None => clock.now(),
        }
    }

    /// The earliest occurrence among the events not stored yet, else now. A scan of the
    /// pending milliseconds (a few hundred while batches age and appends run), once a report.
    fn earliest_waiting_occurrence(&self, clock: &dyn Clock) -> Timestamp {
        let pending = self.lock();
        let earliest = pending.values().map(|b| b.earliest_occurrence).min();
        earliest.unwrap_or_else(|| clock.now())
    }
}

/// Events admitted to an [`InFlight`] and not queued yet (being validated, or waiting for
/// queue room): whatever has not been handed to the queue when this is dropped is released,
/// so a refused event, a stopped ingestor or a send cancelled while it waits (a timeout, a
/// dropped request) never holds the watermark back.
#[derive(Debug)]
pub(crate) struct Unqueued<'a> {
    in_flight: &'a InFlight,
    received_at: Timestamp,
    events: u64,
}

impl<'a> Unqueued<'a> {
    /// Admits `events` events received now (see [`InFlight::admit`]).
    pub(crate) fn admit(
        in_flight: &'a InFlight,
        clock: &dyn Clock,
        events: u64,
        earliest_occurrence: Timestamp,
    ) -> Self {
        let received_at = in_flight.admit(clock, events, earliest_occurrence);
        Self {
            in_flight,
            received_at,
            events,
        }
    }

    /// The instant the events were admitted at.
    pub(crate) fn received_at(&self) -> Timestamp {
        self.received_at
    }

    /// Records that `events` of them are queued: from now on the batch they join releases them
    /// once written.
    pub(crate) fn queued(&mut self, events: u64) {
        self.events = self.events.saturating_sub(events);
    }
}

impl Drop for Unqueued<'_> {
    fn drop(&mut self) {
        if self.events > 0 {
            self.in_flight.release(self.received_at, self.events);
        }
    }
}

/// A cheap, cloneable handle on an [`Ingestor`](super::Ingestor)'s watermark: every event it
/// accepted with a `received_at` strictly before [`complete_up_to`](Self::complete_up_to) has
/// been handed to the store and the store's `append` has returned. It is the oldest
/// `received_at` still queued, batched or being written (rounded down to the millisecond), or
/// "now" when nothing is pending.
/// [`earliest_waiting_occurrence`](Self::earliest_waiting_occurrence) is the same account in
/// the time events occurred: no event still waiting occurred before it.
///
/// Give it to [`Reports::with_freshness`](crate::report::Reports::with_freshness) so every report
/// says up to when its data is complete. A batch given up (failed after every retry, or refused
/// for good) is counted in
/// [`IngestStats::failed`](super::IngestStats::failed) and no longer holds the watermark back.
#[derive(Debug, Clone)]
pub struct Freshness {
    pub(crate) in_flight: Arc<InFlight>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Freshness {
    /// The watermark now.
    pub fn complete_up_to(&self) -> Timestamp {
        self.in_flight.watermark(&*self.clock)
    }

    /// The earliest `occurred_at` among the events accepted and not stored yet (or of an
    /// event admitted in the same millisecond as one of them, so never later), or "now" when
    /// nothing is pending.
    pub fn earliest_waiting_occurrence(&self) -> Timestamp {
        self.in_flight.earliest_waiting_occurrence(&*self.clock)
    }
}

impl FreshnessSource for Freshness {
    fn complete_up_to(&self) -> Timestamp {
        Freshness::complete_up_to(self)
    }

    fn earliest_waiting_occurrence(&self) -> Timestamp {
        Freshness::earliest_waiting_occurrence(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::CustomerId;
    use crate::time::FixedClock;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_instants_millisecond_is_the_first_instant() {
        assert_eq!(bucket(Timestamp::MIN), Timestamp::MIN.as_micros());
        assert_eq!(bucket(Timestamp::MAX) % BUCKET_MICROS, 0);
        let clock = FixedClock::new(Timestamp::MIN);
        let in_flight = InFlight::default();
        assert_eq!(in_flight.admit(&clock, 1, clock.now()), Timestamp::MIN);
        assert_eq!(in_flight.watermark(&clock), Timestamp::MIN);
    }

    #[test]
    fn the_watermark_is_the_oldest_pending_millisecond_else_now() {
        let clock = FixedClock::new(at("2026-11-20T12:00:00.000700Z"));
        let in_flight = InFlight::default();
        let first = in_flight.admit(&clock, 1, clock.now());
        clock.set(at("2026-11-20T12:00:05Z"));
        let second = in_flight.admit(&clock, 1, clock.now());
        assert_eq!(in_flight.watermark(&clock), at("2026-11-20T12:00:00Z"));

        let mut event = Event::new("e", CustomerId(1), "X", first);
        event.received_at = first;
        in_flight.release_all(&[event]);
        assert_eq!(in_flight.watermark(&clock), second);

        in_flight.release(second, 1);
        clock.set(at("2026-11-20T12:00:09Z"));
        assert_eq!(in_flight.watermark(&clock), at("2026-11-20T12:00:09Z"));
    }

    #[test]
    fn a_batch_releases_exactly_the_events_it_holds() {
        let clock = FixedClock::new(at("2026-11-20T12:00:00Z"));
        let in_flight = InFlight::default();
        let first = in_flight.admit(&clock, 3, clock.now());
        clock.set(at("2026-11-20T12:00:01Z"));
        let second = in_flight.admit(&clock, 2, clock.now());
        let stamped = |received_at| {
            let mut event = Event::new("e", CustomerId(1), "X", first);
            event.received_at = received_at;
            event
        };
        in_flight.release_all(&[stamped(first), stamped(second), stamped(first)]);
        assert_eq!(
            in_flight.watermark(&clock),
            first,
            "one event of 12:00:00 is left"
        );
        in_flight.release_all(&[stamped(first), stamped(second)]);
        assert_eq!(in_flight.watermark(&clock), clock.now());
    }

    #[test]
    fn the_earliest_waiting_occurrence_lasts_until_its_millisecond_is_stored() {
        let clock = FixedClock::new(at("2026-11-20T12:00:00Z"));
        let in_flight = InFlight::default();
        let first = in_flight.admit(&clock, 2, at("2026-11-20T11:59:40Z"));
        in_flight.admit(&clock, 1, at("2026-11-20T11:59:10Z"));
        clock.set(at("2026-11-20T12:00:01Z"));
        let second = in_flight.admit(&clock, 1, at("2026-11-20T11:58:00.000001Z"));
        clock.set(at("2026-11-20T12:00:02Z"));
        assert_eq!(
            in_flight.earliest_waiting_occurrence(&clock),
            at("2026-11-20T11:58:00.000001Z"),
            "the one received later occurred earliest"
        );
        in_flight.release(second, 1);
        assert_eq!(
            in_flight.earliest_waiting_occurrence(&clock),
            at("2026-11-20T11:59:10Z")
        );
        in_flight.release(first, 2);
        assert_eq!(
            in_flight.earliest_waiting_occurrence(&clock),
            at("2026-11-20T11:59:10Z"),
            "an event of that millisecond still waits: its earliest is kept"
        );
        in_flight.release(first, 1);
        assert_eq!(in_flight.earliest_waiting_occurrence(&clock), clock.now());
    }

    #[test]
    fn unqueued_events_are_released_when_dropped() {
        let clock = FixedClock::new(at("2026-11-20T12:00:00Z"));
        let in_flight = InFlight::default();
        let mut partly = Unqueued::admit(&in_flight, &clock, 5, clock.now());
        let admitted = partly.received_at();
        partly.queued(3);
        drop(partly);
        clock.set(at("2026-11-20T12:00:01Z"));
        assert_eq!(
            in_flight.watermark(&clock),
            admitted,
            "the 3 queued events still hold it"
        );
        in_flight.release(admitted, 3);
        assert_eq!(in_flight.watermark(&clock), clock.now(), "nothing is left");
    }
}
