//! The daily rollup (`<prefix>daily`): per workspace, customer, UTC day and event name, the
//! number of counted events (actor = customer) and the latest of them.
//!
//! [`append`](super::Engine::append) adds what it inserted and
//! [`purge`](super::Engine::purge) takes off what it deleted (reading the latest event left of
//! each row it took from), each in the transaction that changes the events, so the rollup is
//! exact whatever the order, repetition or lateness of the events and whatever appends and
//! purges run beside. The aggregates read it for the whole
//! UTC days of a window ([`Split`]) and the raw events only at the window's partial edges.
//!
//! Beside it, `<prefix>totals` holds every customer's number of counted events of all time,
//! kept the same way (purge takes off what it deleted): the bound the ranking prunes with; and
//! `<prefix>log_counts` the number of events (every actor) per UTC day, name, actor and page
//! domain, from which the event log's exact total takes the window's whole days.

mod read;
mod write;

use engagement_core::TimeWindow;

pub(crate) use read::{Columns, Narrow, push_days};
pub(crate) use write::{LogDeltas, RollupDeltas, count_in_log, count_in_rollup};

/// One UTC day in microseconds.
pub(crate) const DAY: i64 = 86_400_000_000;

/// The span of time the rollup covers (about ±136,000 years, whole days): events outside it are
/// only ever read raw, so day arithmetic never overflows.
const COVERED: (i64, i64) = (-DAY * 50_000_000, DAY * 50_000_000);

/// The start of the UTC day holding `at`, if the rollup covers it.
pub(crate) fn day_of(at: i64) -> Option<i64> {
    (COVERED.0..COVERED.1)
        .contains(&at)
        .then(|| at - at.rem_euclid(DAY))
}

/// A window split into whole UTC days read from the rollup and the raw edges around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    /// `[first, last)` day starts read from the rollup, if the window holds a whole day.
    pub(crate) days: Option<(i64, i64)>,
    /// The rest of the window, read from the events.
    pub(crate) edges: Vec<TimeWindow>,
}

impl Split {
    pub(crate) fn new(window: TimeWindow) -> Self {
        let (from, to) = (window.from.as_micros(), window.to.as_micros());
        let first = from.clamp(COVERED.0, COVERED.1);
        let first = match first.rem_euclid(DAY) {
            0 => first,
            r => first - r + DAY,
        };
        let last = to.clamp(COVERED.0, COVERED.1);
        let last = last - last.rem_euclid(DAY);
        if from >= to || first >= last {
            return Self {
                days: None,
                edges: if from < to { vec![window] } else { Vec::new() },
            };
        }
        let edge = |a: i64, b: i64| TimeWindow {
            from: engagement_core::Timestamp::from_micros(a),
            to: engagement_core::Timestamp::from_micros(b),
        };
        let mut edges = Vec::new();
        if from < first {
            edges.push(edge(from, first));
        }
        if last < to {
            edges.push(edge(last, to));
        }
        Self {
            days: Some((first, last)),
            edges,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::Timestamp;

    fn window(from: i64, to: i64) -> TimeWindow {
        TimeWindow {
            from: Timestamp::from_micros(from),
            to: Timestamp::from_micros(to),
        }
    }

    #[test]
    fn whole_days_come_from_the_rollup_and_edges_from_the_events() {
        let h = DAY / 24;
        assert_eq!(
            Split::new(window(0, 3 * DAY)),
            Split {
                days: Some((0, 3 * DAY)),
                edges: vec![]
            }
        );
        assert_eq!(
            Split::new(window(-h, 2 * DAY + h)),
            Split {
                days: Some((0, 2 * DAY)),
                edges: vec![window(-h, 0), window(2 * DAY, 2 * DAY + h)]
            }
        );
        // Less than a whole day: all raw.
        assert_eq!(
            Split::new(window(h, DAY + h)),
            Split {
                days: None,
                edges: vec![window(h, DAY + h)]
            }
        );
        assert_eq!(
            Split::new(window(5, 5)),
            Split {
                days: None,
                edges: vec![]
            }
        );
    }

    #[test]
    fn extreme_windows_never_overflow() {
        let split = Split::new(window(i64::MIN, i64::MAX));
        assert_eq!(split.days, Some(COVERED));
        assert_eq!(
            split.edges,
            vec![window(i64::MIN, COVERED.0), window(COVERED.1, i64::MAX)]
        );
        assert_eq!(day_of(i64::MIN), None);
        assert_eq!(day_of(i64::MAX), None);
        assert_eq!(day_of(-1), Some(-DAY));
        assert_eq!(day_of(DAY + 1), Some(DAY));
    }
}
