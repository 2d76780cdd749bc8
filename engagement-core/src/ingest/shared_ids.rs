//! The event ids of the batches being appended, so that a batch sharing an id with one in
//! flight waits for it to end: pure bookkeeping.
//!
//! A store keeps the first write of an id it stores and reports a later one with another
//! payload as a conflict. Appends of batches in flight together race to each id, though (on
//! PostgreSQL the later batch's insert may take the id first and the earlier one's then waits
//! and finds it taken), so the first write *sent* would not always be the one kept. Batches
//! sharing no id still overlap: ids are compared by their fingerprints (a 64-bit hash), and
//! a fingerprint shared by two different ids only makes a batch wait when it need not.

use std::collections::HashMap;
use std::hash::BuildHasher;

use tokio::task;

use crate::model::event::Event;
use crate::model::ids::WorkspaceId;

/// The sorted, distinct fingerprints of the ids of `events`.
pub(crate) fn fingerprints(events: &[Event]) -> Box<[u64]> {
    let hasher = foldhash::fast::FixedState::default();
    let mut prints: Vec<u64> = events
        .iter()
        .map(|e| hasher.hash_one(e.id.as_str()))
        .collect();
    prints.sort_unstable();
    prints.dedup();
    prints.into_boxed_slice()
}

/// The fingerprints of the batches being appended, by their append task.
#[derive(Debug, Default)]
pub(crate) struct IdsInFlight {
    batches: HashMap<task::Id, (WorkspaceId, Box<[u64]>)>,
}

impl IdsInFlight {
    /// Whether a batch of `workspace` whose ids have the fingerprints `prints` shares one
    /// with a batch being appended.
    pub(crate) fn shares_an_id(&self, workspace: &WorkspaceId, prints: &[u64]) -> bool {
        self.batches
            .values()
            .any(|(theirs, their_prints)| theirs == workspace && intersect(prints, their_prints))
    }

    /// Notes the batch the append task `task` writes.
    pub(crate) fn insert(&mut self, task: task::Id, workspace: WorkspaceId, prints: Box<[u64]>) {
        self.batches.insert(task, (workspace, prints));
    }

    /// Forgets the batch of the append task `task`, which has ended.
    pub(crate) fn remove(&mut self, task: task::Id) {
        self.batches.remove(&task);
    }
}

/// Whether the sorted slices `a` and `b` have a value in common.
fn intersect(a: &[u64], b: &[u64]) -> bool {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => drop(a.next()),
            std::cmp::Ordering::Greater => drop(b.next()),
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::CustomerId;
    use crate::time::Timestamp;

    fn events(ids: &[&str]) -> Vec<Event> {
        ids.iter()
            .map(|id| Event::new(*id, CustomerId(1), "X", Timestamp::EPOCH))
            .collect()
    }

    #[test]
    fn sorted_slices_intersect_only_on_a_common_value() {
        assert!(intersect(&[1, 4, 9], &[2, 4]));
        assert!(!intersect(&[1, 3, 9], &[2, 4, 8, 10]));
        assert!(!intersect(&[], &[1]));
    }

    #[tokio::test]
    async fn a_batch_shares_an_id_only_with_one_of_its_workspace_in_flight() {
        let (a, b) = (
            WorkspaceId::new("a").unwrap(),
            WorkspaceId::new("b").unwrap(),
        );
        let task = tokio::spawn(async {});
        let mut in_flight = IdsInFlight::default();
        in_flight.insert(task.id(), a.clone(), fingerprints(&events(&["e1", "e2"])));
        assert!(in_flight.shares_an_id(&a, &fingerprints(&events(&["e9", "e2"]))));
        assert!(!in_flight.shares_an_id(&a, &fingerprints(&events(&["e3", "e4"]))));
        assert!(!in_flight.shares_an_id(&b, &fingerprints(&events(&["e1"]))));
        in_flight.remove(task.id());
        assert!(!in_flight.shares_an_id(&a, &fingerprints(&events(&["e1"]))));
    }
}
