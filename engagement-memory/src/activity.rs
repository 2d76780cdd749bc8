//! The activity table: milestone counters per customer, a sorted page, total and summary.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::ops::Range;

use engagement_core::{
    ActivityCounters, ActivityPage, ActivityQuery, ActivityRow, ActivitySortKey, ActivitySummary,
    CustomerFilter, EventPage, Milestone, Milestones, Timestamp, holds_every_word, search_words,
};

use crate::columns::{Columns, Flags};
use crate::error::MemoryError;
use crate::parallel::{MIN_ITEMS_PER_PART, scan_parts, split};
use crate::ranking::top_k;
use crate::scratch::{Scratch, with_zeroed};
use crate::workspace::Workspace;

/// Counters a slot keeps, one per milestone.
const MILESTONES: usize = Milestone::ALL.len();

/// "No milestone" in the name table.
const NONE: u8 = u8::MAX;

/// Events a scan classifies before it applies their counts: the staged counts stay in the
/// first-level cache.
const BLOCK: usize = 2048;

/// The milestone counters and latest link open of a list of customers, by slot: slot `i + 1`
/// is the `i`-th listed customer, slot 0 takes what counts for nobody, so that counting needs
/// no branch. The latest link open is kept as a position: a scan reads no timestamp.
#[derive(Debug, Clone, Default)]
struct Tallies {
    counts: Vec<[u32; MILESTONES]>,
    /// 1 + the position of the latest link open (0: none).
    last_click: Vec<u32>,
}

thread_local! {
    /// Each customer's slot in the listed customers (0: not listed).
    static SLOTS: Scratch<u32> = const { RefCell::new(Vec::new()) };
}

impl Tallies {
    /// Zeroed counters for `n` listed customers (and the sink slot).
    fn new(n: usize) -> Self {
        Self {
            counts: vec![[0; MILESTONES]; n + 1],
            last_click: vec![0; n + 1],
        }
    }

    /// Counts the event at `pos` for `slot` toward milestone number `milestone` (a number
    /// past the milestones counts nothing). Each slot's events must come in log order, so the
    /// latest link open is simply the last one seen.
    fn record(&mut self, slot: usize, milestone: u8, pos: usize) {
        if let Some(count) = self.counts[slot].get_mut(usize::from(milestone)) {
            *count += 1;
        }
        // Positions are below u32::MAX (appends refuse more), so `pos + 1` fits.
        self.last_click[if milestone == 0 { slot } else { 0 }] = pos as u32 + 1;
    }

