//! The engagement ranking: counting into a per-customer array, partial selection for the top.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::ops::Range;

use engagement_core::{
    CustomerId, CustomerScore, RankedScore, Ranking, RankingQuery, TimeWindow, TopCustomersQuery,
};

use crate::columns::Flags;
use crate::parallel::{parts_for, scan_parts};
use crate::scratch::{Scratch, with_zeroed};
use crate::workspace::Workspace;

thread_local! {
    static COUNTS: Scratch<u32> = const { RefCell::new(Vec::new()) };
}

/// Ranking order: score descending, then customer id ascending.
fn ranking_order(a: &(u32, CustomerId), b: &(u32, CustomerId)) -> Ordering {
    (Reverse(a.0), a.1).cmp(&(Reverse(b.0), b.1))
}

/// The first `limit` items of `items` under `order`, sorted (partial selection, then a sort of
/// the selected part only).
pub(crate) fn top_k<T>(
    mut items: Vec<T>,
    limit: usize,
    order: impl Fn(&T, &T) -> Ordering,
) -> Vec<T> {
    if limit == 0 {
        return Vec::new();
    }
    if items.len() > limit {
        items.select_nth_unstable_by(limit - 1, &order);
        items.truncate(limit);
    }
    items.sort_unstable_by(order);
    items
}

/// The best `limit` (score, customer) pairs offered so far, in ranking order: a heap whose
/// top is the worst kept pair, so that most offers are turned away by one comparison with
/// [`floor`](Self::floor).
struct Best {
    limit: usize,
    heap: BinaryHeap<(Reverse<u32>, CustomerId)>,
    /// No score below this can make the cut (the worst kept score once `limit` are kept).
    floor: u32,
}

thread_local! {
    /// The heap's storage, reused across queries.
    static HEAP: Scratch<(Reverse<u32>, CustomerId)> = const { RefCell::new(Vec::new()) };
}

impl Best {
    /// An empty selection, on the thread's reused storage.
    fn new(limit: usize) -> Self {
        let mut storage = HEAP.with(|cell| cell.take());
        storage.clear();
        Self {
            limit,
            heap: BinaryHeap::from(storage),
            floor: 1,
        }
    }

    /// Offers a customer's score (the id is only looked up when the score can make the cut).
    #[inline]
    fn offer(&mut self, score: u32, id: impl FnOnce() -> CustomerId) {
        if score < self.floor {
            return;
        }
        self.heap.push((Reverse(score), id()));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
        if self.heap.len() == self.limit
            && let Some(&(Reverse(worst), _)) = self.heap.peek()
        {
            self.floor = worst;
        }
    }

    /// The kept pairs as scores, best first (the storage goes back to the thread).
    fn into_scores(self) -> Vec<CustomerScore> {
        let sorted = self.heap.into_sorted_vec();
        let scores = sorted
            .iter()
            .map(|&(Reverse(score), customer)| CustomerScore {
                customer,
                score: u64::from(score),
            })
            .collect();
        HEAP.with(|cell| cell.replace(sorted));
        scores
    }
}

impl Workspace {
    /// Counts each customer's own events in `range` into `counts` (indexed by dense number),
    /// over the cores when the range is long.
    fn count_scores(&self, range: Range<usize>, counts: &mut [u32]) {
        if parts_for(range.len()) == 1 {
            self.count_part(range, counts);
            return;
        }
        let parts = scan_parts(range, |part| {
            let mut own = vec![0; counts.len()];
            self.count_part(part, &mut own);
            own
        });
        for part in parts {
            for (sum, n) in counts.iter_mut().zip(part) {
                *sum += n;
            }
        }
    }

    /// [`count_scores`](Self::count_scores) on the calling thread.
    fn count_part(&self, range: Range<usize>, counts: &mut [u32]) {
        let customers = &self.cols.customer[range.clone()];
        let flags = &self.cols.flags[range];
        for (&c, &f) in customers.iter().zip(flags) {
            if let Some(slot) = counts.get_mut(c as usize) {
                *slot += u32::from(Flags(f).by_customer());
            }
        }
    }

    /// See [`EventStore::ranking`](engagement_core::EventStore::ranking): its parts, all under
    /// the caller's one lock.
    pub(crate) fn ranking(&self, query: &RankingQuery) -> Ranking {
        let scores = self.top_customers(&query.top);
        let records = if query.records {
            let ids: Vec<CustomerId> = scores.iter().map(|s| s.customer).collect();
            self.records(&ids)
        } else {
            Vec::new()
        };
        let standing = query
            .standing_of
            .and_then(|customer| self.customer_rank(query.top.window, customer));
        Ranking {
            scores,
            records,
            standing,
        }
    }

