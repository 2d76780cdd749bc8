//! Closed batches waiting for an append to end, joined while they wait: pure bookkeeping.

use std::collections::VecDeque;

use super::batcher::Batch;

/// Closed batches waiting for an append slot, oldest first.
///
/// A batch that closes joins the last one waiting when both are of one workspace and fit in
/// `max_events` together: its events would wait for a slot anyway, and a store that has
/// fallen behind takes one larger append (one transaction, one commit) faster than several
/// small ones.
#[derive(Debug)]
pub(crate) struct Waiting {
    batches: VecDeque<Batch>,
    events: usize,
    max_events: usize,
}

impl Waiting {
    pub(crate) fn new(max_events: usize) -> Self {
        Self {
            batches: VecDeque::new(),
            events: 0,
            max_events,
        }
    }

    /// Adds a closed batch, joined to the last one waiting when it can be.
    pub(crate) fn push(&mut self, batch: Batch) {
        self.events += batch.events.len();
        if let Some(last) = self.batches.back_mut()
            && last.workspace == batch.workspace
            && last.events.len() + batch.events.len() <= self.max_events
        {
            // Grown by doubling (amortized), for the events joined only: reserving a whole
            // joined batch would cost every batch joined once `max_joined_batch` events.
            last.events.reserve(batch.events.len());
            last.events.extend(batch.events);
            last.senders.join(batch.senders);
            return;
        }
        self.batches.push_back(batch);
    }

    /// The waiting batch `at` places after the oldest, left waiting.
    pub(crate) fn get(&self, at: usize) -> Option<&Batch> {
        self.batches.get(at)
    }

    /// Takes the waiting batch `at` places after the oldest.
    pub(crate) fn take(&mut self, at: usize) -> Option<Batch> {
        let batch = self.batches.remove(at)?;
        self.events -= batch.events.len();
        Some(batch)
    }

    /// Whether more events wait than one joined batch holds: the worker then waits for
    /// appends to end before it takes more events off the queue.
    pub(crate) fn is_over(&self) -> bool {
        self.events > self.max_events
    }

    /// Events waiting.
    pub(crate) fn events(&self) -> usize {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::senders::{SenderId, Senders};
    use crate::model::event::Event;
    use crate::model::ids::{CustomerId, WorkspaceId};
    use crate::time::Timestamp;

    fn batch(workspace: &str, ids: std::ops::Range<usize>) -> Batch {
        let events = ids
            .map(|i| Event::new(format!("e{i}"), CustomerId(1), "X", Timestamp::EPOCH))
            .collect();
        Batch {
            workspace: WorkspaceId::new(workspace).unwrap(),
            events,
            senders: Senders::default(),
        }
    }

    fn popped(waiting: &mut Waiting) -> Vec<(String, Vec<String>)> {
        std::iter::from_fn(|| waiting.take(0))
            .map(|batch| {
                let ids = batch.events.iter().map(|e| e.id.as_str().to_owned());
                (batch.workspace.as_str().to_owned(), ids.collect())
            })
            .collect()
    }

    fn ids(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("e{i}")).collect()
    }

    #[test]
    fn batches_of_one_workspace_join_in_order_up_to_the_limit() {
        let mut waiting = Waiting::new(5);
        waiting.push(batch("a", 0..2));
        waiting.push(batch("a", 2..4));
        assert!(!waiting.is_over());
        waiting.push(batch("a", 4..6));
        assert_eq!(waiting.events(), 6);
        assert!(waiting.is_over(), "6 events wait, one append takes 5");
        assert_eq!(
            popped(&mut waiting),
            [("a".to_owned(), ids(0..4)), ("a".to_owned(), ids(4..6))]
        );
        assert_eq!(waiting.events(), 0);
    }

    #[test]
    fn a_batch_joins_only_the_last_one_and_only_of_its_workspace() {
        let mut waiting = Waiting::new(10);
        waiting.push(batch("a", 0..2));
        waiting.push(batch("b", 2..4));
        waiting.push(batch("a", 4..6));
        waiting.push(batch("a", 6..7));
        assert_eq!(
            popped(&mut waiting),
            [
                ("a".to_owned(), ids(0..2)),
                ("b".to_owned(), ids(2..4)),
                ("a".to_owned(), ids(4..7))
            ]
        );
    }

    #[test]
    fn a_joined_batch_keeps_whose_events_it_holds() {
        let (a, b) = (SenderId(1), SenderId(2));
        let mut waiting = Waiting::new(10);
        for (sender, ids) in [(a, 0..2), (b, 2..5)] {
            let mut sent = batch("a", ids);
            sent.senders.add(sender, sent.events.len());
            waiting.push(sent);
        }
        let joined = waiting.take(0).expect("one joined batch");
        assert_eq!(joined.senders.totals(), [(a, 2), (b, 3)]);
    }
}
