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
    pub(crate) fn push(&mut self, (workspace, events): Batch) {
        self.events += events.len();
        if let Some((last_workspace, last)) = self.batches.back_mut()
            && *last_workspace == workspace
            && last.len() + events.len() <= self.max_events
        {
            // Room for a whole joined batch at once: growing by doubling would copy the
            // events joined so far again at every step.
            last.reserve_exact(self.max_events - last.len());
            last.extend(events);
            return;
        }
        self.batches.push_back((workspace, events));
    }

    /// The oldest waiting batch.
    pub(crate) fn pop(&mut self) -> Option<Batch> {
        let batch = self.batches.pop_front()?;
        self.events -= batch.1.len();
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
    use crate::model::event::Event;
    use crate::model::ids::{CustomerId, WorkspaceId};
    use crate::time::Timestamp;

    fn batch(workspace: &str, ids: std::ops::Range<usize>) -> Batch {
        let events = ids
            .map(|i| Event::new(format!("e{i}"), CustomerId(1), "X", Timestamp::EPOCH))
            .collect();
        (WorkspaceId::new(workspace).unwrap(), events)
    }

    fn popped(waiting: &mut Waiting) -> Vec<(String, Vec<String>)> {
        std::iter::from_fn(|| waiting.pop())
            .map(|(ws, events)| {
                let ids = events.iter().map(|e| e.id.as_str().to_owned()).collect();
                (ws.as_str().to_owned(), ids)
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
}
