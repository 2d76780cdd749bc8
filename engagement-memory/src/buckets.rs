//! Bucket counts (sparklines): per-customer postings cut at the bucket edges.

use std::ops::Range;

use engagement_core::{BucketCount, BucketCountsQuery, Timestamp};

use crate::workspace::Workspace;

impl Workspace {
    /// See [`EventStore::bucket_counts`](engagement_core::EventStore::bucket_counts).
    ///
    /// An event counts in the first bucket `[edges[i], edges[i + 1])` holding it; with ascending
    /// edges the buckets are disjoint and each is one slice of the customer's postings.
    pub(crate) fn bucket_counts(&self, query: &BucketCountsQuery) -> Vec<BucketCount> {
        let edges = &query.edges;
        let ascending: Option<Vec<Range<usize>>> = edges.is_sorted().then(|| {
            edges
                .windows(2)
                .map(|w| self.cols.time_range(w[0].as_micros(), w[1].as_micros()))
                .collect()
        });
        let mut named = vec![false; self.dict.names.len()];
        for name in &query.names {
            if let Some(i) = self.dict.names.lookup(name) {
                named[i as usize] = true;
            }
        }
        let counts = |p: &&u32| {
            let p = **p as usize;
            self.cols.flags(p).by_customer() && named[self.cols.name[p] as usize]
        };
        let mut customers: Vec<_> = query
            .customers
            .iter()
            .filter_map(|&c| Some((c, self.dir.dense(c)?)))
            .collect();
        customers.sort_unstable();
        customers.dedup();
        let mut cells = Vec::new();
        let mut per_bucket = vec![0u64; edges.len().saturating_sub(1)];
        for (customer, d) in customers {
            per_bucket.fill(0);
            match &ascending {
                Some(ranges) => {
                    for (slot, range) in per_bucket.iter_mut().zip(ranges) {
                        *slot = self.postings_in(d, range).iter().filter(counts).count() as u64;
                    }
                }
                None => {
                    for &p in self.dir.postings[d as usize].iter().filter(counts) {
                        let at = Timestamp::from_micros(self.cols.at[p as usize]);
                        if let Some(b) = edges.windows(2).position(|w| w[0] <= at && at < w[1]) {
                            per_bucket[b] += 1;
                        }
                    }
                }
            }
            cells.extend(per_bucket.iter().enumerate().filter(|(_, n)| **n > 0).map(
                |(bucket, &count)| BucketCount {
                    customer,
                    bucket,
                    count,
                },
            ));
        }
        cells
    }
}
