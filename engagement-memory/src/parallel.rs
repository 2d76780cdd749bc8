//! Splitting one long scan of the columns over the machine's cores.
//!
//! A query holds its workspace's read lock while it runs, so the scoped threads read the same
//! consistent columns; each part works on its own partial result, and the caller merges them
//! in order.

use std::ops::Range;
use std::sync::OnceLock;
use std::thread;

/// Scans shorter than this run on the calling thread: starting a thread costs more than
/// scanning this many events. (Tiny in unit tests, so that their small workspaces split.)
pub(crate) const MIN_EVENTS_PER_PART: usize = if cfg!(test) { 2 } else { 1 << 18 };

/// Customers (or other items of a few cache misses each) worth a thread of their own.
pub(crate) const MIN_ITEMS_PER_PART: usize = if cfg!(test) { 2 } else { 1 << 13 };

/// Most parts a scan is split into.
const MAX_PARTS: usize = 8;

/// How many threads a scan may use (3 in unit tests, whatever the machine).
fn cores() -> usize {
    if cfg!(test) {
        return 3;
    }
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_PARTS)
    })
}

/// How many parts [`scan_parts`] splits a scan of `len` events into.
pub(crate) fn parts_for(len: usize) -> usize {
    part_bounds(0..len, MIN_EVENTS_PER_PART).len()
}

/// Consecutive parts of `range`, one per core when each gets at least `min_per_part` items
/// (one part otherwise, even when `range` is empty).
pub(crate) fn part_bounds(range: Range<usize>, min_per_part: usize) -> Vec<Range<usize>> {
    let parts = cores().min(range.len() / min_per_part.max(1)).max(1);
    let step = range.len().div_ceil(parts).max(1);
    (0..parts)
        .map(|i| {
            let start = (range.start + i * step).min(range.end);
            start..(start + step).min(range.end)
        })
        .collect()
}

/// Runs `scan` over consecutive parts of `range` (one per core, when the range is long
/// enough) and returns the partial results in range order.
pub(crate) fn scan_parts<T: Send>(
    range: Range<usize>,
    scan: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    split(range, MIN_EVENTS_PER_PART, scan)
}

/// [`scan_parts`] for work of any kind: parts of at least `min_per_part` items.
pub(crate) fn split<T: Send>(
    range: Range<usize>,
    min_per_part: usize,
    scan: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let parts = part_bounds(range, min_per_part)
        .into_iter()
        .map(|part| (part, ()));
    each_part(parts, |part, ()| scan(part))
}

/// Runs `work` on each part with the state handed to it (the first part on the calling
/// thread, the others on scoped threads) and returns the results in order.
pub(crate) fn each_part<S: Send, T: Send>(
    parts: impl IntoIterator<Item = (Range<usize>, S)>,
    work: impl Fn(Range<usize>, S) -> T + Sync,
) -> Vec<T> {
    let mut parts = parts.into_iter();
    let Some((first, first_state)) = parts.next() else {
        return Vec::new();
    };
    let work = &work;
    thread::scope(|s| {
        let handles: Vec<_> = parts
            .map(|(part, state)| s.spawn(move || work(part, state)))
            .collect();
        let mut results = Vec::with_capacity(handles.len() + 1);
        results.push(work(first, first_state));
        for handle in handles {
            match handle.join() {
                Ok(result) => results.push(result),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use engagement_core::{
        ActivityQuery, ActivitySort, Actor, Customer, CustomerFilter, CustomerId, Event,
        EventFilter, EventPageQuery, EventStore, FunnelQuery, Milestones, ReferenceStore,
        TimeWindow, Timestamp, TopCustomersQuery, WorkspaceId,
    };
    use futures::executor::block_on;
    use proptest::prelude::*;

    use crate::MemoryStore;

    const NAMES: [&str; 4] = ["Page Viewed", "Link Opened", "Registered", "Subscribed"];

    fn window(a: i64, b: i64) -> TimeWindow {
        TimeWindow::new(
            Timestamp::from_micros(a.min(b)),
            Timestamp::from_micros(a.max(b)),
        )
        .unwrap()
    }

    proptest! {
        /// Scans split into parts (every few events in unit tests) answer exactly as the
        /// reference evaluator.
        #[test]
        fn split_scans_agree_with_the_reference(
            events in prop::collection::vec((0..5i64, 0..4usize, 0..30i64, 0..3usize), 0..80),
            (a, b) in (0..32i64, 0..32i64),
            open_since in prop::option::of(0..32i64),
            conversion in 1..40i64,
        ) {
            let ws = WorkspaceId::new("w").unwrap();
            let events: Vec<Event> = events
                .iter()
                .enumerate()
                .map(|(i, &(c, n, t, actor))| {
                    let mut e = Event::new(format!("e{i:03}"), CustomerId(c), NAMES[n], Timestamp::from_micros(t));
                    e.actor = Actor::ALL[actor];
                    e.page.domain = ["a.test", "b.test"][(c as usize + n) % 2].into();
                    e
                })
                .collect();
            let customers: Vec<Customer> =
                (0..5).map(|c| Customer::new(CustomerId(c), "Ann", "Lee")).collect();
            let memory = MemoryStore::new();
            let reference = ReferenceStore::default();
            let activity = ActivityQuery {
                window: window(a, b),
                customers: CustomerFilter::default(),
                milestones: Milestones::default(),
                sort: ActivitySort::default(),
                offset: 0,
                limit: 10,
                row_buckets: None,
                latest: None,
            };
            let mut log = EventPageQuery {
                filter: EventFilter::new(window(a, b)),
                after: None,
                limit: 5,
            };
            log.filter.names = Some(vec![NAMES[0].into(), NAMES[1].into()]);
            log.filter.domain = Some("a.test".into());
            let ranking = TopCustomersQuery { window: window(a, b), limit: 10 };
            let funnel = FunnelQuery {
                window: window(a, b),
                steps: vec![NAMES[0].into(), NAMES[2].into(), NAMES[3].into()],
                conversion_window: TimeDelta::microseconds(conversion),
                open_since: open_since.map(Timestamp::from_micros),
            };
            block_on(async {
                for store in [&memory as &dyn EventStore, &reference] {
                    store.upsert_customers(&ws, &customers).await.unwrap();
                    store.append(&ws, &events).await.unwrap();
                }
                prop_assert_eq!(
                    memory.activity_page(&ws, &activity).await.unwrap(),
                    reference.activity_page(&ws, &activity).await.unwrap()
                );
                prop_assert_eq!(
                    memory.event_page(&ws, &log).await.unwrap(),
                    reference.event_page(&ws, &log).await.unwrap()
                );
                prop_assert_eq!(
                    memory.top_customers(&ws, &ranking).await.unwrap(),
                    reference.top_customers(&ws, &ranking).await.unwrap()
                );
                prop_assert_eq!(
                    memory.funnel_input(&ws, &funnel).await.unwrap(),
                    reference.funnel_input(&ws, &funnel).await.unwrap()
                );
                Ok(())
            })?;
        }
    }

    #[test]
    fn parts_cover_the_range_in_order() {
        for range in [0..0, 5..9, 3..(3 + 5 * MIN_EVENTS_PER_PART + 17)] {
            let parts = scan_parts(range.clone(), |r| r);
            assert_eq!(parts.first().map(|r| r.start), Some(range.start));
            assert_eq!(parts.last().map(|r| r.end), Some(range.end));
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
            let sum: usize = scan_parts(range.clone(), |r| r.len()).into_iter().sum();
            assert_eq!(sum, range.len());
        }
    }
}
