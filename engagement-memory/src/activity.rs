//! The activity table: milestone counters per customer, a sorted page, total and summary.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::ops::Range;

use engagement_core::{
    ActivityCounters, ActivityPage, ActivityQuery, ActivityRow, ActivitySortKey, ActivitySummary,
    CustomerFilter, Milestone, Milestones, Timestamp,
};

use crate::parallel::scan_parts;
use crate::ranking::top_k;
use crate::scratch::{Scratch, with_zeroed};
use crate::workspace::Workspace;

/// The counters of a list of customers, column by column: the latest-activity column, which
/// every event touches, stays small enough for the cache.
#[derive(Debug, Clone, Default)]
struct Tallies {
    counts: Vec<[u32; 5]>,
    /// [`encode`]d instants (0: none).
    last_click: Vec<u64>,
    last_activity: Vec<u64>,
}

/// An instant as a non-zero number that orders like it (every event lies before a window's
/// end, so `at < i64::MAX` and the result cannot overflow).
fn encode(at: i64) -> u64 {
    ((at as u64) ^ (1 << 63)) + 1
}

/// The instant of a non-zero [`encode`]d number.
fn decode(v: u64) -> Option<Timestamp> {
    v.checked_sub(1)
        .map(|v| Timestamp::from_micros((v ^ (1 << 63)) as i64))
}

thread_local! {
    /// 1 + each customer's index in the listed customers (0: not listed).
    static SLOTS: Scratch<u32> = const { RefCell::new(Vec::new()) };
}

/// "No milestone" in the name table.
const NONE: u8 = u8::MAX;

impl Tallies {
    /// Zeroed counters for `n` customers.
    fn new(n: usize) -> Self {
        Self {
            counts: vec![[0; 5]; n],
            last_click: vec![0; n],
            last_activity: vec![0; n],
        }
    }

    /// Counts one event of customer `i` toward milestone number `milestone` (or none), as
    /// [`ActivityCounters::record`] does. Each customer's events must come in time order, so
    /// the latest instants are simply the last ones seen.
    fn record(&mut self, i: usize, milestone: u8, at: i64) {
        let at = encode(at);
        debug_assert!(self.last_activity[i] <= at);
        self.last_activity[i] = at;
        if let Some(count) = self.counts[i].get_mut(usize::from(milestone)) {
            *count += 1;
            if milestone == 0 {
                self.last_click[i] = at;
            }
        }
    }

    /// Adds the tallies of a later part of the window.
    fn merge_later(&mut self, later: &Tallies) {
        for (sum, part) in self.counts.iter_mut().zip(&later.counts) {
            for (s, n) in sum.iter_mut().zip(part) {
                *s += n;
            }
        }
        for (mine, theirs) in [
            (&mut self.last_click, &later.last_click),
            (&mut self.last_activity, &later.last_activity),
        ] {
            for (m, &t) in mine.iter_mut().zip(theirs) {
                *m = (*m).max(t);
            }
        }
    }

    /// The counters of customer `i`.
    fn counters(&self, i: usize) -> ActivityCounters {
        let [views, confirmed, verified, checkout, orders] = self.counts[i].map(u64::from);
        ActivityCounters {
            views,
            confirmed,
            verified,
            checkout,
            orders,
            last_click: decode(self.last_click[i]),
            last_activity: decode(self.last_activity[i]),
        }
    }

    /// Every customer's counters, in order.
    fn into_counters(self) -> Vec<ActivityCounters> {
        (0..self.counts.len()).map(|i| self.counters(i)).collect()
    }
}

/// One listed customer with its counters.
struct Item {
    d: u32,
    counters: ActivityCounters,
}

impl Workspace {
    /// See [`EventStore::activity_page`](engagement_core::EventStore::activity_page).
    pub(crate) fn activity_page(&self, query: &ActivityQuery) -> ActivityPage {
        let listed = self.listed_customers(&query.customers);
        let counters = self.tallies(&listed, self.window(query.window), &query.milestones);
        let mut summary = ActivitySummary::default();
        let items: Vec<Item> = listed
            .iter()
            .zip(counters)
            .map(|(&d, counters)| {
                summary.add(&counters);
                Item { d, counters }
            })
            .collect();
        let total_rows = items.len() as u64;
        let (offset, limit) = (
            usize::try_from(query.offset).unwrap_or(usize::MAX),
            usize::try_from(query.limit).unwrap_or(usize::MAX),
        );
        let order = |a: &Item, b: &Item| self.activity_order(query, a, b);
        let rows = top_k(items, offset.saturating_add(limit), order)
            .into_iter()
            .skip(offset)
            .filter_map(|item| {
                Some(ActivityRow {
                    customer: self.dir.record(item.d)?.customer.clone(),
                    counters: item.counters,
                })
            })
            .collect();
        ActivityPage {
            rows,
            total_rows,
            summary,
        }
    }

