//! Retention and erasure: removing events (and a record) and renumbering every index.

use engagement_core::{PurgeOutcome, PurgeScope};

use crate::workspace::Workspace;

impl Workspace {
    /// The number of events before `cutoff`, which are a prefix of the log.
    fn before(&self, cutoff: engagement_core::Timestamp) -> u32 {
        self.cols.at.partition_point(|&t| t < cutoff.as_micros()) as u32
    }

    /// What [`purge`](Self::purge) would remove.
    pub(crate) fn purge_count(&self, scope: PurgeScope) -> PurgeOutcome {
        match scope {
            PurgeScope::Before { cutoff } => PurgeOutcome {
                events: u64::from(self.before(cutoff)),
                customers: 0,
            },
            PurgeScope::Customer { customer } => match self.dir.dense(customer) {
                None => PurgeOutcome::default(),
                Some(d) => PurgeOutcome {
                    events: self.dir.postings[d as usize].len() as u64,
                    customers: u64::from(self.dir.record(d).is_some()),
                },
            },
        }
    }

    /// See [`EventStore::purge`](engagement_core::EventStore::purge). The memory backend removes
    /// everything in one step under its write lock, so there is no partial state to resume.
    pub(crate) fn purge(&mut self, scope: PurgeScope) -> PurgeOutcome {
        let outcome = self.purge_count(scope);
        match scope {
            PurgeScope::Before { cutoff } => {
                let cut = self.before(cutoff);
                if cut > 0 {
                    self.remove(|p| p < cut, |p| p.min(cut));
                }
            }
            PurgeScope::Customer { customer } => {
                if let Some(d) = self.dir.dense(customer) {
                    self.dir.remove_record(d);
                    let gone = std::mem::take(&mut self.dir.postings[d as usize]);
                    if !gone.is_empty() {
                        self.remove(
                            |p| gone.binary_search(&p).is_ok(),
                            |p| gone.partition_point(|&g| g < p) as u32,
                        );
                    }
                }
            }
        }
        outcome
    }

    /// Removes the events at the positions `removed` accepts; `removed_before(p)` counts them
    /// below `p`.
    fn remove(&mut self, removed: impl Fn(u32) -> bool, removed_before: impl Fn(u32) -> u32) {
        self.cols.retain(&|p| !removed(p as u32));
        self.dir.renumber(removed, removed_before);
    }
}