    /// See [`EventStore::top_customers`](engagement_core::EventStore::top_customers).
    fn top_customers(&self, query: &TopCustomersQuery) -> Vec<CustomerScore> {
        let range = self.window(query.window);
        if query.limit == 0 || range.is_empty() {
            return Vec::new();
        }
        let best = with_zeroed(&COUNTS, self.dir.len(), |counts| {
            self.count_scores(range.clone(), counts);
            let mut best = Best::new(query.limit);
            let placeholder = &self.dir.placeholder;
            if range.len() < counts.len() {
                // Few events: visit only the customers that have some, zeroing each visited.
                for &c in &self.cols.customer[range] {
                    let d = c as usize;
                    let score = std::mem::take(&mut counts[d]);
                    if !placeholder[d] {
                        best.offer(score, || self.dir.id(c));
                    }
                }
            } else {
                for (d, (&score, &skip)) in counts.iter().zip(placeholder).enumerate() {
                    if !skip {
                        best.offer(score, || self.dir.id(d as u32));
                    }
                }
            }
            best
        });
        best.into_scores()
    }

    /// See [`EventStore::customer_rank`](engagement_core::EventStore::customer_rank).
    fn customer_rank(&self, window: TimeWindow, customer: CustomerId) -> Option<RankedScore> {
        let d = self.dir.dense(customer)?;
        if self.dir.placeholder[d as usize] {
            return None;
        }
        let range = self.window(window);
        let own = self
            .postings_in(d, &range)
            .iter()
            .filter(|&&p| self.cols.flags(p as usize).by_customer())
            .count() as u32;
        if own == 0 {
            return None;
        }
        let ahead = with_zeroed(&COUNTS, self.dir.len(), |counts| {
            self.count_scores(range, counts);
            counts
                .iter()
                .enumerate()
                .filter(|&(other, &score)| {
                    !self.dir.placeholder[other]
                        && ranking_order(&(score, self.dir.id(other as u32)), &(own, customer))
                            .is_lt()
                        && score > 0
                })
                .count() as u64
        });
        Some(RankedScore {
            rank: ahead + 1,
            score: u64::from(own),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::{Actor, Customer, Event, Timestamp};

    use crate::directory::Record;

    fn window(from: i64, to: i64) -> TimeWindow {
        TimeWindow::new(Timestamp::from_micros(from), Timestamp::from_micros(to)).unwrap()
    }

    fn workspace() -> Workspace {
        let mut ws = Workspace::default();
        let mut events = Vec::new();
        // Customer c has c events at times 0..c; customer 9 is a placeholder, 8 acts as staff.
        for c in 1..=9i64 {
            for t in 0..c {
                let mut e = Event::new(
                    format!("{c}-{t}"),
                    CustomerId(c),
                    "X",
                    Timestamp::from_micros(t),
                );
                if c == 8 {
                    e.actor = Actor::Staff;
                }
                events.push(e);
            }
        }
        // A tie with customer 5 on 5 events.
        for t in 0..5 {
            events.push(Event::new(
                format!("t{t}"),
                CustomerId(0),
                "X",
                Timestamp::from_micros(t),
            ));
        }
        ws.append(&events).unwrap();
        let mut admin = Customer::new(CustomerId(9), "A", "B");
        admin.is_admin_placeholder = true;
        ws.dir.upsert(Record::new(admin));
        ws
    }

    #[test]
    fn top_customers_orders_ties_and_excludes() {
        let ws = workspace();
        let q = |limit, w| ws.top_customers(&TopCustomersQuery { window: w, limit });
        let got: Vec<_> = q(4, window(0, 100))
            .iter()
            .map(|s| (s.customer.0, s.score))
            .collect();
        assert_eq!(got, [(7, 7), (6, 6), (0, 5), (5, 5)]);
        let got: Vec<_> = q(100, window(4, 5))
            .iter()
            .map(|s| (s.customer.0, s.score))
            .collect();
        assert_eq!(got, [(0, 1), (5, 1), (6, 1), (7, 1)]);
        assert!(q(0, window(0, 100)).is_empty());
        assert!(q(5, window(50, 60)).is_empty());
    }

    #[test]
    fn rank_matches_the_full_ranking() {
        let ws = workspace();
        let w = window(0, 100);
        let full = ws.top_customers(&TopCustomersQuery {
            window: w,
            limit: 1000,
        });
        for (i, s) in full.iter().enumerate() {
            assert_eq!(
                ws.customer_rank(w, s.customer),
                Some(RankedScore {
                    rank: i as u64 + 1,
                    score: s.score
                })
            );
        }
        assert_eq!(ws.customer_rank(w, CustomerId(9)), None);
        assert_eq!(ws.customer_rank(w, CustomerId(8)), None);
        assert_eq!(ws.customer_rank(w, CustomerId(42)), None);
    }
}
