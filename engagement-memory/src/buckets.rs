//! Bucket counts (sparklines): per-customer postings cut at the bucket edges.

use engagement_core::{BucketCount, BucketCountsQuery};

use crate::workspace::Workspace;

impl Workspace {
    /// See [`EventStore::bucket_counts`](engagement_core::EventStore::bucket_counts).
    pub(crate) fn bucket_counts(&self, query: &BucketCountsQuery) -> Vec<BucketCount> {
        let buckets: Vec<_> = query
            .edges
            .windows(2)
            .map(|w| self.cols.time_range(w[0].as_micros(), w[1].as_micros()))
            .collect();
        let mut named = vec![false; self.dict.names.len()];
        for name in &query.names {
            if let Some(i) = self.dict.names.lookup(name) {
                named[i as usize] = true;
            }
        }
        let mut customers: Vec<_> = query
            .customers
            .iter()
            .filter_map(|&c| Some((c, self.dir.dense(c)?)))
            .collect();
        customers.sort_unstable();
        customers.dedup();
        let mut cells = Vec::new();
        if !named.contains(&true) {
            return cells;
        }
        for (customer, d) in customers {
            for (bucket, range) in buckets.iter().enumerate() {
                let count = self
                    .postings_in(d, range)
                    .iter()
                    .filter(|&&p| {
                        let p = p as usize;
                        self.cols.flags(p).by_customer() && named[self.cols.name[p] as usize]
                    })
                    .count() as u64;
                if count > 0 {
                    cells.push(BucketCount {
                        customer,
                        bucket,
                        count,
                    });
                }
            }
        }
        cells
    }
}
