//! [`Slices`]: the rest of an export after its first full chunk, cut into consecutive windows
//! of time that can be read independently.

use engagement_core::{EventKey, TimeWindow, Timestamp};

/// Chunks a slice is cut to hold, judged from the first chunk's span: one, so that the task
/// reading the slice being handed out finishes it soon and the tasks ahead need little room
/// (four, with the same budget of chunks ahead, made PostgreSQL's export 13–17 % slower,
/// alternated at 10M events).
const CHUNKS_PER_SLICE: i128 = 1;

/// Most slices the span up to the latest event is cut into (wider slices beyond that).
const MAX_SLICES: i128 = 512;

/// One slice: its place in the export, its window, and the key to resume after (the first
/// slice's only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Slice {
    pub(super) index: usize,
    pub(super) window: TimeWindow,
    pub(super) after: Option<EventKey>,
}

/// The slices of the rest of an export, oldest first.
///
/// The first starts at the first chunk's last event (and resumes after its key); each spans
/// about [`CHUNKS_PER_SLICE`] chunks at the first chunk's density, at most [`MAX_SLICES`] of
/// them up to the latest event; the last one ends where the export's window ends, so events
/// stored meanwhile are not left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Slices {
    index: usize,
    after: Option<EventKey>,
    from: i128,
    span: i128,
    last_from: i128,
    to: Timestamp,
}

impl Slices {
    /// The slices of `rest`, the window after a full first chunk that began at `first_at` and
    /// ended with `after`; `latest` is the latest event in `rest`.
    pub(super) fn new(
        after: EventKey,
        first_at: Timestamp,
        rest: TimeWindow,
        latest: Option<Timestamp>,
    ) -> Self {
        let from = i128::from(rest.from.as_micros());
        let latest = latest.map_or(from, |t| i128::from(t.as_micros()).max(from));
        let chunk_span = from - i128::from(first_at.as_micros()) + 1;
        let width = latest - from + 1;
        let span = (chunk_span * CHUNKS_PER_SLICE)
            .max(width / MAX_SLICES + 1)
            .max(1);
        Self {
            index: 0,
            after: Some(after),
            from,
            span,
            last_from: latest,
            to: rest.to,
        }
    }
}

impl Iterator for Slices {
    type Item = Slice;

    fn next(&mut self) -> Option<Slice> {
        let to = i128::from(self.to.as_micros());
        if self.from >= to {
            return None;
        }
        let end = self.from + self.span;
        let end = if end > self.last_from {
            to
        } else {
            end.min(to)
        };
        let slice = Slice {
            index: self.index,
            window: TimeWindow {
                from: micros(self.from),
                to: micros(end),
            },
            after: self.after.take(),
        };
        self.index += 1;
        self.from = end;
        Some(slice)
    }
}

/// An instant inside the `i64` range (the slices' arithmetic is wider).
fn micros(t: i128) -> Timestamp {
    let clamped = t.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    Timestamp::from_micros(i64::try_from(clamped).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::EventId;

    fn key(at: i64) -> EventKey {
        EventKey {
            at: Timestamp::from_micros(at),
            id: EventId::new("x"),
        }
    }

    fn windows(slices: Slices) -> Vec<(usize, i64, i64, bool)> {
        slices
            .map(|s| {
                (
                    s.index,
                    s.window.from.as_micros(),
                    s.window.to.as_micros(),
                    s.after.is_some(),
                )
            })
            .collect()
    }

    #[test]
    fn slices_cover_the_rest_of_the_window_in_order() {
        // The first chunk spanned 100..=199: slices of one such span up to the latest event
        // (1,000), the last one to the window's end.
        let rest = TimeWindow {
            from: Timestamp::from_micros(199),
            to: Timestamp::from_micros(5_000),
        };
        let slices = Slices::new(
            key(199),
            Timestamp::from_micros(100),
            rest,
            Some(Timestamp::from_micros(1_000)),
        );
        let mut want: Vec<_> = (0..8)
            .map(|i| (i, 199 + 100 * i as i64, 299 + 100 * i as i64, i == 0))
            .collect();
        want.push((8, 999, 5_000, false));
        assert_eq!(windows(slices), want);
    }

    #[test]
    fn no_later_event_leaves_one_slice() {
        let rest = TimeWindow {
            from: Timestamp::from_micros(50),
            to: Timestamp::MAX,
        };
        let slices = Slices::new(key(50), Timestamp::from_micros(50), rest, None);
        assert_eq!(windows(slices), [(0, 50, i64::MAX, true)]);
    }

    #[test]
    fn a_wide_window_is_cut_into_at_most_max_slices() {
        let rest = TimeWindow {
            from: Timestamp::MIN,
            to: Timestamp::MAX,
        };
        let slices = Slices::new(key(i64::MIN), Timestamp::MIN, rest, Some(Timestamp::MAX));
        let windows = windows(slices);
        assert!(windows.len() as i128 <= MAX_SLICES + 1, "{}", windows.len());
        assert_eq!(windows.first().map(|w| w.1), Some(i64::MIN));
        assert_eq!(windows.last().map(|w| w.2), Some(i64::MAX));
        assert!(windows.windows(2).all(|p| p[0].2 == p[1].1));
    }
}