    /// Records the customers' own milestone events of `range`, in order, for the slot `slots`
    /// gives their customer (`milestones` maps name numbers to milestone numbers).
    ///
    /// Block by block: a first loop reads the name, flags and customer columns and stages the
    /// customers' own milestone events without a branch; a second loop counts the staged
    /// events, the only ones that touch the per-customer tables.
    fn scan(&mut self, cols: &Columns, range: Range<usize>, slots: &[u32], milestones: &[u8]) {
        let mut staged = [0u64; BLOCK];
        for start in range.clone().step_by(BLOCK) {
            let block = start..(start + BLOCK).min(range.end);
            let events = cols.customer[block.clone()]
                .iter()
                .zip(&cols.flags[block.clone()])
                .zip(&cols.name[block]);
            let mut n = 0;
            for (i, ((&c, &f), &name)) in events.enumerate() {
                let milestone = milestones[name as usize];
                staged[n] = u64::from(c) << 32 | u64::from(milestone) << 16 | i as u64;
                n += usize::from((milestone != NONE) & Flags(f).by_customer());
            }
            for &e in &staged[..n] {
                let slot = slots[(e >> 32) as usize] as usize;
                self.record(slot, (e >> 16) as u8, start + (e & 0xffff) as usize);
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
        for (m, &t) in self.last_click.iter_mut().zip(&later.last_click) {
            *m = (*m).max(t);
        }
    }
}

/// One listed customer with its counters.
struct Item {
    d: u32,
    counters: ActivityCounters,
}

impl Workspace {
    /// See [`EventStore::activity_page`](engagement_core::EventStore::activity_page): the page,
    /// then what the query asks to read with its rows, all under the caller's one lock.
    pub(crate) fn activity_page(&self, query: &ActivityQuery) -> Result<ActivityPage, MemoryError> {
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
            .collect::<Vec<_>>();
        let row_buckets = query
            .row_buckets_query(&rows)
            .map(|q| self.bucket_counts(&q))
            .unwrap_or_default();
        let latest = match query.latest_query(&rows) {
            Some(q) => self.event_page(&q)?,
            None => EventPage::default(),
        };
        Ok(ActivityPage {
            rows,
            total_rows,
            summary,
            row_buckets,
            latest,
        })
    }

    /// The dense numbers of customers with a record that pass `filter`, ascending.
    fn listed_customers(&self, filter: &CustomerFilter) -> Vec<u32> {
        let words = filter.search.as_deref().map(search_words);
        let passes = |d: u32| {
            self.dir.record(d).is_some_and(|r| {
                filter.status.is_none_or(|s| s == r.customer.status)
                    && words
                        .as_ref()
                        .is_none_or(|words| holds_every_word(&r.search, words))
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
            // Each record is a few cache misses away: split over the cores.
            None => split(0..self.dir.len(), MIN_ITEMS_PER_PART, |part| {
                part.map(|d| d as u32)
                    .filter(|&d| passes(d))
                    .collect::<Vec<_>>()
            })
            .concat(),
        }
    }

    /// The counters of each customer of `listed` over `range`: the milestone counts from their
    /// postings when they are few, else from one scan of the window; the latest events from
    /// the end of their postings.
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
        // The customers' whole postings bound their events in the window; summing the lengths
        // reads no posting, so deciding costs nothing next to either path.
        let mut via_postings = 0usize;
        let few = listed.iter().all(|&d| {
            via_postings += self.dir.postings[d as usize].len();
            via_postings < range.len() / 4
        });
        let tallies = if few {
            let mut tallies = Tallies::new(listed.len());
            for (i, &d) in listed.iter().enumerate() {
                for &p in self.postings_in(d, &range) {
                    let p = p as usize;
                    let slot = if cols.flags(p).by_customer() {
                        i + 1
                    } else {
                        0
                    };
                    tallies.record(slot, table[cols.name[p] as usize], p);
                }
            }
            tallies
        } else {
            // One scan of the window, split over the cores.
            with_zeroed(&SLOTS, self.dir.len(), |slots| {
                for (i, &d) in listed.iter().enumerate() {
                    slots[d as usize] = i as u32 + 1;
                }
                let slots = &*slots;
                let mut parts = scan_parts(range.clone(), |part| {
                    let mut tallies = Tallies::new(listed.len());
                    tallies.scan(cols, part, slots, &table);
                    tallies
                })
                .into_iter();
                let mut total = parts.next().unwrap_or_else(|| Tallies::new(listed.len()));
                for later in parts {
                    total.merge_later(&later);
                }
                total
            })
        };
        // Each customer's latest events are a few cache misses away: split over the cores.
        let instant = |pos: usize| Timestamp::from_micros(cols.at[pos]);
        let counters = split(0..listed.len(), MIN_ITEMS_PER_PART, |part| {
            part.map(|i| {
                let [views, confirmed, verified, checkout, orders] =
                    tallies.counts[i + 1].map(u64::from);
                let last_click = (tallies.last_click[i + 1] as usize).checked_sub(1);
                ActivityCounters {
                    views,
                    confirmed,
                    verified,
                    checkout,
                    orders,
                    last_click: last_click.map(instant),
                    last_activity: self.last_own_event(listed[i], &range).map(instant),
                }
            })
            .collect::<Vec<_>>()
        });
        counters.concat()
    }

    /// The position of customer `d`'s latest own event in `range`: the end of their postings
    /// (where a window reaching the present needs no search), stepping back over events of
    /// staff or the system.
    fn last_own_event(&self, d: u32, range: &Range<usize>) -> Option<usize> {
        let list = &self.dir.postings[d as usize];
        let end = match list.last() {
            Some(&last) if (last as usize) < range.end => list.len(),
            _ => list.partition_point(|&p| (p as usize) < range.end),
        };
        list[..end]
            .iter()
            .rev()
            .map(|&p| p as usize)
            .take_while(|&p| p >= range.start)
            .find(|&p| self.cols.flags(p).by_customer())
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