    /// The dense numbers of customers with a record that pass `filter`, ascending.
    fn listed_customers(&self, filter: &CustomerFilter) -> Vec<u32> {
        let term = filter.search.as_ref().map(|t| t.to_lowercase());
        let passes = |d: u32| {
            self.dir.record(d).is_some_and(|r| {
                filter.status.is_none_or(|s| s == r.customer.status)
                    && term.as_ref().is_none_or(|t| r.search.contains(t.as_str()))
            })
        };
        match &filter.ids {
            Some(ids) => {
                let mut dense: Vec<u32> = ids
                    .iter()
                    .filter_map(|&c| self.dir.dense(c))
                    .filter(|&d| passes(d))
                    .collect();
                dense.sort_unstable();
                dense.dedup();
                dense
            }
            None => self.dir.with_records().filter(|&d| passes(d)).collect(),
        }
    }

    /// The counters of each customer of `listed` over `range`: from their postings when they
    /// are few, else from one scan of the window.
    fn tallies(
        &self,
        listed: &[u32],
        range: Range<usize>,
        milestones: &Milestones,
    ) -> Vec<ActivityCounters> {
        let table: Vec<u8> = (0..self.dict.names.len() as u32)
            .map(|n| {
                milestones
                    .milestone_of(self.dict.names.get(n))
                    .and_then(|m| Milestone::ALL.iter().position(|&x| x == m))
                    .map_or(NONE, |i| i as u8)
            })
            .collect();
        let cols = &self.cols;
        let record = |tallies: &mut Tallies, i: usize, p: usize| {
            if cols.flags(p).by_customer() {
                tallies.record(i, table[cols.name[p] as usize], cols.at[p]);
            }
        };
        // The customers' whole postings bound their events in the window; summing the lengths
        // reads no posting, so deciding costs nothing next to either path.
        let mut via_postings = 0usize;
        let few = listed.iter().all(|&d| {
            via_postings += self.dir.postings[d as usize].len();
            via_postings < range.len() / 4
        });
        if few {
            let mut tallies = Tallies::new(listed.len());
            for (i, &d) in listed.iter().enumerate() {
                for &p in self.postings_in(d, &range) {
                    record(&mut tallies, i, p as usize);
                }
            }
            return tallies.into_counters();
        }
        // One scan of the window (split over the cores), counting only the listed customers'
        // events into tables of the listed customers.
        with_zeroed(&SLOTS, self.dir.len(), |slots| {
            for (i, &d) in listed.iter().enumerate() {
                slots[d as usize] = i as u32 + 1;
            }
            let slots = &*slots;
            let parts = scan_parts(range, |part| {
                let mut tallies = Tallies::new(listed.len());
                for p in part {
                    if let Some(i) = slots[cols.customer[p] as usize].checked_sub(1) {
                        record(&mut tallies, i as usize, p);
                    }
                }
                tallies
            });
            let mut parts = parts.into_iter();
            let mut total = parts.next().unwrap_or_default();
            for later in parts {
                total.merge_later(&later);
            }
            total.into_counters()
        })
    }

    /// The order of the table: the sort key in its direction, ties by customer id ascending.
    fn activity_order(&self, query: &ActivityQuery, a: &Item, b: &Item) -> Ordering {
        let by_key = match query.sort.key {
            ActivitySortKey::Milestone(m) => a.counters.get(m).cmp(&b.counters.get(m)),
            ActivitySortKey::LastClick => a.counters.last_click.cmp(&b.counters.last_click),
            ActivitySortKey::LastActivity => {
                a.counters.last_activity.cmp(&b.counters.last_activity)
            }
            ActivitySortKey::Name => {
                let name = |d| self.dir.record(d).map(|r| r.sort_name.as_bytes());
                name(a.d).cmp(&name(b.d))
            }
            ActivitySortKey::CustomerId => Ordering::Equal,
        };
        let by_key = if query.sort.descending {
            by_key.reverse()
        } else {
            by_key
        };
        let id = |d| self.dir.id(d);
        let tie = if query.sort.key == ActivitySortKey::CustomerId && query.sort.descending {
            id(b.d).cmp(&id(a.d))
        } else {
            id(a.d).cmp(&id(b.d))
        };
        by_key.then(tie)
    }
}
