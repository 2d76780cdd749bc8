//! The activity table: milestone counters per customer, a sorted page, total and summary.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::ops::Range;

use engagement_core::{
    ActivityCounters, ActivityPage, ActivityQuery, ActivityRow, ActivitySortKey, ActivitySummary,
    CustomerFilter, Milestone, Milestones, Timestamp,
};

use crate::ranking::top_k;
use crate::scratch::{Scratch, with_zeroed};
use crate::workspace::Workspace;

/// Counters in their compact, per-thread form.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    counts: [u32; 5],
    last_click: Option<i64>,
    last_activity: Option<i64>,
}

thread_local! {
    static TALLIES: Scratch<Tally> = const { RefCell::new(Vec::new()) };
}

/// "No milestone" in the name table.
const NONE: u8 = u8::MAX;

impl Tally {
    /// Counts one event toward milestone number `milestone` (or none), as
    /// [`ActivityCounters::record`] does.
    fn record(&mut self, milestone: u8, at: i64) {
        self.last_activity = self.last_activity.max(Some(at));
        if let Some(count) = self.counts.get_mut(usize::from(milestone)) {
            *count += 1;
            if milestone == 0 {
                self.last_click = self.last_click.max(Some(at));
            }
        }
    }

    fn counters(&self) -> ActivityCounters {
        let [views, confirmed, verified, checkout, orders] = self.counts.map(u64::from);
        ActivityCounters {
            views,
            confirmed,
            verified,
            checkout,
            orders,
            last_click: self.last_click.map(Timestamp::from_micros),
            last_activity: self.last_activity.map(Timestamp::from_micros),
        }
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
        let record = |tally: &mut Tally, p: usize| {
            if cols.flags(p).by_customer() {
                tally.record(table[cols.name[p] as usize], cols.at[p]);
            }
        };
        let mut via_postings = 0usize;
        let few = listed.iter().all(|&d| {
            via_postings += self.postings_in(d, &range).len();
            via_postings < range.len() / 2
        });
        if few {
            return listed
                .iter()
                .map(|&d| {
                    let mut tally = Tally::default();
                    for &p in self.postings_in(d, &range) {
                        record(&mut tally, p as usize);
                    }
                    tally.counters()
                })
                .collect();
        }
        with_zeroed(&TALLIES, self.dir.len(), |tallies| {
            for p in range {
                record(&mut tallies[cols.customer[p] as usize], p);
            }
            listed
                .iter()
                .map(|&d| tallies[d as usize].counters())
                .collect()
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
