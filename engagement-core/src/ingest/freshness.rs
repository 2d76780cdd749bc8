//! [`Freshness`]: the instant before which everything the ingestor accepted is stored.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::model::event::Event;
use crate::report::FreshnessSource;
use crate::time::{Clock, Timestamp};

/// Pending events are counted per millisecond of `received_at` (rounded down), so the map stays
/// small and the watermark is never later than the true one.
const BUCKET_MICROS: i64 = 1_000;

fn bucket(at: Timestamp) -> i64 {
    at.as_micros().div_euclid(BUCKET_MICROS) * BUCKET_MICROS
}

/// Events accepted but not yet stored, counted per `received_at` bucket.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    pending: Mutex<BTreeMap<i64, u64>>,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<i64, u64>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads "now" from `clock` and registers one event received then, in one step, so no
    /// watermark read after this call can pass the returned instant before the event is stored.
    pub(crate) fn admit(&self, clock: &dyn Clock) -> Timestamp {
        self.admit_many(clock, 1)
    }

    /// [`admit`](Self::admit) for `events` events received at the same instant, in one step.
    pub(crate) fn admit_many(&self, clock: &dyn Clock, events: u64) -> Timestamp {
        let mut pending = self.lock();
        let now = clock.now();
        let key = bucket(now);
        // Nearly every event lands in the newest millisecond, reached without a search.
        match pending.last_entry() {
            Some(mut newest) if *newest.key() == key => *newest.get_mut() += events,
            _ => *pending.entry(key).or_default() += events,
        }
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

    fn release_in(pending: &mut BTreeMap<i64, u64>, key: i64, events: u64) {
        if let Some(count) = pending.get_mut(&key) {
            *count = count.saturating_sub(events);
            if *count == 0 {
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
}

/// A cheap, cloneable handle on an [`Ingestor`](super::Ingestor)'s watermark: every event it
/// accepted with a `received_at` strictly before [`complete_up_to`](Self::complete_up_to) has
/// been handed to the store and the store's `append` has returned. It is the oldest
/// `received_at` still queued, batched or being written (rounded down to the millisecond), or
/// "now" when nothing is pending.
///
/// Give it to [`Reports::with_freshness`](crate::report::Reports::with_freshness) so every report
/// says up to when its data is complete. A batch that failed every retry is counted in
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
}

impl FreshnessSource for Freshness {
    fn complete_up_to(&self) -> Timestamp {
        Freshness::complete_up_to(self)
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
    fn the_watermark_is_the_oldest_pending_millisecond_else_now() {
        let clock = FixedClock::new(at("2026-11-20T12:00:00.000700Z"));
        let in_flight = InFlight::default();
        let first = in_flight.admit(&clock);
        clock.set(at("2026-11-20T12:00:05Z"));
        let second = in_flight.admit(&clock);
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
        let first = in_flight.admit_many(&clock, 3);
        clock.set(at("2026-11-20T12:00:01Z"));
        let second = in_flight.admit_many(&clock, 2);
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
}
